"""Hardening and monitoring for the auth server, installed by one call.

``install_hardening(app, settings)`` (the last line of ``create_app``) adds, outermost first:

1. ``MetricsMiddleware`` — latency per route, guard rejections by reason, ``GET /metrics``;
2. ``SecurityHeadersMiddleware`` — nosniff, frame denial, CSP, HSTS, ``no-store`` on tokens;
3. Starlette's ``CORSMiddleware`` — only with ``JOTAUTH_CORS_ORIGINS``;
4. ``CookieModeMiddleware`` — browser mode with CSRF double submit (``JOTAUTH_COOKIE_MODE``);

hands the ``RateLimiter`` to the ``AuthService`` (``app.state.auth.limits``): the brute-force
limits are asked by the use cases on the input their handler parsed, never by a middleware
re-parsing the body; then subscribes to the issuer's event bus (``app.state.events``):
metrics, alert rules and the JSON audit log; and adds the admin audit
query route ``GET /admin/audit``. Everything it built is on ``app.state.hardening``.
"""

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.middleware.cors import CORSMiddleware

from jotauth.issuer.hardening.cookies import CookieModeMiddleware
from jotauth.issuer.hardening.cors import cors_options
from jotauth.issuer.hardening.headers import SecurityHeadersMiddleware
from jotauth.issuer.hardening.metrics_http import MetricsMiddleware
from jotauth.issuer.hardening.ratelimit import RateLimiter, close_storage, limits_storage
from jotauth.issuer.observability.alerts import Alert, AlertDispatcher, AlertRules
from jotauth.issuer.observability.audit_log import AuditLogger, ensure_audit_handler
from jotauth.issuer.observability.metrics import HardeningMetrics
from jotauth.issuer.settings import Settings

__all__ = [
    "Alert",
    "AlertDispatcher",
    "Hardening",
    "HardeningMetrics",
    "RateLimiter",
    "install_hardening",
]

logger = logging.getLogger("jotauth.hardening")


@dataclass
class Hardening:
    """What ``install_hardening`` built, kept on ``app.state.hardening``."""

    settings: Settings
    metrics: HardeningMetrics | None
    limiter: RateLimiter | None
    alerts: AlertDispatcher
    rules: AlertRules
    audit: AuditLogger | None

    async def aclose(self) -> None:
        """Stop the alert worker and release Redis connections."""
        await self.alerts.aclose()
        if self.limiter is not None:
            await self.limiter.aclose()
        await close_storage(self.rules.storage)


def install_hardening(app: Any, config: Settings) -> Hardening:
    """Wire every hardening piece into ``app`` (a FastAPI/Starlette app) and return them."""
    metrics = HardeningMetrics() if config.metrics_enabled else None
    # One limits storage (one Redis pool) for the brute-force limits and the alert windows.
    storage = limits_storage(config)
    on_refused = None
    if metrics is not None:
        counter = metrics.rate_limited

        def on_refused(action: str, scope: str) -> None:
            counter.labels(action=action, scope=scope).inc()

    limiter = (
        RateLimiter(
            config,
            storage=storage,
            metrics=metrics,
            on_refused=on_refused,
        )
        if config.ratelimit_enabled
        else None
    )
    auth = getattr(app.state, "auth", None)
    if limiter is not None and auth is not None:
        auth.limits = limiter
    dispatcher = AlertDispatcher(
        config.alert_webhook_url,
        secret=config.alert_webhook_secret,
        retries=config.alert_retries,
        backoff=config.alert_backoff,
        timeout=config.alert_timeout,
        metrics=metrics,
    )
    rules = AlertRules(
        dispatcher,
        storage,
        burst_account=config.alert_burst_account,
        burst_ip=config.alert_burst_ip,
    )
    audit = AuditLogger() if config.audit_log else None
    if audit is not None:
        ensure_audit_handler()
    state = Hardening(config, metrics, limiter, dispatcher, rules, audit)
    app.state.hardening = state

    bus = getattr(app.state, "events", None)
    if bus is not None:
        if metrics is not None:
            bus.subscribe(metrics.observe_event)
        bus.subscribe(rules.observe)
        if audit is not None:
            bus.subscribe(audit)
    else:
        logger.warning("no event bus on app.state.events: metrics, alerts and audit lines are off")

    from jotauth.issuer.observability.audit_api import router as audit_router

    app.include_router(audit_router)

    # add_middleware puts each new one outermost: add innermost first.
    if config.cookie_mode != "off":
        app.add_middleware(CookieModeMiddleware, settings=config)
    options = cors_options(config)
    if options is not None:
        app.add_middleware(CORSMiddleware, **options)
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=config.hsts_seconds)
    if metrics is not None:
        app.add_middleware(
            MetricsMiddleware,
            metrics=metrics,
            token=config.metrics_token,
            public=config.metrics_public,
            guard=getattr(app.state, "guard", None),
        )

    _close_on_shutdown(app, state)
    return state


def _close_on_shutdown(app: Any, state: Hardening) -> None:
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        async with inner(asgi_app) as value:
            try:
                yield value
            finally:
                await state.aclose()

    app.router.lifespan_context = lifespan
