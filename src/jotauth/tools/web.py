"""An APIRouter that serves the token debugger (``/debugger``) and the login demo (``/demo``).

The pages and their scripts are files in ``static/``; the router serves only names from a fixed
allowlist (no path from the request ever reaches the file system) and adds a strict
Content-Security-Policy: scripts and styles only from this origin, no inline code, no framing.
The same HTML opens directly from disk, where a ``<meta>`` policy gives the same protection.
"""

from importlib.resources import files
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

__all__ = ["ASSET_PREFIX", "CONTENT_SECURITY_POLICY", "router"]

ASSET_PREFIX: Final = "/tools-static"

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_STATIC = files("jotauth.tools") / "static"

_MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

# The only asset names the router will read; anything else is a 404.
_ASSETS: Final = frozenset(
    {"jwt.js", "debugger.js", "demo.js", "dpop.js", "tools.css"},
)

router = APIRouter(tags=["tools"])


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def _serve(relative: str) -> Response:
    suffix = relative[relative.rfind(".") :]
    body = _STATIC.joinpath(*relative.split("/")).read_bytes()
    return Response(body, media_type=_MEDIA_TYPES[suffix], headers=_headers())


@router.get("/debugger", include_in_schema=False)
def debugger_page() -> Response:
    """The token debugger: decode, verify and build tokens in the browser."""
    return _serve("debugger.html")


@router.get("/demo", include_in_schema=False)
def demo_page() -> Response:
    """The tutorial's login flow, step by step, against this server."""
    return _serve("demo.html")


@router.get(ASSET_PREFIX + "/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    """A script or stylesheet of the pages, from the allowlist only."""
    if name not in _ASSETS:
        raise HTTPException(status_code=404)
    return _serve("tools-static/" + name)
