"""``install_observability``: subscribe the metrics, alert rules and audit log to the events.

``create_app`` calls it once with the issuer's ``EventBus`` and the settings; the use cases
publish typed ``AuthEvent``s and never learn who listens. What it built is returned (and kept
on ``app.state.observability``) so that the app can close it: the alert worker drains and the
limits storage of the alert windows releases its Redis connections.
"""

from collections.abc import Callable
from dataclasses import dataclass

import anyio
from limits.aio.storage import Storage

from jotauth.issuer.events import EventBus
from jotauth.issuer.observability.alerts import AlertDispatcher, AlertRules
from jotauth.issuer.observability.audit_log import AuditLogger, ensure_audit_handler
from jotauth.issuer.observability.metrics import HardeningMetrics
from jotauth.issuer.settings import Settings

__all__ = ["Observability", "install_observability"]

_DRAIN_SECONDS = 2.0


@dataclass
class Observability:
    """The subscribers of one app, kept on ``app.state.observability``."""

    metrics: HardeningMetrics | None
    alerts: AlertDispatcher
    rules: AlertRules
    audit: AuditLogger | None

    async def aclose(self) -> None:
        """Deliver the queued alerts (for at most ``_DRAIN_SECONDS``), then stop the worker:
        an alert raised just before a shutdown still reaches the webhook when it answers."""
        with anyio.move_on_after(_DRAIN_SECONDS):
            await self.alerts.drain()
        await self.alerts.aclose()


def install_observability(
    events: EventBus,
    config: Settings,
    *,
    metrics: HardeningMetrics | None,
    storage: Storage,
    account_key: Callable[[str], str],
) -> Observability:
    """Subscribe metrics (when enabled), the alert rules and the audit log (when enabled).

    ``storage``: the process's one ``limits`` storage, shared with the rate limiter (one Redis
    pool); ``account_key``: the limiter's key of an account, so that the burst alert counts
    what the limits count.
    """
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
        account_key=account_key,
    )
    audit = AuditLogger() if config.audit_log else None
    if metrics is not None:
        events.subscribe(metrics.observe_event)
    events.subscribe(rules.observe)
    if audit is not None:
        ensure_audit_handler()
        events.subscribe(audit)
    return Observability(metrics, dispatcher, rules, audit)
