"""App A: a server-rendered web app that signs its users in through jotauth with Authlib.

    JOTAUTH_ISSUER=http://127.0.0.1:8000 WEB_APP_CLIENT_ID=web-app \\
    WEB_APP_CLIENT_SECRET=<the secret `jotauth client add` printed> \\
    python examples/sso/web_app.py --port 8003

Nothing here is jotauth's code: Authlib's Starlette OAuth client reads the issuer's
discovery document, sends the browser to the login page with PKCE (S256), exchanges the code
as a confidential client (``client_secret_basic``) and checks the ID token against the
published keys. The tokens stay on this server (an in-memory table keyed by a random id in
the signed session cookie), never in the browser. ``/articles`` calls the articles API with
the access token; a refused token is tried once more after a refresh, and a refused refresh
(the user signed out elsewhere) signs the user out here too. ``/logout`` is RP-initiated
logout: ``end_session_endpoint`` with ``id_token_hint`` and ``post_logout_redirect_uri``.

Settings (environment, or the options of the same name):
JOTAUTH_ISSUER            the auth server (default http://127.0.0.1:8000)
WEB_APP_CLIENT_ID         its client_id (default web-app)
WEB_APP_CLIENT_SECRET     its client secret (required; environment only)
WEB_APP_URL               where this app is reached (default http://127.0.0.1:<port>)
WEB_APP_SESSION_SECRET    the session cookie's signing key (default: random per start)
ARTICLES_API              the articles API (default http://127.0.0.1:8001)
"""

import argparse
import html
import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]  # no stubs
    OAuth,
    OAuthError,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

SCOPE = "openid profile articles:read"


@dataclass(frozen=True)
class WebAppSettings:
    """What the app needs to know; read once at start."""

    issuer: str
    client_id: str
    client_secret: str
    url: str
    session_secret: str
    articles_api: str


