"""The hardening layer inside the real auth server: events, audit API, cookies, limits, timing.

Every test builds the issuer with ``create_app`` on a fresh SQLite file and drives it over HTTP
in-process (httpx ASGITransport); each test passes the settings it needs to ``create_app``.
"""

import json
import logging
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from jotauth import jose
from jotauth.guard import Guard
from jotauth.issuer.app import create_app
from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio

MASTER = secrets.token_bytes(32)
ADMIN_GRANTS = {"admin": ["*"]}
USER_GRANTS = {"articles": ["read"]}
SCRAPE = {"Authorization": "Bearer scrape-me"}


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """create_app on a fresh SQLite database, cheap Argon2 unless asked otherwise."""
    apps: list[Any] = []

    def _build(**changes: Any) -> Any:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / f'db{len(apps)}.sqlite'}",
            "issuer": "https://auth.test",
            "audience": "jotauth",
            "mode": "production",
            "master_key": MASTER,
            "argon2_time_cost": 1,
            "argon2_memory_cost": 64,
            "argon2_parallelism": 1,
            "registration_open": True,
            "refresh_grace": 0,
            "metrics_token": "scrape-me",
        }
        values.update(changes)
        app = create_app(Settings(**values))
        apps.append(app)
        return app

    yield _build
    for app in apps:
        app.state.store.close()


@pytest.fixture
async def users() -> Callable[..., Any]:
    async def _add(app: Any) -> None:
        auth = app.state.auth
        await auth.create_user("john", "password123", roles=["user"], permissions=USER_GRANTS)
        await auth.create_user("root", "admin-pass-123", roles=["admin"], permissions=ADMIN_GRANTS)

    return _add


def http(app: Any, ip: str = "203.0.113.5") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 4000)),
        base_url="https://auth.test",
        headers={"User-Agent": "hardening-tests/1"},
    )


async def login(c: httpx.AsyncClient, user: str, password: str, **kw: Any) -> httpx.Response:
    return await c.post("/login", json={"username": user, "password": password}, **kw)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- events -> metrics, audit log, alerts, admin API ---------------------------------------


