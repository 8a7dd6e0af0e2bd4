"""The HTTP side of the metrics: request latency, guard rejections, and ``GET /metrics``.

The counters live in ``jotauth.issuer.observability.metrics`` (they subscribe to the
issuer's events); this middleware is about HTTP itself, so it lives with the hardening
middleware. ``/metrics`` needs a credential unless ``JOTAUTH_METRICS_PUBLIC`` opts out.
"""

import hmac
import json
import time
from typing import Any, Final

from jotauth.errors import JotauthError
from jotauth.issuer.hardening._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    get_header,
    json_response,
)
from jotauth.issuer.hardening.headers import TOKEN_PATHS
from jotauth.issuer.observability.metrics import HardeningMetrics

__all__ = ["MetricsMiddleware"]

_MAX_ERROR_BODY: Final = 8192
_SCRAPE_SCOPE: Final = "metrics:read"


class MetricsMiddleware:
    """Times every request, counts guard rejections by reason, and answers GET /metrics."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: HardeningMetrics,
        *,
        path: str = "/metrics",
        token: str | None = None,
        public: bool = False,
        guard: Any = None,
    ) -> None:
        """``token``: a static scrape secret; ``guard``: the issuer's guard, to accept access
        tokens granting ``metrics:read``; ``public``: serve without any credential."""
        self.app = app
        self.metrics = metrics
        self.path = path
        self.public = public
        self.guard = guard
        self._token = None if token is None else token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == self.path and scope.get("method") in ("GET", "HEAD"):
            await self._serve(scope, send)
            return
        start = time.perf_counter()
        status = 500
        error_body: list[bytes] | None = None

        async def _send(message: Message) -> None:
            nonlocal status, error_body
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if status in (401, 403):
                    error_body = []
            elif (
                message["type"] == "http.response.body"
                and error_body is not None
                and sum(map(len, error_body)) < _MAX_ERROR_BODY
            ):
                error_body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = scope.get("path", "")
            # Answers given before routing (429, CSRF 403) still count under their endpoint.
            template = getattr(route, "path", None) or (
                path if path in TOKEN_PATHS else "unmatched"
            )
            self.metrics.request_latency.labels(
                method=scope.get("method", ""), route=template, status=str(status)
            ).observe(time.perf_counter() - start)
            if error_body is not None:
                self._count_rejection(b"".join(error_body))

    def _count_rejection(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            return
        if isinstance(data, dict):
            code = data.get("jotauth_code")
            if isinstance(code, str) and code.isidentifier() and len(code) <= 40:
                self.metrics.verification_failures.labels(reason=code).inc()

    async def _allowed(self, scope: Scope) -> int:
        """200 for a valid credential, 403 for a token without ``metrics:read``, else 401."""
        scheme, _, credential = (get_header(scope, b"authorization") or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return 401
        if self._token is not None and hmac.compare_digest(credential.encode(), self._token):
            return 200
        if self.guard is None or credential.count(".") != 2:
            return 401
        try:
            principal = await self.guard.authenticate(credential)
        except JotauthError:
            return 401
        return 200 if principal.has_scope(_SCRAPE_SCOPE) else 403

    async def _serve(self, scope: Scope, send: Send) -> None:
        status = 200 if self.public else await self._allowed(scope)
        if status != 200:
            await json_response(
                send,
                status,
                {
                    "error": "unauthorized" if status == 401 else "insufficient_scope",
                    "error_description": "metrics need JOTAUTH_METRICS_TOKEN or an access "
                    f"token granting {_SCRAPE_SCOPE}",
                },
                [(b"www-authenticate", b'Bearer realm="metrics"')],
            )
            return
        body, content_type = self.metrics.render()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
