"""``GET /``: a small landing page naming what this server is and where its pages are.

Server-rendered HTML with nothing to load: one inline stylesheet, allowed by its SHA-256 in
the page's own Content-Security-Policy (no script at all), and an empty ``data:`` icon so the
browser does not ask for /favicon.ico. The issuer URL is the only variable, HTML-escaped.
"""

import base64
import hashlib
import html
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

__all__ = ["LINKS", "router"]

router = APIRouter()

# (path, name, what it is): the order of the page.
LINKS: Final = (
    ("/docs", "API docs", "every route, with Try it out (Swagger UI)"),
    ("/demo", "Login demo", "the tutorial's flow: log in, call a protected route, refresh"),
    ("/debugger", "Token debugger", "decode, verify and build tokens in the browser"),
    ("/.well-known/openid-configuration", "Discovery", "where the endpoints and keys are"),
    ("/.well-known/jwks.json", "JWKS", "the public keys that verify this server's tokens"),
)

_STYLE: Final = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;"
    "color:#1b1f24;background:#fff}h1{margin:0 0 .25rem}p{margin:0 0 1.5rem;color:#444}"
    "ul{list-style:none;padding:0}li{margin:.6rem 0}a{font-weight:600;color:#0b5cad}"
    "code{font-size:.9em;background:#f2f4f7;padding:.1em .3em;border-radius:3px}"
)
_POLICY: Final = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    + "'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _page(root: str, issuer: str) -> str:
    items = "".join(
        f'<li><a href="{html.escape(root + path)}">{name}</a> — {what}</li>'
        for path, name, what in LINKS
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,"><title>jotauth</title>'
        f"<style>{_STYLE}</style></head><body><h1>jotauth</h1>"
        "<p>A JWT authentication server: it logs people and API clients in, issues and "
        "rotates their tokens, and publishes the keys that services verify them with. "
        f"Issuer <code>{html.escape(issuer)}</code>.</p>"
        f"<ul>{items}</ul></body></html>"
    )


@router.get("/", include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    """The landing page."""
    root = str(request.scope.get("root_path", ""))
    issuer = str(request.app.state.settings.issuer)
    return HTMLResponse(
        _page(root, issuer),
        headers={"Content-Security-Policy": _POLICY, "Cache-Control": "no-cache"},
    )
