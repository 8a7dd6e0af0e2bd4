"""App B's web server: the single-page app's static files, and nothing else.

    JOTAUTH_ISSUER=http://127.0.0.1:8000 python examples/sso/spa_server.py --port 8004

The app itself is ``spa/public`` (HTML and JavaScript run by the browser) with the
oidc-client-ts library from ``spa/node_modules`` (``npm install`` in ``examples/sso/spa``):
it signs in as a public client (code + PKCE), keeps its tokens in the tab's sessionStorage,
calls the articles API with the bearer token and signs out through the issuer's
``end_session_endpoint``. This server only tells it where the issuer and the API are
(``/config.json``) and sends a Content-Security-Policy that lets the page talk to those two
and load scripts from here only: nothing comes from a CDN.

Settings (environment, or the options of the same name):
JOTAUTH_ISSUER     the auth server (default http://127.0.0.1:8000)
SPA_CLIENT_ID      its client_id (default spa)
SPA_URL            where this app is reached (default http://127.0.0.1:<port>)
ARTICLES_API       the articles API (default http://127.0.0.1:8001)
SPA_NODE_MODULES   where `npm install` put oidc-client-ts (default examples/sso/spa/node_modules)
"""

import argparse
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).resolve().parent / "spa"
BUNDLE = Path("oidc-client-ts", "dist", "browser")  # the library's self-contained browser build


class SecurityHeaders:
    """The same headers on every answer: the CSP names the only origins the page may call."""

    def __init__(self, app: ASGIApp, connect: list[str]) -> None:
        self.app = app
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {' '.join(connect)}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    issuer: str, client_id: str, url: str, articles_api: str, node_modules: Path
) -> ASGIApp:
    """The static server of the single-page app."""
    library = node_modules / BUNDLE
    if not (library / "oidc-client-ts.min.js").is_file():
        raise SystemExit(f"oidc-client-ts is not in {node_modules}: run `npm install` in {HERE}")
    config = {
        "authority": issuer,
        "client_id": client_id,
        "redirect_uri": url + "/callback",
        "post_logout_redirect_uri": url + "/signed-out",
        "scope": "openid profile articles:read",
        "articles_api": articles_api,
    }

    async def config_json(request: Request) -> Response:
        return JSONResponse(config, headers={"Cache-Control": "no-store"})

    async def index(request: Request) -> Response:
        # The app's three addresses (home, callback, after logout) are one page.
        return FileResponse(HERE / "public" / "index.html", headers={"Cache-Control": "no-store"})

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/callback", index),
            Route("/signed-out", index),
            Route("/config.json", config_json),
            Mount("/lib", StaticFiles(directory=library)),
            Mount("/", StaticFiles(directory=HERE / "public")),
        ]
    )
    return SecurityHeaders(app, connect=[issuer, articles_api])


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8004)
    parser.add_argument("--issuer")
    parser.add_argument("--client-id")
    parser.add_argument("--url")
    parser.add_argument("--articles-api")
    args = parser.parse_args()
    app = create_app(
        issuer=(args.issuer or os.environ.get("JOTAUTH_ISSUER", "http://127.0.0.1:8000")).rstrip(
            "/"
        ),
        client_id=args.client_id or os.environ.get("SPA_CLIENT_ID", "spa"),
        url=(args.url or os.environ.get("SPA_URL", f"http://127.0.0.1:{args.port}")).rstrip("/"),
        articles_api=args.articles_api or os.environ.get("ARTICLES_API", "http://127.0.0.1:8001"),
        node_modules=Path(os.environ.get("SPA_NODE_MODULES", HERE / "node_modules")),
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