def _page(title: str, body: str, issuer: str) -> HTMLResponse:
    # form-action also governs where a form's POST may redirect: /logout goes to the issuer.
    csp = f"default-src 'none'; form-action 'self' {issuer}; base-uri 'none'"
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} - App A</title></head><body><h1>App A</h1>{body}"
        '<nav><a href="/">Home</a> | <a href="/articles">Articles</a></nav></body></html>',
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def create_app(settings: WebAppSettings) -> Starlette:
    """The web app for ``settings``."""
    oauth = OAuth()
    oauth.register(
        "jotauth",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )
    provider: Any = oauth.jotauth

    def page(title: str, body: str) -> HTMLResponse:
        return _page(title, body, settings.issuer)

    # The tokens of each signed-in browser, by a random key the session cookie holds: the
    # cookie is signed, not encrypted, so it must not carry the tokens themselves. (In
    # memory for the example; a real app keeps them in its database, with their expiry.)
    tokens: dict[str, dict[str, Any]] = {}

    def signed_in(request: Request) -> dict[str, Any] | None:
        key = request.session.get("key")
        return tokens.get(key) if isinstance(key, str) else None

    def sign_out_here(request: Request) -> dict[str, Any] | None:
        key = request.session.pop("key", None)
        return tokens.pop(key, None) if isinstance(key, str) else None

    async def home(request: Request) -> Response:
        token = signed_in(request)
        if token is None:
            return page(
                "Home",
                '<p id="status" data-signed-in="false">You are not signed in.</p>'
                '<p><a id="login" href="/login">Sign in with jotauth</a></p>',
            )
        name = token["userinfo"].get("preferred_username") or token["userinfo"]["sub"]
        return page(
            "Home",
            f'<p id="status" data-signed-in="true">Signed in as <b>{html.escape(name)}</b>.</p>'
            # A POST: a link or an image elsewhere cannot sign the user out.
            '<form method="post" action="/logout"><button id="logout">Sign out</button></form>',
        )

    async def login(request: Request) -> Response:
        response: Response = await provider.authorize_redirect(request, settings.url + "/callback")
        return response

    async def callback(request: Request) -> Response:
        metadata = await provider.load_server_metadata()
        error = request.query_params.get("error")
        if error is not None:
            return page("Sign-in failed", f'<p id="error">{html.escape(error)}</p>')
        # RFC 9207: the answer must come from the issuer the request went to (mix-up defence).
        if request.query_params.get("iss") != metadata["issuer"]:
            return page("Sign-in failed", '<p id="error">the answer names another issuer</p>')
        try:
            token: dict[str, Any] = await provider.authorize_access_token(request)
        except OAuthError as exc:
            return page("Sign-in failed", f'<p id="error">{html.escape(exc.error)}</p>')
        sign_out_here(request)
        key = secrets.token_urlsafe(32)
        tokens[key] = token
        request.session["key"] = key
        return RedirectResponse("/", status_code=303)

    async def articles(request: Request) -> Response:
        token = signed_in(request)
        if token is None:
            return page(
                "Articles",
                '<p id="result" data-status="signed-out">You are not signed in. '
                '<a href="/login">Sign in</a></p>',
            )
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(
                settings.articles_api + "/articles",
                headers={"Authorization": "Bearer " + token["access_token"]},
            )
        if answer.status_code == 200:
            titles = "".join(
                f"<li>{html.escape(str(item['title']))}</li>" for item in answer.json()["articles"]
            )
            return page("Articles", f'<ul id="result" data-status="ok">{titles}</ul>')
        refusal = (
            f'<p id="result" data-status="refused">The articles API refused the token: '
            f"{answer.status_code} <code>{html.escape(answer.headers.get('www-authenticate', ''))}"
            "</code></p>"
        )
        try:  # one refresh: a token revoked by a logout elsewhere cannot be refreshed either
            fresh = await provider.fetch_access_token(
                grant_type="refresh_token", refresh_token=token["refresh_token"]
            )
        except OAuthError as exc:
            sign_out_here(request)
            return page(
                "Articles",
                refusal + f'<p id="refresh" data-status="refused">Refreshing failed '
                f"({html.escape(exc.error)}): you are signed out here too. "
                '<a href="/login">Sign in again</a></p>',
            )
        token.update(access_token=fresh["access_token"], refresh_token=fresh["refresh_token"])
        return page(
            "Articles",
            refusal + '<p id="refresh" data-status="ok">Refreshed the token: '
            '<a href="/articles">try again</a></p>',
        )

    async def logout(request: Request) -> Response:
        token = sign_out_here(request)
        if token is None:
            return RedirectResponse("/", status_code=303)
        metadata = await provider.load_server_metadata()
        state = secrets.token_urlsafe(16)
        request.session["logout_state"] = state
        query = urlencode(
            {
                "id_token_hint": token["id_token"],
                "post_logout_redirect_uri": settings.url + "/signed-out",
                "state": state,
            }
        )
        return RedirectResponse(f"{metadata['end_session_endpoint']}?{query}", status_code=303)

    async def signed_out(request: Request) -> Response:
        expected = request.session.pop("logout_state", None)
        if not expected or not secrets.compare_digest(
            request.query_params.get("state", ""), expected
        ):
            return page("Signed out", '<p id="error">unexpected logout answer</p>')
        return page(
            "Signed out",
            '<p id="status" data-signed-in="false">You are signed out of every application.</p>',
        )

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/callback", callback),
            Route("/articles", articles),
            Route("/logout", logout, methods=["POST"]),
            Route("/signed-out", signed_out),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=settings.session_secret,
                session_cookie="web_app_session",
                same_site="lax",  # the callback arrives by a redirect from the auth server
                https_only=settings.url.startswith("https://"),
            )
        ],
    )


def settings_from(args: argparse.Namespace) -> WebAppSettings:
    """Options first, then the environment, then the defaults of the README."""

    def value(option: str | None, name: str, default: str | None = None) -> str:
        found = option or os.environ.get(name) or default
        if not found:
            raise SystemExit(f"{name} is required")
        return found

    return WebAppSettings(
        issuer=value(args.issuer, "JOTAUTH_ISSUER", "http://127.0.0.1:8000").rstrip("/"),
        client_id=value(args.client_id, "WEB_APP_CLIENT_ID", "web-app"),
        client_secret=value(None, "WEB_APP_CLIENT_SECRET"),  # not an option: ps would show it
        url=value(args.url, "WEB_APP_URL", f"http://127.0.0.1:{args.port}").rstrip("/"),
        session_secret=value(None, "WEB_APP_SESSION_SECRET", secrets.token_urlsafe(32)),
        articles_api=value(args.articles_api, "ARTICLES_API", "http://127.0.0.1:8001"),
    )


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--issuer")
    parser.add_argument("--client-id")
    parser.add_argument("--url")
    parser.add_argument("--articles-api")
    args = parser.parse_args()
    uvicorn.run(create_app(settings_from(args)), host="127.0.0.1", port=args.port)