async def test_full_flow_feeds_metrics_audit_alerts_and_the_admin_api(
    build: Callable[..., Any],
    users: Callable[..., Any],
    receiver: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Login, failure, refresh, reuse and key revocation each show up everywhere they should."""
    caplog.set_level(logging.DEBUG)
    app = build(alert_webhook_url=receiver.url)
    await users(app)
    secrets_seen = ["password123", "admin-pass-123", "wrong-password-1"]
    async with http(app) as c:
        pair = (await login(c, "john", "password123")).json()
        assert (await login(c, "john", "wrong-password-1")).status_code in (400, 401)
        fresh = (await c.post("/refresh", json={"refresh_token": pair["refresh_token"]})).json()
        reuse = await c.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert reuse.status_code in (400, 401)
        admin = (await login(c, "root", "admin-pass-123")).json()
        secrets_seen += [pair["access_token"], pair["refresh_token"], fresh["refresh_token"]]
        secrets_seen += [admin["access_token"], admin["refresh_token"]]
        keys = (await c.get("/admin/keys", headers=bearer(admin["access_token"]))).json()
        kid = next(k["kid"] for k in keys["keys"] if k["state"] == "active")
        revoked = await c.post(f"/admin/keys/{kid}/revoke", headers=bearer(admin["access_token"]))
        assert revoked.status_code == 200, revoked.text
        admin2 = (await login(c, "root", "admin-pass-123")).json()
        secrets_seen += [admin2["access_token"], admin2["refresh_token"]]
        metrics = (await c.get("/metrics", headers=SCRAPE)).text
        audit = await c.get("/admin/audit", headers=bearer(admin2["access_token"]))
        failed = await c.get(
            "/admin/audit",
            params={"type": "login_failed", "limit": 5},
            headers=bearer(admin2["access_token"]),
        )
    with anyio.fail_after(10):
        await app.state.hardening.alerts.drain()

    # metrics
    assert 'jotauth_tokens_issued_total{grant="password"} 3.0' in metrics
    assert "jotauth_tokens_refreshed_total 1.0" in metrics
    assert 'jotauth_login_failures_total{reason="invalid_credentials"} 1.0' in metrics
    assert "jotauth_refresh_reuse_detected_total 1.0" in metrics
    assert 'jotauth_tokens_revoked_total{reason="key_revoked"} 1.0' in metrics

    # alerts: reuse and key revocation reached the webhook
    rules = sorted(json.loads(body)["rule"] for _, body in receiver.posts)
    assert rules == ["key_revoked", "refresh_token_reuse"]

    # admin audit API: newest first, with who / where / outcome
    assert audit.status_code == 200
    events = audit.json()["events"]
    types = [e["type"] for e in events]
    for expected in ("login_succeeded", "login_failed", "token_refreshed", "key_revoked"):
        assert expected in types
    assert "refresh_reuse_detected" in types
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)
    failure = failed.json()["events"]
    assert [e["type"] for e in failure] == ["login_failed"]
    assert failure[0]["username"] == "john"
    assert failure[0]["outcome"] == "failure"
    assert failure[0]["ip"] == "203.0.113.5"
    assert failure[0]["user_agent"] == "hardening-tests/1"

    # JSON audit lines were written, and no secret reached any log record
    lines = [r.getMessage() for r in caplog.records if r.name == "jotauth.audit"]
    assert any(json.loads(line)["event"] == "refresh_reuse_detected" for line in lines)
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in secrets_seen:
        assert secret not in everything
    await app.state.hardening.aclose()


async def test_admin_audit_api_requires_the_admin_permission(
    build: Callable[..., Any], users: Callable[..., Any]
) -> None:
    """No token: 401; a user's token: 403; bad filters: 400; an admin: 200."""
    app = build(ratelimit_enabled=False)
    await users(app)
    async with http(app) as c:
        user = (await login(c, "john", "password123")).json()["access_token"]
        admin = (await login(c, "root", "admin-pass-123")).json()["access_token"]
        assert (await c.get("/admin/audit")).status_code == 401
        forbidden = await c.get("/admin/audit", headers=bearer(user))
        assert forbidden.status_code == 403
        assert forbidden.json()["error"] == "insufficient_scope"
        assert "admin" in forbidden.json()["error_description"]
        for params in (
            {"since": "last tuesday"},
            {"outcome": "meh"},
            {"since": "2030-01-01", "until": "2020-01-01"},
        ):
            r = await c.get("/admin/audit", params=params, headers=bearer(admin))
            assert r.status_code == 400, params
            assert r.json()["error"] == "invalid_request"
        r = await c.get("/admin/audit", params={"limit": 0}, headers=bearer(admin))
        assert r.status_code in (400, 422)
        ok = await c.get(
            "/admin/audit",
            params={"user_id": "1", "outcome": "success", "since": "2000-01-01T00:00:00Z"},
            headers=bearer(admin),
        )
    assert ok.status_code == 200
    assert ok.headers["cache-control"] == "no-store"
    assert {e["user_id"] for e in ok.json()["events"]} == {"1"}
    assert {e["outcome"] for e in ok.json()["events"]} == {"success"}


async def test_metrics_do_not_tell_unknown_users_from_wrong_passwords(
    build: Callable[..., Any], users: Callable[..., Any]
) -> None:
    """An anonymous caller gets no /metrics, and even a scraper's counters merge an unknown
    username and a wrong password into one reason: no oracle of which accounts exist."""
    app = build(ratelimit_enabled=False)
    await users(app)
    async with http(app) as c:
        assert (await login(c, "nobody-here", "password123")).status_code == 401
        assert (await login(c, "john", "wrong-password")).status_code == 401
        anonymous = await c.get("/metrics")
        text = (await c.get("/metrics", headers=SCRAPE)).text
    assert anonymous.status_code == 401
    assert "jotauth_login_failures" not in anonymous.text
    assert 'jotauth_login_failures_total{reason="invalid_credentials"} 2.0' in text
    assert "unknown_user" not in text
    assert "bad_password" not in text
    failed = app.state.store.list_audit_events(type="login_failed")
    assert {e.detail["reason"] for e in failed} == {"unknown_user", "bad_password"}  # admins


async def test_metrics_accept_an_access_token_granting_metrics_read(
    build: Callable[..., Any], users: Callable[..., Any]
) -> None:
    """A scraper may log in as a user holding metrics:read; other users' tokens get a 403."""
    app = build(ratelimit_enabled=False)
    await users(app)
    await app.state.auth.create_user(
        "scraper", "scraper-pass-123", permissions={"metrics": ["read"]}
    )
    async with http(app) as c:
        scraper = (await login(c, "scraper", "scraper-pass-123")).json()["access_token"]
        john = (await login(c, "john", "password123")).json()["access_token"]
        allowed = await c.get("/metrics", headers=bearer(scraper))
        forbidden = await c.get("/metrics", headers=bearer(john))
        head, payload, signature = scraper.split(".")
        tampered = f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        forged = await c.get("/metrics", headers=bearer(tampered))
    assert allowed.status_code == 200
    assert "jotauth_tokens_issued_total" in allowed.text
    assert forbidden.status_code == 403
    assert forged.status_code == 401


# -- brute force on the real endpoints ---------------------------------------------------


async def test_real_login_locks_after_five_failures_for_any_username(
    build: Callable[..., Any], users: Callable[..., Any]
) -> None:
    """Same 429 for a real and an unknown account; other accounts unaffected; OAuth counted."""
    app = build(ip_burst=100)
    await users(app)
    async with http(app) as c:
        real = [(await login(c, "john", "nope")).status_code for _ in range(6)]
        ghost = [(await login(c, "ghost", "nope")).status_code for _ in range(6)]
        locked = await login(c, "john", "password123")
        assert (await login(c, "root", "admin-pass-123")).status_code == 200
        oauth = [
            (
                await c.post(
                    "/oauth/token",
                    data={"grant_type": "password", "username": "root", "password": "x"},
                )
            ).status_code
            for _ in range(6)
        ]
    assert real == ghost == [401] * 5 + [429]
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) <= 15 * 60
    assert oauth == [400] * 5 + [429]


