"""Prometheus metrics at /metrics: token counts, failures by reason, reuse, latency."""

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from jotauth.issuer.events import AuthEvent, EventType
from jotauth.issuer.observability.metrics import HardeningMetrics

pytestmark = pytest.mark.anyio

LOGIN = {"username": "john", "password": "password123"}
SCRAPE = {"Authorization": "Bearer scrape-me"}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition text (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def test_metrics_count_the_token_lifecycle(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Logins, refreshes, failures and logouts move their counters by exactly one each."""
    async with make_client(make_app(metrics_token="scrape-me")) as c:
        pair = (await c.post("/login", json=LOGIN)).json()
        await c.post("/login", json={"username": "john", "password": "x"})
        await c.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        await c.post("/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
        r = await c.get("/metrics", headers=SCRAPE)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert sample(text, "jotauth_tokens_issued_total", grant="password") == 1
    assert sample(text, "jotauth_tokens_issued_total", grant="refresh_token") == 1
    assert sample(text, "jotauth_tokens_refreshed_total") == 1
    assert sample(text, "jotauth_login_failures_total", reason="invalid_credentials") == 1
    assert sample(text, "jotauth_tokens_revoked_total", reason="logout") == 1
    assert sample(text, "jotauth_auth_events_total", type="login_failed", outcome="failure") == 1


async def test_latency_histogram_uses_route_templates(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Each request lands in the histogram under its route and status; unknown paths and
    methods are bounded."""
    async with make_client(make_app(metrics_token="scrape-me")) as c:
        await c.post("/login", json=LOGIN)
        await c.get("/no/such/path/123")
        await c.get("/another/unknown")
        for number in range(3):  # a method is the client's to make up: bounded too
            await c.request(f"X{number}CUSTOM", "/login")
        text = (await c.get("/metrics", headers=SCRAPE)).text
    name = "jotauth_http_request_duration_seconds_count"
    assert sample(text, name, method="POST", route="/login", status="200") == 1
    assert sample(text, name, method="GET", route="unmatched", status="404") == 2
    assert sample(text, name, method="other", route="/login", status="405") == 3
    assert "/no/such/path" not in text
    assert "CUSTOM" not in text


async def test_verification_failures_counted_by_reason(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Refused tokens are exported from the issuer's guard's own counters, by reason."""
    app = make_app(metrics_token="scrape-me")
    async with make_client(app) as c:
        await c.get("/me", headers={"Authorization": "Bearer nope"})
        await c.get("/me", headers={"Authorization": "Bearer nope"})
        await c.get("/me")
        text = (await c.get("/metrics", headers=SCRAPE)).text
    name = "jotauth_guard_rejected_total"
    assert sample(text, name, service="issuer", reason="malformed_token") == 2
    assert sample(text, name, service="issuer", reason="missing_token") == 1
    assert app.state.guard.stats()["rejected"] == {"malformed_token": 2, "missing_token": 1}


async def test_reuse_detection_is_counted() -> None:
    """A refresh_reuse_detected event moves the reuse counter and the revocation counter."""
    metrics = HardeningMetrics()

    event = AuthEvent(EventType.REFRESH_REUSE_DETECTED, "failure", None, None, None, None)
    metrics.observe_event(event)
    text = metrics.render()[0].decode()
    assert sample(text, "jotauth_refresh_reuse_detected_total") == 1
    assert sample(text, "jotauth_tokens_revoked_total", reason="reuse_detected") == 1


async def test_metrics_token_protects_the_endpoint(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """With JOTAUTH_METRICS_TOKEN set, /metrics needs it as a bearer token."""
    async with make_client(make_app(metrics_token="scrape-me")) as c:
        anonymous = await c.get("/metrics")
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert anonymous.status_code == wrong.status_code == 401
    assert "scrape-me" not in anonymous.text
    assert right.status_code == 200
    assert "jotauth_tokens_issued_total" in right.text


async def test_metrics_need_a_credential_by_default(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Out of the box /metrics is no public page: without a credential it is a 401."""
    async with make_client(make_app()) as c:
        await c.post("/login", json={"username": "ghost", "password": "x"})
        anonymous = await c.get("/metrics")
        guessed = await c.get("/metrics", headers={"Authorization": "Bearer "})
    assert anonymous.status_code == guessed.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "jotauth_login_failures" not in anonymous.text


async def test_metrics_public_is_an_explicit_opt_out(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """JOTAUTH_METRICS_PUBLIC=true serves /metrics to anyone, still without a reason label
    that tells unknown usernames from wrong passwords."""
    async with make_client(make_app(metrics_public=True)) as c:
        await c.post("/login", json={"username": "ghost", "password": "x"})
        await c.post("/login", json={"username": "john", "password": "x"})
        r = await c.get("/metrics")
    assert r.status_code == 200
    assert sample(r.text, "jotauth_login_failures_total", reason="invalid_credentials") == 2


async def test_metrics_can_be_turned_off(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """JOTAUTH_METRICS_ENABLED=false: /metrics is simply not there."""
    async with make_client(make_app(metrics_enabled=False)) as c:
        assert (await c.get("/metrics", headers=SCRAPE)).status_code == 404


async def test_two_apps_in_one_process_do_not_collide(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Each app has its own registry: counts of one never show in the other."""
    a, b = make_app(metrics_token="scrape-me"), make_app(metrics_token="scrape-me")
    async with make_client(a) as ca, make_client(b) as cb:
        await ca.post("/login", json=LOGIN)
        text_b = (await cb.get("/metrics", headers=SCRAPE)).text
    assert sample(text_b, "jotauth_tokens_issued_total", grant="password") == 0
