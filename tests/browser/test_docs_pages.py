"""The landing page and /docs in Chromium, against the real auth server, with no other origin.

Every request that does not go to the server under test is aborted and recorded, so a page
that still needed a CDN would show up twice: as a blank page (no operations rendered) and as
a recorded request. A Content-Security-Policy violation is a console error, which fails the
test too (the ``watched`` fixture), so the pages render under the server's own policies.
"""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser_support import ThreadServer

from jotauth.issuer.app import create_app
from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.browser


@dataclass
class Served:
    """The running server: its origin and its app."""

    origin: str
    app: Any


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The auth server (create_app, production mode) on a free 127.0.0.1 port.

    The port is chosen first and the app made for it, so its issuer is its real origin.
    """
    made: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await made["app"](scope, receive, send)

    running = ThreadServer(app)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('docs') / 'jotauth.db'}",
        issuer=running.origin,
        mode="production",
        master_key=secrets.token_bytes(32),
        argon2_time_cost=1,
        argon2_memory_cost=64,
        argon2_parallelism=1,
    )
    made["app"] = create_app(settings)
    with running:
        yield Served(running.origin, made["app"])
    made["app"].state.store.close()


def _cut_off_other_origins(page: Any, origin: str) -> list[str]:
    """Abort every request not to ``origin``; the returned list fills with their URLs."""
    outside: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(origin + "/"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", route)
    return outside


def test_docs_render_every_operation_with_no_other_origin(watched: Any, server: Served) -> None:
    """/docs shows the operations from /openapi.json with nothing fetched off the server."""
    page = watched.page
    outside = _cut_off_other_origins(page, server.origin)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(server.origin + "/docs")
    page.wait_for_selector(".opblock")
    operations = sum(len(item) for item in server.app.openapi()["paths"].values())
    expect(page.locator(".opblock")).to_have_count(operations)
    expect(page.locator(".opblock-summary-description").first).to_have_text(
        "Log in with a username and password"
    )
    expect(page.locator(".btn.authorize")).to_be_visible()  # the bearer scheme
    page.locator(".opblock-summary", has_text="/admin/users").first.click()
    page.wait_for_selector(".opblock.is-open .responses-table")
    assert outside == []
    assert watched.requests_outside(server.origin) == []


def test_landing_page_links_the_pages(watched: Any, server: Served) -> None:
    """/ says what the server is; its API docs link opens a rendered /docs."""
    page = watched.page
    outside = _cut_off_other_origins(page, server.origin)
    page.goto(server.origin + "/")
    expect(page.locator("h1")).to_have_text("jotauth")
    expect(page.locator("p").first).to_contain_text("A JWT authentication server")
    hrefs = page.locator("li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [
        "/docs",
        "/demo",
        "/debugger",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ]
    # The inline stylesheet applied (its hash is in the policy): links are bold.
    assert page.locator("li a").first.evaluate("a => getComputedStyle(a).fontWeight") == "600"
    page.click("text=API docs")
    page.wait_for_selector(".opblock")
    assert page.url == server.origin + "/docs"
    assert outside == []
    assert watched.requests_outside(server.origin) == []
