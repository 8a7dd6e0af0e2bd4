"""Prometheus metrics for the auth server, served at ``/metrics`` (prometheus-client).

Each app gets its own ``CollectorRegistry`` so that several apps in one process (tests, or an
embedding host) never collide. Counts come from three places: the issuer's auth events
(tokens issued, refreshed, revoked; login failures; reuse detections), the rate limiter
(refusals, fail-open, store up/down, as its ``LimiterMonitor``), and the issuer's own guard,
whose counters are exported as they are (``jotauth.guard.metrics.GuardCollector``:
``jotauth_guard_rejected_total{service="issuer", reason=...}``), never re-derived from error
bodies. ``jotauth.issuer.http.metrics`` times requests and serves ``/metrics``. With several
workers set ``PROMETHEUS_MULTIPROC_DIR`` and /metrics aggregates every worker's values
(prometheus-client's multiprocess mode); the guard's counters are plain integers of each
worker, so there they are the answering worker's.

Labels are bounded: routes are templates (``/admin/users/{user_id}``), never raw paths, and
reasons are error codes, never free text.

``/metrics`` needs a credential unless the operator opts out (``JOTAUTH_METRICS_PUBLIC``): the
configured ``JOTAUTH_METRICS_TOKEN`` or an access token of this server granting
``metrics:read``. Even then no label tells an unknown username from a wrong password: both
count as ``invalid_credentials`` (as do disabled accounts), so the counters are no oracle of
which accounts exist. The audit trail keeps the precise reason for administrators.
"""

import os
from collections.abc import Mapping
from typing import Final

from jotauth.errors import MissingDependencyError
from jotauth.guard import Guard
from jotauth.issuer.events import AuthEvent

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

__all__ = ["HardeningMetrics"]

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


_LOGIN_FAILED: Final = "invalid_credentials"
"""The one public reason of a failed login: unknown user, wrong password and disabled account
answer alike over HTTP, and the counters must not tell them apart either."""


class HardeningMetrics:
    """Every metric the auth server exports, registered in one private registry."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, guard: Guard | None = None
    ) -> None:
        """``guard``: the issuer's own guard, whose refusal counters are exported."""
        self.registry = registry if registry is not None else CollectorRegistry()
        self._guard = None
        r = self.registry
        if guard is not None:
            from jotauth.guard.metrics import GuardCollector

            self._guard = GuardCollector(guard, service="issuer")
            r.register(self._guard)
        self.tokens_issued = Counter(
            "jotauth_tokens_issued", "Access/refresh token pairs issued", ["grant"], registry=r
        )
        self.tokens_refreshed = Counter(
            "jotauth_tokens_refreshed", "Refresh tokens rotated", registry=r
        )
        self.tokens_revoked = Counter(
            "jotauth_tokens_revoked", "Revocations by cause", ["reason"], registry=r
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

    def observe_event(self, event: AuthEvent) -> None:
        """Count one issuer AuthEvent (an EventBus subscriber)."""
        kind = event.type.value
        outcome = event.outcome
        # Positional label values (in the declared order): the same children as by name,
        # without prometheus-client checking and sorting the names on every event.
        self.auth_events.labels(kind, outcome).inc()  # type, outcome
        if kind == "login_succeeded":
            self.tokens_issued.labels("password").inc()  # grant
        elif kind == "login_failed":
            self.login_failures.labels(_LOGIN_FAILED).inc()  # reason
        elif kind == "token_refreshed" and outcome == "success":
            self.tokens_refreshed.inc()
            self.tokens_issued.labels("refresh_token").inc()  # grant
        if kind == "refresh_reuse_detected":
            self.reuse_detected.inc()
        if kind in _REVOKING:
            self.tokens_revoked.labels(reason=_REVOKING[kind]).inc()

    # -- the rate limiter's monitor (services.ratelimit.LimiterMonitor) -----------------------

    def refused(self, action: str, scope: str) -> None:
        """A 429: count it by action and limit."""
        self.rate_limited.labels(action=action, scope=scope).inc()

    def failed_open(self) -> None:
        """A limit check let through because the counter store failed or was skipped."""
        self.ratelimit_fail_open.inc()

    def store_up(self, up: bool) -> None:
        """The counter store's breaker changed state."""
        self.dependency_up.labels(dependency="ratelimit_store").set(1 if up else 0)

    def render(self) -> tuple[bytes, str]:
        """The exposition text, aggregated over workers in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            if self._guard is not None:
                registry.register(self._guard)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
