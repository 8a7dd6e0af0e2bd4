"""Security headers on every response, and ``Cache-Control: no-store`` on every token response.

A response that sets its own ``Cache-Control`` (JWKS and discovery are meant to be cached)
keeps it, except on the token endpoints, which are always ``no-store`` with ``Pragma:
no-cache`` (RFC 6749 5.1): a token must never sit in a proxy or browser cache. Any other
response without a ``Cache-Control`` gets ``no-store`` too, because an auth server's answers
are about someone.

The API serves JSON only, so its Content-Security-Policy forbids everything. A page that needs
more (the landing page, /docs with Swagger UI served from this origin) sets its own policy,
which is kept; nothing ever allows another origin.
"""

from collections.abc import Collection
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TOKEN_PATHS", "SecurityHeadersMiddleware"]

TOKEN_PATHS: Final = frozenset({"/login", "/refresh", "/register", "/oauth/token"})
_API_CSP: Final = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_ALWAYS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


class SecurityHeadersMiddleware:
    """Adds the headers to ``http.response.start`` without touching the body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts_seconds: int = 31_536_000,
        token_paths: Collection[str] = TOKEN_PATHS,
    ) -> None:
        self.app = app
        self.token_paths = frozenset(token_paths)
        self._hsts = (
            f"max-age={hsts_seconds}; includeSubDomains".encode() if hsts_seconds > 0 else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        is_token = path in self.token_paths
        https = scope.get("scheme") == "https"

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", ())
                    if not (is_token and k.lower() in (b"cache-control", b"pragma"))
                ]
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in _ALWAYS if h[0] not in present)
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", _API_CSP))
                if is_token or b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if is_token:
                    headers.append((b"pragma", b"no-cache"))
                if https and self._hsts is not None:
                    headers.append((b"strict-transport-security", self._hsts))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, _send)
