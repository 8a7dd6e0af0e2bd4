"""The HTTP side of the metrics: request latency per route, and ``GET /metrics``.

The counters live in ``jotauth.issuer.observability.metrics`` (events, the limiter, and the
guard's own refusal counters); this middleware is about HTTP itself: it times each request
by route template and status, and reads nothing of any body. ``/metrics`` needs a credential
unless ``JOTAUTH_METRICS_PUBLIC`` opts out.
"""

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jotauth.errors import JotauthError
from jotauth.guard import Principal
from jotauth.issuer.http.headers import TOKEN_PATHS
from jotauth.issuer.observability.metrics import HardeningMetrics

__all__ = ["MetricsMiddleware"]

_SCRAPE_SCOPE: Final = "metrics:read"
_MAX_CHILDREN: Final = 1024
# A method is the client's to choose: any other one is "other", so the label stays bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Times every request and answers GET /metrics."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: HardeningMetrics,
        *,
        path: str = "/metrics",
        token: str | None = None,
        public: bool = False,
        verify: Callable[[str], Awaitable[Principal]] | None = None,
    ) -> None:
        """``token``: a static scrape secret; ``verify``: the issuer's check of an access token
        (its guard and revocation check), to accept tokens granting ``metrics:read``;
        ``public``: serve without any credential."""
        self.app = app
        self.metrics = metrics
        self.path = path
        self.public = public
        self.verify = verify
        self._token = None if token is None else token.encode()
        # The latency histogram's child per (method, route, status): prometheus-client's
        # ``labels(**names)`` checks and sorts its arguments on every call, 3 to 4 µs of each
        # request; the children are the same objects it would return. Bounded like the label
        # sets themselves (route templates, status codes), and capped for odd methods.
        self._children: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == self.path and scope.get("method") in ("GET", "HEAD"):
            await self._serve(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = scope.get("path", "")
            template = getattr(route, "path", None) or (
                path if path in TOKEN_PATHS else "unmatched"
            )
            method = scope.get("method", "")
            key = (method if method in _METHODS else "other", template, str(status))
            child = self._children.get(key)
            if child is None:
                child = self.metrics.request_latency.labels(*key)  # method, route, status
                if len(self._children) < _MAX_CHILDREN:
                    self._children[key] = child
            child.observe(time.perf_counter() - start)

    async def _allowed(self, scope: Scope) -> int:
        """200 for a valid credential, 403 for a token without ``metrics:read``, else 401."""
        header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), b"")
        scheme, _, credential = header.decode("latin-1").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return 401
        if self._token is not None and hmac.compare_digest(credential.encode(), self._token):
            return 200
        if self.verify is None or credential.count(".") != 2:
            return 401
        try:
            principal = await self.verify(credential)
        except JotauthError:
            return 401
        return 200 if principal.has_scope(_SCRAPE_SCOPE) else 403

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 200 if self.public else await self._allowed(scope)
        response: Response
        if status != 200:
            response = JSONResponse(
                {
                    "error": "unauthorized" if status == 401 else "insufficient_scope",
                    "error_description": "metrics need JOTAUTH_METRICS_TOKEN or an access "
                    f"token granting {_SCRAPE_SCOPE}",
                },
                status,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            )
        else:
            body, content_type = self.metrics.render()
            response = Response(
                body, headers={"Content-Type": content_type, "Cache-Control": "no-store"}
            )
        await response(scope, receive, send)
