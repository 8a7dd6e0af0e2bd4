"""Security alerts: logged at WARNING and POSTed as JSON to a webhook, never blocking a request.

``AlertDispatcher.raise_alert`` logs and enqueues, and returns at once; one background task
per event loop delivers the queue with retries and exponential backoff (on connection errors,
timeouts, 429 and 5xx; a 4xx other than 429 is a configuration error and is not retried). The
queue is bounded: under a flood the oldest undelivered alerts are dropped and counted, rather
than memory growing without bound. With ``JOTAUTH_ALERT_WEBHOOK_SECRET`` each POST carries
``X-Jotauth-Signature: sha256=<hex HMAC of timestamp.body>`` and ``X-Jotauth-Timestamp`` so the
receiver can check it came from this server.

``AlertRules`` turns auth events into alerts: refresh-token reuse, a key revoked, and a burst of
failed logins for one account or from one IP (counted in ``limits`` moving windows, in Redis
when configured, so every instance adds to the same count; one alert per window per subject).
While that store fails, a circuit breaker skips it for a cool-down (one log line per outage).
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import httpx
import limits
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from jotauth.issuer.events import AuthEvent
from jotauth.issuer.observability.metrics import HardeningMetrics
from jotauth.issuer.observability.redact import scrub
from jotauth.store.breaker import CircuitBreaker

__all__ = ["Alert", "AlertDispatcher", "AlertRules"]

logger = logging.getLogger("jotauth.alerts")

_MAX_BACKOFF: Final = 60.0


@dataclass(frozen=True)
class Alert:
    """One security alert, as posted to the webhook."""

    rule: str
    summary: str
    severity: str = "warning"
    at: float = field(default_factory=time.time)
    user_id: str | None = None
    username: str | None = None
    ip: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["detail"] = scrub(dict(self.detail))
        data["source"] = "jotauth"
        return data


class _HideURL(logging.Filter):
    """Keeps a webhook URL (Slack-style URLs embed their secret) out of httpx's request log."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parsed = httpx.URL(url)
        self.url = str(parsed)
        self.safe = f"{parsed.scheme}://{parsed.host}/[redacted]"

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(str(a) == self.url for a in record.args):
            record.args = tuple(self.safe if str(a) == self.url else a for a in record.args)
        return True


