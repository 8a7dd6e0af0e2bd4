"""Prometheus metrics for the auth server, served at ``/metrics`` (prometheus-client).

Each app gets its own ``CollectorRegistry`` so that several apps in one process (tests, or an
embedding host) never collide. Counts come from two places: the issuer's auth events
(tokens issued, refreshed, revoked; login failures; reuse detections) and the HTTP layer
(latency per route, verification failures by the guard's ``jotauth_code``). With several
workers set ``PROMETHEUS_MULTIPROC_DIR`` and /metrics aggregates every worker's values
(prometheus-client's multiprocess mode).

Labels are bounded: routes are templates (``/admin/users/{user_id}``), never raw paths, and
reasons are error codes, never free text.

``/metrics`` needs a credential unless the operator opts out (``JOTAUTH_METRICS_PUBLIC``): the
configured ``JOTAUTH_METRICS_TOKEN`` or an access token of this server granting
``metrics:read``. Even then no label tells an unknown username from a wrong password: both
count as ``invalid_credentials`` (as do disabled accounts), so the counters are no oracle of
which accounts exist. The audit trail keeps the precise reason for administrators.
"""

import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any, Final

from jotauth.errors import JotauthError, MissingDependencyError
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

try:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
    )
    from prometheus_client.multiprocess import MultiProcessCollector
except ModuleNotFoundError as exc:
    raise MissingDependencyError(
        "the auth server's /metrics needs prometheus-client", "issuer", exc
    ) from None

__all__ = ["HardeningMetrics", "MetricsMiddleware"]

# event type -> the revocation reason it counts under.
_REVOKING: Final[Mapping[str, str]] = {
    "logout": "logout",
    "logout_all": "logout_all",
    "password_changed": "password_changed",
    "user_disabled": "user_disabled",
    "refresh_reuse_detected": "reuse_detected",
    "key_revoked": "key_revoked",
}
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_MAX_ERROR_BODY: Final = 8192


_LOGIN_FAILED: Final = "invalid_credentials"
"""The one public reason of a failed login: unknown user, wrong password and disabled account
answer alike over HTTP, and the counters must not tell them apart either."""
_SCRAPE_SCOPE: Final = "metrics:read"


class HardeningMetrics:
    """Every metric the auth server exports, registered in one private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.tokens_issued = Counter(
            "jotauth_tokens_issued", "Access/refresh token pairs issued", ["grant"], registry=r
        )
        self.tokens_refreshed = Counter(
            "jotauth_tokens_refreshed", "Refresh tokens rotated", registry=r
        )
        self.tokens_revoked = Counter(
            "jotauth_tokens_revoked", "Revocations by cause", ["reason"], registry=r
        )
        self.verification_failures = Counter(
            "jotauth_token_verification_failures",
            "Access tokens rejected by the server, by reason",
            ["reason"],
            registry=r,
        )
        self.login_failures = Counter(
            "jotauth_login_failures", "Failed logins by reason", ["reason"], registry=r
        )
        self.reuse_detected = Counter(
            "jotauth_refresh_reuse_detected", "Rotated refresh tokens presented again", registry=r
        )
        self.auth_events = Counter(
            "jotauth_auth_events",
            "Auth events by type and outcome",
            ["type", "outcome"],
            registry=r,
        )
        self.rate_limited = Counter(
            "jotauth_rate_limited", "Requests refused with 429", ["action", "scope"], registry=r
        )
        self.ratelimit_fail_open = Counter(
            "jotauth_ratelimit_fail_open",
            "Rate-limit checks let through unchecked: the counter store failed or was skipped",
            registry=r,
        )
        self.dependency_up = Gauge(
            "jotauth_dependency_up",
            "1 while a dependency answers, 0 while its circuit breaker is open",
            ["dependency"],
            registry=r,
        )
        self.alerts = Counter(
            "jotauth_security_alerts", "Security alerts raised", ["rule"], registry=r
        )
        self.alert_deliveries = Counter(
            "jotauth_alert_deliveries", "Webhook deliveries by outcome", ["outcome"], registry=r
        )
        self.request_latency = Histogram(
            "jotauth_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=r,
        )

    def observe_event(self, event: Any) -> None:
        """Count one issuer AuthEvent (an EventBus subscriber)."""
        kind = str(getattr(event, "type", "unknown"))
        outcome = str(getattr(event, "outcome", "unknown"))
        self.auth_events.labels(type=kind, outcome=outcome).inc()
        if kind == "login_succeeded":
            self.tokens_issued.labels(grant="password").inc()
        elif kind == "login_failed":
            self.login_failures.labels(reason=_LOGIN_FAILED).inc()
        elif kind == "token_refreshed" and outcome == "success":
            self.tokens_refreshed.inc()
            self.tokens_issued.labels(grant="refresh_token").inc()
        if kind == "refresh_reuse_detected":
            self.reuse_detected.inc()
        if kind in _REVOKING:
            self.tokens_revoked.labels(reason=_REVOKING[kind]).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text, aggregated over workers in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


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
