"""The /demo page in Chromium: log in, see the token decoded and verified, call /profile,
refresh, log out — against a stand-in server that speaks the auth server's documented API.

test_demo_server.py runs the same flow against a real ``jotauth serve --demo`` process.
"""

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from playwright.sync_api import expect

from jotauth import jose
from jotauth.tools.web import router

pytestmark = pytest.mark.browser


def _error(status: int, code: str, text: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": text}, status_code=status)


def stand_in_app() -> FastAPI:
    """The auth server's contract for the demo routes, kept in memory."""
    key = jose.Key.generate("EdDSA")
    verifier = jose.Verifier(key.public(), typ="at+jwt", audience="demo", issuer="http://demo")
    refresh_tokens: dict[str, str] = {}
    denied: set[str] = set()
    app = FastAPI()
    app.include_router(router)

    def pair(sub: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": "http://demo", "aud": "demo", "sub": sub, "iat": now, "exp": now + 900,
                  "jti": secrets.token_urlsafe(8), "preferred_username": "john",
                  "scope": "articles:read", "roles": ["user"]}  # fmt: skip
        refresh = secrets.token_urlsafe(32)
        refresh_tokens[refresh] = sub
        return {
            "access_token": jose.encode(claims, key, headers={"typ": "at+jwt"}),
            "token_type": "Bearer",
            "expires_in": 900,
            "refresh_token": refresh,
            "refresh_expires_in": 86400,
        }

    def bearer(authorization: str | None) -> dict[str, Any] | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        try:
            claims = verifier.verify(authorization[7:])
        except jose.JoseError:
            return None
        return None if claims["jti"] in denied else claims

    @app.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return jose.KeySet([key.public()]).to_jwks()

    @app.post("/login")
    async def login(request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("username") != "john" or body.get("password") != "password123":
            return _error(401, "invalid_grant", "wrong username or password")
        return JSONResponse(pair("1"))

    @app.get("/profile")
    def profile(authorization: str | None = Header(default=None)) -> JSONResponse:
        claims = bearer(authorization)
        if claims is None:
            return _error(401, "invalid_token", "the access token is not valid")
        return JSONResponse({"message": f"Welcome, {claims['preferred_username']}!"})

    @app.post("/refresh")
    async def refresh(request: Request) -> JSONResponse:
        token = (await request.json()).get("refresh_token")
        sub = refresh_tokens.pop(token, None)
        if sub is None:
            return _error(401, "invalid_grant", "the refresh token is not valid")
        return JSONResponse(pair(sub))

    @app.post("/logout")
    async def logout(request: Request, authorization: str | None = Header(default=None)) -> Any:
        claims = bearer(authorization)
        if claims is None:
            return _error(401, "invalid_token", "the access token is not valid")
        denied.add(claims["jti"])
        refresh_tokens.pop((await request.json()).get("refresh_token"), None)
        return JSONResponse({}, status_code=200)

    return app


@pytest.fixture(scope="module")
def server(thread_server: Any) -> Iterator[Any]:
    with thread_server(stand_in_app()) as running:
        yield running


def test_demo_flow(watched: Any, server: Any, demo_flow: Any) -> None:
    """Log in, decode and verify, /profile, refresh, log out, /profile refused."""
    demo_flow(watched, server.origin, "john", "password123")


def test_wrong_password_is_shown(watched: Any, server: Any) -> None:
    """A failed login shows the server's error code and keeps no token."""
    page = watched.page
    page.goto(server.origin + "/demo")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#password", "wrong")
    page.click("#login")
    page.wait_for_selector("#login-result[data-status=invalid]")
    assert "401 invalid_grant" in page.text_content("#login-result")
    assert page.text_content("#access-token") == ""
    page.click("#refresh")
    assert "Log in first" in page.text_content("#refresh-result")


def test_enter_in_the_password_field_logs_in(watched: Any, server: Any) -> None:
    """The login is a real form: Enter submits it, by script, without reloading the page."""
    page = watched.page
    page.goto(server.origin + "/demo")
    page.wait_for_selector("body[data-ready=true]")
    page.evaluate("window.__same_page = true")
    page.fill("#password", "password123")
    page.press("#password", "Enter")
    page.wait_for_selector("#login-result[data-status=valid]")
    page.wait_for_selector("#access-verified[data-status=valid]")
    assert page.evaluate("window.__same_page") is True
    assert page.url == server.origin + "/demo"
    assert page.text_content("#log").count("POST /login") == 1
    page.press("#username", "Enter")
    expect(page.locator("#log li", has_text="POST /login")).to_have_count(2)
    assert watched.requests_outside(server.origin) == []
