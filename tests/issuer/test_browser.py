"""CORS and browser mode in a real Chromium: the app page on one origin, the auth server on another.

This is the tutorial's "works in Postman, fails in the browser" as a browser actually sees it,
and the cookie + CSRF flow with the browser's own cookie rules (HttpOnly hidden from scripts,
cookies sent with ``credentials: "include"``).
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from tests.browser_support import ThreadServer, launch_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def app_page(chromium: Any) -> Iterator[tuple[Any, str]]:
    """A page loaded from the browser app's own origin, and that origin."""
    site = FastAPI()

    @site.get("/")
    def index() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>app</title><p>app</p>")

    with ThreadServer(site) as served:
        context = chromium.new_context()
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(served.origin + "/")
        yield page, served.origin
        context.close()


LOGIN_JS = """async ([url, extra]) => {
  try {
    const r = await fetch(url + "/login", {
      method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json", ...extra},
      body: JSON.stringify({username: "john", password: "password123"}),
    });
    return {status: r.status, body: await r.json()};
  } catch (e) { return {error: String(e)}; }
}"""


def test_postman_works_but_the_browser_is_refused_without_cors(
    app_page: tuple[Any, str], make_app: Callable[..., FastAPI]
) -> None:
    """Without JOTAUTH_CORS_ORIGINS, a direct POST works and the browser's fetch fails."""
    import httpx

    page, _ = app_page
    with ThreadServer(make_app()) as auth:
        direct = httpx.post(
            auth.origin + "/login", json={"username": "john", "password": "password123"}
        )
        assert direct.status_code == 200  # Postman / curl
        result = page.evaluate(LOGIN_JS, [auth.origin, {}])
    assert "Failed to fetch" in result["error"]


def test_the_configured_origin_passes_in_the_browser(
    app_page: tuple[Any, str], make_app: Callable[..., FastAPI]
) -> None:
    """With the app's origin listed, the same fetch gets the tokens."""
    page, origin = app_page
    with ThreadServer(make_app(cors_origins=(origin,))) as auth:
        result = page.evaluate(LOGIN_JS, [auth.origin, {}])
    assert result["status"] == 200
    assert result["body"]["token_type"] == "Bearer"


def test_browser_mode_cookies_and_csrf_in_chromium(
    app_page: tuple[Any, str], make_app: Callable[..., FastAPI]
) -> None:
    """Login sets cookies scripts cannot read; /me works with them; logout needs the CSRF token."""
    page, origin = app_page
    app = make_app(cors_origins=(origin,), cookie_mode="on", cookie_insecure_dev=True)
    with ThreadServer(app) as auth:
        login = page.evaluate(LOGIN_JS, [auth.origin, {"X-Token-Delivery": "cookie"}])
        assert login["status"] == 200
        assert "access_token" not in login["body"]
        visible = page.evaluate("() => document.cookie")
        assert "access_token" not in visible  # HttpOnly: out of reach of any script
        assert f"csrf_token={login['body']['csrf_token']}" in visible
        flow = page.evaluate(
            """async (url) => {
              const csrf = document.cookie.split("; ").find(c => c.startsWith("csrf_token="))
                .split("=")[1];
              const me = await fetch(url + "/me", {credentials: "include"});
              const forged = await fetch(url + "/logout", {method: "POST", credentials: "include"});
              const out = await fetch(url + "/logout", {
                method: "POST", credentials: "include", headers: {"X-CSRF-Token": csrf}});
              const after = await fetch(url + "/me", {credentials: "include"});
              return [me.status, (await me.json()).username, forged.status, out.status,
                      after.status];
            }""",
            auth.origin,
        )
    assert flow == [200, "john", 403, 200, 401]
