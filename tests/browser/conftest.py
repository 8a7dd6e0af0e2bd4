"""Browser fixtures: Debian's Chromium driven by Playwright, and servers on 127.0.0.1.

The tests skip only where /usr/bin/chromium is absent and JOTAUTH_REQUIRE_SERVICES is not "1";
in CI a missing browser fails the run. Every page is watched: a JavaScript error fails the test,
and so does any request to another origin than the server under test (tokens and keys must
never leave the page).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from playwright.sync_api import expect
from tests.browser_support import ThreadServer, launch_chromium

from jotauth import jose
from jotauth.tools.web import router as tools_router


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium per module.

    Not per session: the sync Playwright API keeps an event loop running in the main thread
    while it is started, which would break every anyio test collected after the browser tests.
    """
    with launch_chromium() as chromium:
        yield chromium


@dataclass
class Watched:
    """A page plus what it did: JS errors, console errors and every request URL."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    expect_csp_violations: bool = False

    def on_console(self, message: Any) -> None:
        if not _is_error(message):
            return
        if self.expect_csp_violations and "Content Security Policy" in message.text:
            return
        self.errors.append(f"console: {message.text}")

    def requests_outside(self, origin: str) -> list[str]:
        return [url for url in self.requests if not url.startswith((origin + "/", "data:"))]


def _is_error(message: Any) -> bool:
    """Console errors, except the browser's own note on a deliberate 401 (the demo shows them)."""
    if message.type != "error":
        return False
    return "the server responded with a status of 401" not in message.text


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    """A fresh browser context and page; fails the test on any JavaScript error."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = Watched(page)
    page.on("pageerror", lambda exc: watched.errors.append(f"pageerror: {exc}"))
    page.on("console", watched.on_console)
    page.on("request", lambda request: watched.requests.append(request.url))
    yield watched
    context.close()
    assert watched.errors == []


@pytest.fixture(scope="session")
def thread_server() -> type[ThreadServer]:
    """The ThreadServer class, as a fixture so test modules need no import from conftest."""
    return ThreadServer


def run_demo_flow(watched: Watched, origin: str, username: str, password: str) -> None:
    """Drive /demo through the tutorial's flow and check each step's visible result."""
    page = watched.page
    page.goto(origin + "/demo")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_selector("#login-result[data-status=valid]")
    page.wait_for_selector("#access-verified[data-status=valid]")
    claims = page.text_content("#access-claims") or ""
    assert '"sub"' in claims
    assert '"jti"' in claims
    assert (page.text_content("#access-expiry") or "").startswith("Expires in")

    page.click("#profile")
    page.wait_for_selector("#profile-result[data-status=valid]")
    assert f"Welcome, {username}!" in (page.text_content("#profile-result") or "")

    first = page.text_content("#access-token")
    page.click("#refresh")
    page.wait_for_selector("#refresh-result[data-status=valid]")
    expect(page.locator("#access-token")).not_to_have_text(first or "")
    page.wait_for_selector("#access-verified[data-status=valid]")

    page.click("#logout")
    page.wait_for_selector("#logout-result[data-status=valid]")
    page.click("#profile")
    page.wait_for_selector("#profile-result[data-status=invalid]")
    assert (page.text_content("#profile-result") or "").startswith("401")
    page.click("#refresh")
    page.wait_for_selector("#refresh-result[data-status=invalid]")
    assert watched.requests_outside(origin) == []


@pytest.fixture(scope="session")
def demo_flow() -> Any:
    """The demo flow driver, as a fixture so test modules need no import from conftest."""
    return run_demo_flow


@pytest.fixture(scope="module")
def signing_key() -> jose.Key:
    """The key the debugger tests sign with, published by ``server``'s JWKS."""
    return jose.Key.generate("EdDSA")


@pytest.fixture(scope="module")
def server(signing_key: jose.Key, thread_server: type[ThreadServer]) -> Iterator[Any]:
    """The tools router plus a JWKS, like the auth server publishes, on a free port."""
    app = FastAPI()
    app.include_router(tools_router)
    jwks = jose.KeySet([signing_key.public()]).to_jwks()

    @app.get("/.well-known/jwks.json")
    def well_known() -> JSONResponse:
        return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})

    with thread_server(app) as running:
        yield running