# -- browser mode against the real server and a guard in cookie mode --------------------


async def test_browser_mode_against_the_real_server_and_the_guard(
    build: Callable[..., Any], users: Callable[..., Any]
) -> None:
    """Cookies from the issuer work on the issuer and on a guard-protected service."""
    app = build(cookie_mode="on")
    await users(app)
    async with http(app) as c:
        r = await login(c, "john", "password123", headers={"X-Token-Delivery": "cookie"})
        assert r.status_code == 200
        assert "access_token" not in r.json()
        csrf = r.json()["csrf_token"]
        assert (await c.get("/me")).json()["username"] == "john"
        assert (await c.get("/profile")).json() == {"message": "Welcome, john!"}

        # A service using the guard in cookie mode accepts the very same cookies.
        jwks = (await c.get("/.well-known/jwks.json")).json()
        guard = Guard(
            keys=jose.KeySet.from_jwks(jwks),
            issuer="https://auth.test",
            audience="jotauth",
            cookie="__Host-access_token",
            csrf_cookie="__Host-csrf_token",
        )
        cookie_header = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
        token = guard.extract([], cookie_header, "POST", csrf)
        assert (await guard.authenticate(token)).username == "john"

        assert (await c.post("/logout-all")).status_code == 403  # no CSRF header
        new = await c.post("/refresh", headers={"X-CSRF-Token": csrf})
        assert new.status_code == 200, new.text
        assert "refresh_token" not in new.json()
        changed = await c.post(
            "/password",
            json={"current_password": "password123", "new_password": "a-new-password-42"},
            headers={"X-CSRF-Token": csrf},
        )
        assert changed.status_code == 200, changed.text
        assert "access_token" not in changed.json()
        assert (await c.get("/me")).status_code == 200  # the fresh cookie works
        out = await c.post("/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200, out.text
        assert (await c.get("/me")).status_code == 401


# -- headers on the real server -----------------------------------------------------------


async def test_real_server_headers(build: Callable[..., Any], users: Callable[..., Any]) -> None:
    """no-store on token answers, JWKS stays cacheable, security headers everywhere."""
    app = build()
    await users(app)
    async with http(app) as c:
        ok = await login(c, "john", "password123")
        bad = await c.post("/oauth/token", data={"grant_type": "nope"})
        jwks = await c.get("/.well-known/jwks.json")
    for r in (ok, bad):
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["pragma"] == "no-cache"
    assert "max-age=300" in jwks.headers["cache-control"]
    for r in (ok, bad, jwks):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


# -- uniform login ------------------------------------------------------------------------


@pytest.mark.slow
async def test_unknown_wrong_and_disabled_logins_look_and_take_the_same(
    build: Callable[..., Any],
) -> None:
    """Same status and body, and medians within a generous 2x, with the real Argon2 cost."""
    app = build(
        account_limit="1000 per minute",
        ip_burst=1000,
        argon2_time_cost=2,
        argon2_memory_cost=19456,
        argon2_parallelism=1,
    )
    auth = app.state.auth
    await auth.create_user("alice", "alice-password-1", roles=[], permissions={})
    bob = await auth.create_user("bob", "bob-password-1", roles=[], permissions={})
    await auth.set_disabled(int(bob.sub), True, _client(), "test")
    cases = {
        "unknown": ("nobody-at-all", "whatever-pass"),
        "wrong_password": ("alice", "not-her-password"),
        "disabled": ("bob", "bob-password-1"),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    answers: dict[str, set[tuple[int, str]]] = {name: set() for name in cases}
    async with http(app) as c:
        await login(c, "warm-up", "x")  # the dummy hash is made on first use
        for _ in range(7):
            for name, (user, password) in cases.items():
                started = time.perf_counter()
                r = await login(c, user, password)
                times[name].append(time.perf_counter() - started)
                answers[name].add((r.status_code, r.text))
    assert len({frozenset(a) for a in answers.values()}) == 1  # identical answers
    assert len(answers["unknown"]) == 1
    medians = {name: statistics.median(t) for name, t in times.items()}
    fastest, slowest = min(medians.values()), max(medians.values())
    assert fastest > 0.005, medians  # a real hash ran for every case
    assert slowest / fastest < 2.0, medians


def _client() -> Any:
    from jotauth.issuer.services.auth import Client

    return Client("127.0.0.1", "tests")


async def test_verification_failures_are_counted_by_reason_on_the_real_server(
    build: Callable[..., Any], users: Callable[..., Any]
) -> None:
    """Malformed, tampered and revoked tokens each count under the guard's own reason code."""
    app = build(ratelimit_enabled=False)
    await users(app)
    async with http(app) as c:
        token = (await login(c, "john", "password123")).json()["access_token"]
        head, payload, signature = token.split(".")
        tampered = f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        assert (await c.get("/me", headers=bearer("not-a-jwt"))).status_code == 401
        assert (await c.get("/me", headers=bearer(tampered))).status_code == 401
        assert (await c.post("/logout", headers=bearer(token))).status_code == 200
        assert (await c.get("/me", headers=bearer(token))).status_code == 401
        text = (await c.get("/metrics", headers=SCRAPE)).text
    name = "jotauth_token_verification_failures_total"
    assert f'{name}{{reason="malformed_token"}} 1.0' in text
    assert f'{name}{{reason="bad_signature"}} 1.0' in text
    assert f'{name}{{reason="token_revoked"}} 1.0' in text
    assert 'jotauth_tokens_revoked_total{reason="logout"} 1.0' in text


async def test_a_cross_site_form_cannot_log_a_browser_in(
    build: Callable[..., Any], users: Callable[..., Any]
) -> None:
    """Login CSRF: a form post (the only cross-site POST without CORS) sets no cookie."""
    app = build(cookie_mode="always")
    await users(app)
    async with http(app) as c:
        form = await c.post(
            "/login",
            data={"username": "john", "password": "password123"},
            headers={"Origin": "https://evil.example"},
        )
        plain = await c.post(
            "/login",
            content=b'{"username": "john", "password": "password123"}',
            headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
        )
    for r in (form, plain):
        assert r.status_code == 415
        assert not r.headers.get_list("set-cookie")
