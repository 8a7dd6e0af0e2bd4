"""Real browsers and real servers for the suites that test pages and CORS in Chromium.

Debian's Chromium driven by Playwright (its own browser download is not available here), and
ASGI apps served by uvicorn in a thread on 127.0.0.1. Where Chromium is absent the tests skip
with a message, unless ``JOTAUTH_REQUIRE_SERVICES=1`` (CI), where that is a failure.
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.serve_process import free_port

__all__ = ["CHROMIUM", "ThreadServer", "launch_chromium", "sign_in_on_login_page", "wait_for_port"]

CHROMIUM = os.environ.get("JOTAUTH_CHROMIUM", "/usr/bin/chromium")
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # this machine's closed network refuses Google's hosts
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """A headless Chromium; skip (or fail in CI) where it is not installed."""
    if not os.path.exists(CHROMIUM):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("JOTAUTH_REQUIRE_SERVICES") == "1":
            pytest.fail(message + "; JOTAUTH_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in_on_login_page(tab: Any, url: str, username: str, password: str) -> bool:
    """Open the authorization ``url`` and sign in on the provider's login page, for the relying
    party tests; whether the login page was shown (it is not while an SSO session lives). Returns
    once the browser is on a page with ``#landed``: the relying party's callback page."""
    tab.goto(url)
    shown: bool = tab.locator("#password").is_visible()
    tab.fill("#username", username)
    tab.fill("#password", password)
    tab.click("button[type=submit]")
    tab.wait_for_selector("#landed")
    return shown


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Return once something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread, as a user would run it."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="none", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ThreadServer":
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
