"""Security alerts: logged at WARNING, POSTed to a real local webhook, retried, never blocking."""

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage

from jotauth.issuer.events import AuthEvent, EventType
from jotauth.issuer.observability.alerts import Alert, AlertDispatcher, AlertRules
from jotauth.issuer.observability.metrics import HardeningMetrics

pytestmark = pytest.mark.anyio


def Ev(type: str, **kw: Any) -> AuthEvent:
    """A real AuthEvent; failures by default."""
    return AuthEvent(
        type=EventType(type),
        outcome=kw.pop("outcome", "failure"),
        user_id=kw.pop("user_id", None),
        username=kw.pop("username", None),
        ip=kw.pop("ip", None),
        user_agent=None,
        detail=kw.pop("detail", {}),
        at=time.time(),
    )


class Recording(AlertDispatcher):
    """A dispatcher that keeps the alerts raised, to test the rules alone."""

    def __init__(self) -> None:
        super().__init__(None)
        self.raised: list[Alert] = []

    def raise_alert(self, alert: Alert) -> None:
        self.raised.append(alert)


async def test_alert_is_logged_and_posted_signed(
    receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The webhook gets the alert as JSON with a verifiable HMAC signature; the log a WARNING."""
    dispatcher = AlertDispatcher(receiver.url, secret="hook-secret", backoff=0.01)
    dispatcher.raise_alert(Alert("key_revoked", "a key was revoked", detail={"kid": "k1"}))
    with anyio.fail_after(5):
        await dispatcher.drain()
    headers, body = receiver.posts[0]
    data = json.loads(body)
    assert data["rule"] == "key_revoked"
    assert data["detail"] == {"kid": "k1"}
    assert data["severity"] == "warning"
    expected = hmac.new(
        b"hook-secret", headers["x-jotauth-timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["x-jotauth-signature"] == "sha256=" + expected
    assert any(r.levelname == "WARNING" and "key_revoked" in r.message for r in caplog.records)
    await dispatcher.aclose()


async def test_failed_deliveries_are_retried_with_backoff(receiver: Any) -> None:
    """Two 503s then success: the alert arrives once, on the third attempt."""
    receiver.fail_first = 2
    receiver.status = 503
    metrics = HardeningMetrics()
    dispatcher = AlertDispatcher(receiver.url, backoff=0.01, metrics=metrics)
    dispatcher.raise_alert(Alert("refresh_token_reuse", "reuse"))
    with anyio.fail_after(5):
        await dispatcher.drain()
    assert len(receiver.posts) == 1
    assert metrics.alert_deliveries.labels(outcome="retried")._value.get() == 2
    assert metrics.alert_deliveries.labels(outcome="delivered")._value.get() == 1
    await dispatcher.aclose()


async def test_client_errors_are_not_retried(
    receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A 404 is a configuration mistake: logged once, not hammered."""
    receiver.fail_first = 10
    receiver.status = 404
    dispatcher = AlertDispatcher(receiver.url, backoff=0.01)
    dispatcher.raise_alert(Alert("key_revoked", "x"))
    with anyio.fail_after(5):
        await dispatcher.drain()
    assert receiver.fail_first == 9
    assert "not retrying" in caplog.text
    await dispatcher.aclose()


async def test_unreachable_webhook_gives_up_without_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dead receiver costs a few retries and an error line, never an exception."""
    dispatcher = AlertDispatcher("http://127.0.0.1:1/hook", retries=2, backoff=0.01, timeout=1)
    dispatcher.raise_alert(Alert("key_revoked", "x"))
    with anyio.fail_after(10):
        await dispatcher.drain()
    assert "not delivered after 3 attempts" in caplog.text
    await dispatcher.aclose()


async def test_a_slow_webhook_never_blocks_requests(
    receiver: Any,
    make_app: Callable[..., FastAPI],
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    """With a receiver taking 1.5 s per POST, the login that raised the alert answers at once."""
    receiver.delay = 1.5
    app = make_app(alert_webhook_url=receiver.url, alert_burst_account="1 per minute", ip_burst=50)
    async with make_client(app) as c:
        await c.post("/login", json={"username": "john", "password": "x"})
        started = time.perf_counter()
        r = await c.post("/login", json={"username": "john", "password": "x"})
        elapsed = time.perf_counter() - started
    assert r.status_code == 401
    assert elapsed < 0.5
    with anyio.fail_after(10):
        await app.state.observability.alerts.drain()
    assert json.loads(receiver.posts[0][1])["rule"] == "login_failure_burst_account"
    await app.state.observability.aclose()


async def test_burst_of_failed_logins_raises_one_alert_per_window(
    receiver: Any,
    make_app: Callable[..., FastAPI],
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    """Past the threshold for one account: exactly one alert per window, not one per attempt
    (john exists: the alert names him; an unknown name would appear only as its tag)."""
    app = make_app(
        alert_webhook_url=receiver.url,
        alert_burst_account="3 per minute",
        account_limit="100 per minute",
        ip_burst=50,
    )
    async with make_client(app) as c:
        for _ in range(3):
            await c.post("/login", json={"username": "john", "password": "x"})
        with anyio.fail_after(5):
            await app.state.observability.alerts.drain()
        assert len(receiver.posts) == 0  # at the threshold, not past it
        for _ in range(4):
            await c.post("/login", json={"username": "john", "password": "x"})
    with anyio.fail_after(5):
        await app.state.observability.alerts.drain()
    rules = [json.loads(body)["rule"] for _, body in receiver.posts]
    assert rules == ["login_failure_burst_account"]
    alert = json.loads(receiver.posts[0][1])
    assert alert["username"] == "john"
    assert alert["ip"] == "203.0.113.7"
    assert "password" not in receiver.posts[0][1].decode()
    await app.state.observability.aclose()


async def test_burst_from_one_ip_across_accounts() -> None:
    """Spraying many accounts from one IP raises the per-IP alert."""
    dispatcher = Recording()
    raised = dispatcher.raised
    rules = AlertRules(dispatcher, MemoryStorage(), burst_ip="5 per minute")
    for i in range(6):
        await rules.observe(Ev("login_failed", username=f"user{i}", ip="192.0.2.55"))
    assert [a.rule for a in raised] == ["login_failure_burst_ip"]
    assert raised[0].ip == "192.0.2.55"


@pytest.mark.parametrize(
    ("event", "rule"),
    [("refresh_reuse_detected", "refresh_token_reuse"), ("key_revoked", "key_revoked")],
)
async def test_reuse_and_key_revocation_always_alert(event: str, rule: str) -> None:
    """Those events are alerts at their first occurrence."""
    dispatcher = Recording()
    raised = dispatcher.raised
    rules = AlertRules(dispatcher, MemoryStorage())
    await rules.observe(Ev(event, user_id="7", detail={"refresh_token": "secret-value"}))
    await rules.observe(Ev("login_succeeded", outcome="success", username="x"))
    assert [a.rule for a in raised] == [rule]
    assert "secret-value" not in json.dumps(raised[0].to_json())


async def test_a_flood_drops_the_oldest_alerts_instead_of_growing(receiver: Any) -> None:
    """The queue is bounded: past its size the oldest undelivered alerts are dropped, counted."""
    receiver.delay = 0.3
    metrics = HardeningMetrics()
    dispatcher = AlertDispatcher(receiver.url, queue_size=2, metrics=metrics)
    for i in range(6):
        dispatcher.raise_alert(Alert("key_revoked", f"alert {i}"))
    with anyio.fail_after(10):
        await dispatcher.drain()
    dropped = metrics.alert_deliveries.labels(outcome="dropped")._value.get()
    delivered = [json.loads(body)["summary"] for _, body in receiver.posts]
    assert dropped >= 3
    assert len(delivered) + dropped == 6
    assert delivered[-1] == "alert 5"  # the newest is kept
    await dispatcher.aclose()


async def test_the_alert_worker_stops_with_the_app(
    receiver: Any, make_app: Callable[..., FastAPI]
) -> None:
    """Shutting the app down (its lifespan) stops the delivery task."""
    app = make_app(alert_webhook_url=receiver.url)
    alerts = app.state.observability.alerts
    async with app.router.lifespan_context(app):
        alerts.raise_alert(Alert("key_revoked", "x"))
        with anyio.fail_after(5):
            await alerts.drain()
        task = alerts._task
        assert task is not None
        assert not task.done()
    assert alerts._task is None
    assert task.done()
    assert len(receiver.posts) == 1


async def test_the_webhook_url_never_reaches_a_log(
    receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Webhook URLs often embed their secret (Slack, Teams): httpx's request log hides it."""
    import logging

    caplog.set_level(logging.DEBUG)
    url = receiver.url + "/T000/B000/secret-path-123"
    dispatcher = AlertDispatcher(url, backoff=0.01)
    dispatcher.raise_alert(Alert("key_revoked", "x"))
    with anyio.fail_after(5):
        await dispatcher.drain()
    assert len(receiver.posts) == 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: POST" in text  # httpx did log the request ...
    assert "secret-path-123" not in text  # ... without the URL's secret
    await dispatcher.aclose()


async def test_the_account_burst_alert_fires_with_the_default_settings(
    receiver: Any,
    make_issuer: Callable[..., Any],
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    """At 10 per 5 minutes the alert could never fire: the default lock refuses the 6th
    attempt uncounted. It now fires with the failure that locks the account."""
    app = await make_issuer(alert_webhook_url=receiver.url, ip_burst=50)
    async with make_client(app) as c:
        codes = [
            (await c.post("/login", json={"username": "john", "password": "x"})).status_code
            for _ in range(6)
        ]
    assert codes == [401] * 5 + [429]
    with anyio.fail_after(10):
        await app.state.observability.alerts.drain()
    assert [json.loads(body)["rule"] for _, body in receiver.posts] == [
        "login_failure_burst_account"
    ]
    await app.state.observability.aclose()