class AlertDispatcher:
    """Log every alert; deliver it to the webhook (if any) from a background task."""

    def __init__(
        self,
        url: str | None,
        *,
        secret: str | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        timeout: float = 5.0,
        queue_size: int = 1000,
        metrics: HardeningMetrics | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._secret = None if secret is None else secret.encode()
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.metrics = metrics
        self._transport = transport
        self._queue_size = queue_size
        self._queue: asyncio.Queue[Alert] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hide = None if url is None else _HideURL(url)
        if self._hide is not None:
            logging.getLogger("httpx").addFilter(self._hide)

    def raise_alert(self, alert: Alert) -> None:
        """Log at WARNING and enqueue for delivery; never blocks, never raises."""
        logger.warning(
            "security alert %s: %s", alert.rule, alert.summary, extra={"alert": alert.to_json()}
        )
        if self.metrics is not None:
            self.metrics.alerts.labels(rule=alert.rule).inc()
        if self.url is None:
            return
        try:
            queue = self._ensure_worker()
        except RuntimeError:  # no running loop: log-only
            return
        if queue.full():
            queue.get_nowait()
            queue.task_done()
            self._delivered("dropped")
        queue.put_nowait(alert)

    async def drain(self) -> None:
        """Wait until every queued alert is delivered or given up (the app's shutdown; tests)."""
        if self._queue is not None and self._loop is asyncio.get_running_loop():
            await self._queue.join()

    async def aclose(self) -> None:
        """Stop the worker of the current loop (undelivered alerts were logged already)."""
        if self._hide is not None:
            logging.getLogger("httpx").removeFilter(self._hide)
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _ensure_worker(self) -> asyncio.Queue[Alert]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._queue is None:
            self._loop = loop
            self._queue = asyncio.Queue(self._queue_size)
            self._task = None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._worker(self._queue), name="jotauth-alerts")
        return self._queue

    async def _worker(self, queue: "asyncio.Queue[Alert]") -> None:
        async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
            while True:
                alert = await queue.get()
                try:
                    await self._deliver(client, alert)
                except Exception:  # the worker must outlive any one alert
                    logger.exception("alert delivery crashed for rule %s", alert.rule)
                finally:
                    queue.task_done()

    async def _deliver(self, client: httpx.AsyncClient, alert: Alert) -> None:
        assert self.url is not None  # noqa: S101 - only enqueued with a URL
        body = json.dumps(alert.to_json(), sort_keys=True).encode()
        for attempt in range(self.retries + 1):
            headers = {"content-type": "application/json", "user-agent": "jotauth-alerts"}
            if self._secret is not None:
                stamp = str(int(time.time()))
                mac = hmac.new(self._secret, stamp.encode() + b"." + body, hashlib.sha256)
                headers["x-jotauth-timestamp"] = stamp
                headers["x-jotauth-signature"] = "sha256=" + mac.hexdigest()
            try:
                response = await client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            else:
                if response.status_code < 300:
                    self._delivered("delivered")
                    return
                if response.status_code < 500 and response.status_code != 429:
                    logger.error(
                        "alert webhook refused %s with HTTP %s; not retrying",
                        alert.rule,
                        response.status_code,
                    )
                    self._delivered("refused")
                    return
                outcome = f"HTTP {response.status_code}"
            if attempt < self.retries:
                delay = min(_MAX_BACKOFF, self.backoff * 2**attempt)
                logger.info("alert webhook failed (%s); retry in %.1fs", outcome, delay)
                self._delivered("retried")
                await asyncio.sleep(delay)
        logger.error("alert %s not delivered after %d attempts", alert.rule, self.retries + 1)
        self._delivered("failed")

    def _delivered(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.alert_deliveries.labels(outcome=outcome).inc()


def _hashed(name: str) -> str:
    """The default account key: the name as typed, hashed (the app passes the limiter's)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class AlertRules:
    """An EventBus subscriber that raises alerts for unusual activity."""

    def __init__(
        self,
        dispatcher: AlertDispatcher,
        storage: Storage,
        *,
        burst_account: str = "4 per 5 minutes",
        burst_ip: str = "30 per 5 minutes",
        account_key: Callable[[str], str] = _hashed,
    ) -> None:
        """``account_key``: the rate limiter's key of a typed name (the app passes
        ``services.ratelimit.account_key``), so the alert counts what the limits count; this
        package imports no use case, so it is handed in."""
        self.dispatcher = dispatcher
        self._account_key = account_key
        self.storage = storage
        self.breaker = CircuitBreaker("alert counter store", fallback="burst alerts are off")
        self._window = MovingWindowRateLimiter(storage)
        self._account = limits.parse(burst_account)
        self._ip = limits.parse(burst_ip)
        self._once_account = limits.RateLimitItemPerSecond(1, self._account.get_expiry())
        self._once_ip = limits.RateLimitItemPerSecond(1, self._ip.get_expiry())

    async def observe(self, event: AuthEvent) -> None:
        """Raise the alerts ``event`` calls for (an EventBus subscriber)."""
        kind = event.type
        user_id = event.user_id
        username = event.username
        ip = event.ip
        detail = event.detail
        if kind == "refresh_reuse_detected":
            self.dispatcher.raise_alert(
                Alert(
                    "refresh_token_reuse",
                    "a rotated refresh token was presented again; its family was revoked",
                    user_id=user_id,
                    username=username,
                    ip=ip,
                    detail=detail,
                )
            )
        elif kind == "key_revoked":
            self.dispatcher.raise_alert(
                Alert(
                    "key_revoked",
                    "a signing key was revoked; every token it signed is dead",
                    user_id=user_id,
                    username=username,
                    ip=ip,
                    detail=detail,
                )
            )
        elif kind == "login_failed":
            typed = event.login_name or username  # counted, never shown
            if typed:
                await self._burst("account", self._account_key(typed), username=username, ip=ip)
            if ip:
                await self._burst("ip", ip, username=None, ip=ip)

    async def _burst(self, scope: str, key: str, *, username: str | None, ip: str | None) -> None:
        item, once = (
            (self._account, self._once_account)
            if scope == "account"
            else (
                self._ip,
                self._once_ip,
            )
        )
        if not self.breaker.allow():
            return
        try:
            if await self._window.hit(item, "burst", scope, key):
                self.breaker.success()
                return
            if not await self._window.hit(once, "burst-alerted", scope, key):
                self.breaker.success()
                return
        except Exception as exc:  # noqa: BLE001 - alerting must not break logins
            self.breaker.failure(exc)
            return
        self.breaker.success()
        self.dispatcher.raise_alert(
            Alert(
                f"login_failure_burst_{scope}",
                f"more than {item.amount} failed logins in {item.get_expiry()}s "
                + ("for one account" if scope == "account" else "from one IP address"),
                username=username,
                ip=ip,
                detail={"limit": str(item)},
            )
        )
