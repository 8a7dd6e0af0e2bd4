"""Brute-force limits: per-account failure windows and per-IP windows, memory and Redis."""

import uuid
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from jotauth.issuer.services.ratelimit import RateLimiter, account_key
from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio

BAD = {"username": "john", "password": "wrong"}
GOOD = {"username": "john", "password": "password123"}


async def test_ip_limit_allows_a_burst_then_holds_the_rate() -> None:
    """IP_BURST attempts pass at once; then the address waits until the burst has been paid
    for at IP_RATE per second (here 3 at 1.5/s: 2 s), and other addresses are unaffected."""
    limiter = RateLimiter(Settings(ip_burst=3, ip_rate=1.5))
    ip = f"192.0.2.{uuid.uuid4().int % 250}"
    results = [await limiter.check("login", ip, None) for _ in range(4)]
    assert [d.allowed for d in results] == [True, True, True, False]
    assert (results[3].scope, results[3].retry_after) == ("ip", 2)
    assert (await limiter.check("login", "198.51.100.77", None)).allowed
    assert (await limiter.check("register", ip, None)).allowed  # per action
    await anyio.sleep(2.1)
    assert (await limiter.check("login", ip, None)).allowed
    await limiter.aclose()


async def test_refused_ip_attempts_do_not_prolong_the_wait() -> None:
    """Hammering a refused address does not push its next allowed attempt further away."""
    limiter = RateLimiter(Settings(ip_burst=2, ip_rate=1))
    ip = "192.0.2.200"
    for _ in range(2):
        await limiter.check("login", ip, None)
    for _ in range(30):
        assert not (await limiter.check("login", ip, None)).allowed
    await anyio.sleep(2.1)
    assert (await limiter.check("login", ip, None)).allowed
    await limiter.aclose()


@pytest.mark.redis
async def test_redis_ip_limit_is_shared_between_instances(redis_url: str) -> None:
    """Two workers with the same Redis count into one per-IP window."""
    ip = f"test-{uuid.uuid4()}"
    settings = Settings(ratelimit_redis_url=redis_url, ip_burst=2, ip_rate=0.01)
    a, b = RateLimiter(settings), RateLimiter(settings)
    try:
        assert (await a.check("login", ip, None)).allowed
        assert (await b.check("login", ip, None)).allowed
        refused = await a.check("login", ip, None)
        assert not refused.allowed
        assert 190 < refused.retry_after <= 200  # a burst of 2 at 0.01 per second
    finally:
        await a.aclose()
        await b.aclose()


def test_account_key_is_opaque_and_case_insensitive() -> None:
    """Keys never hold the username and treat John, JOHN and its full-width form alike."""
    assert account_key("John") == account_key("JOHN") == account_key("\uff4a\uff4f\uff48\uff4e")
    assert "john" not in account_key("john")
    assert account_key("john") != account_key("jane")


def test_limits_and_login_compare_names_in_one_form() -> None:
    """The limiter stripped spaces where the user lookup did not: " john" counted against
    john's lock but could never log in as john. Both now use ``username_key``."""
    from jotauth.issuer.services.users import username_key

    assert account_key(" john") != account_key("john")
    assert username_key(" john") != username_key("john")
    assert account_key("\uff2a\uff4f\uff48\uff4e") == account_key("john")


async def test_limiter_locks_account_for_at_most_one_window() -> None:
    """After the allowed failures the account is refused, and free again after the window."""
    limiter = RateLimiter(Settings(account_limit="2 per 1 second"))
    name = f"user-{uuid.uuid4()}"
    assert (await limiter.check("login", None, name)).allowed
    await limiter.record_failure(name)
    await limiter.record_failure(name)
    locked = await limiter.check("login", None, name)
    assert not locked.allowed
    assert locked.scope == "account"
    assert 1 <= locked.retry_after <= 1
    await anyio.sleep(1.1)
    assert (await limiter.check("login", None, name)).allowed
    await limiter.aclose()


async def test_limiter_success_clears_failures() -> None:
    """A successful login forgets earlier failures."""
    limiter = RateLimiter(Settings(account_limit="2 per 1 minute"))
    await limiter.record_failure("amy")
    await limiter.record_success("amy")
    await limiter.record_failure("amy")
    assert (await limiter.check("login", None, "amy")).allowed
    await limiter.aclose()


async def test_limiter_fails_open_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    """With the counter store unreachable logins still work, and the outage is logged."""
    limiter = RateLimiter(Settings(ratelimit_redis_url="redis://127.0.0.1:1/0"))
    assert (await limiter.check("login", "198.51.100.1", "john")).allowed
    await limiter.record_failure("john")
    assert "failing open" in caplog.text
    await limiter.aclose()


def _new_user(n: int) -> dict[str, str]:
    return {"username": f"newcomer{n}", "password": "long enough password"}


async def _fail(client: httpx.AsyncClient, n: int, body: dict[str, str] = BAD) -> list[int]:
    return [(await client.post("/login", json=body)).status_code for _ in range(n)]


async def test_account_lockout_answers_429_with_retry_after(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Five failures lock the account: even the right password then gets 429 + Retry-After."""
    app = await make_issuer(ip_burst=100)
    async with make_client(app) as c:
        assert await _fail(c, 5) == [401] * 5
        r = await c.post("/login", json=GOOD)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 15 * 60
        assert r.json()["error"] == "rate_limited"
        assert r.headers["cache-control"] == "no-store"


async def test_lockout_does_not_reveal_which_accounts_exist(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """An unknown username is limited exactly like a real one."""
    app = await make_issuer(ip_burst=100)
    async with make_client(app) as c:
        real = await _fail(c, 6)
        ghost = await _fail(c, 6, {"username": "nobody-here", "password": "x"})
    assert real == ghost == [401] * 5 + [429]


async def test_lockout_is_per_account(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Locking one account leaves another (from the same IP) alone."""
    app = await make_issuer(ip_burst=100)
    async with make_client(app) as c:
        await _fail(c, 5, {"username": "victim", "password": "x"})
        assert (await c.post("/login", json=GOOD)).status_code == 200


async def test_success_resets_the_failure_count(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """A user who mistypes four times, then logs in, starts from zero."""
    app = await make_issuer(ip_burst=100)
    async with make_client(app) as c:
        await _fail(c, 4)
        assert (await c.post("/login", json=GOOD)).status_code == 200
        assert await _fail(c, 5) == [401] * 5


async def test_form_logins_and_oauth_password_grant_count_as_logins(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """/oauth/token's password grant is the same login: its failures lock /login too."""
    app = await make_issuer(ip_burst=100)
    async with make_client(app) as c:
        for _ in range(5):
            form = {"grant_type": "password", "username": "john", "password": "nope"}
            r = await c.post("/oauth/token", data=form)
            assert r.status_code == 400
        assert (await c.post("/login", json=GOOD)).status_code == 429
        form = {"grant_type": "password", **GOOD}
        assert (await c.post("/oauth/token", data=form)).status_code == 429


async def test_ip_bucket_limits_registration_and_other_ips_are_unaffected(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """A burst of registrations from one IP hits 429; another IP still registers."""
    app = await make_issuer(ip_burst=3, ip_rate=0.01)
    async with make_client(app, ip="198.51.100.9") as c:
        codes = [(await c.post("/register", json=_new_user(i))).status_code for i in range(4)]
        r = await c.post("/register", json=_new_user(4))
    assert codes == [201, 201, 201, 429]
    assert 290 <= int(r.headers["retry-after"]) <= 300  # a burst of 3 at 0.01/s
    async with make_client(app, ip="198.51.100.10") as other:
        assert (await other.post("/register", json=_new_user(5))).status_code == 201


async def test_429_is_counted_in_metrics(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Each refusal shows up as jotauth_rate_limited_total{action,scope}."""
    app = await make_issuer(ip_burst=1, ip_rate=0.01, metrics_token="scrape-me")
    async with make_client(app) as c:
        await c.post("/refresh", json={"refresh_token": "x"})
        await c.post("/refresh", json={"refresh_token": "x"})
        text = (await c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text
    assert 'jotauth_rate_limited_total{action="refresh",scope="ip"} 1.0' in text
    assert (
        'jotauth_http_request_duration_seconds_count{method="POST",route="/refresh",status="429"}'
        " 1.0" in text
    )


async def test_limits_can_be_turned_off(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """JOTAUTH_RATELIMIT_ENABLED=false leaves the services without limits."""
    app = await make_issuer(ratelimit_enabled=False)
    async with make_client(app) as c:
        assert await _fail(c, 7) == [401] * 7


@pytest.mark.redis
async def test_workers_share_lockouts_through_redis(
    redis_url: str,
    make_issuer: Callable[..., Any],
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    """Failures seen by one worker lock the account on another worker sharing Redis."""
    name = f"shared-{uuid.uuid4()}"
    options: dict[str, Any] = {"redis_url": redis_url, "ip_burst": 100}
    worker_a = await make_issuer(**options)
    worker_b = await make_issuer(**options)
    bad = {"username": name, "password": "x"}
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.1"
    async with make_client(worker_a, ip=ip) as a, make_client(worker_b, ip=ip) as b:
        assert await _fail(a, 3, bad) == [401] * 3
        assert await _fail(b, 2, bad) == [401] * 2
        assert (await a.post("/login", json=bad)).status_code == 429
        assert (await b.post("/login", json=bad)).status_code == 429
    for app in (worker_a, worker_b):
        await app.state.observability.aclose()


async def test_limiter_failing_open_is_counted_and_skips_redis_while_open() -> None:
    """While the counter store is out, each check fails open without trying it again until the
    cool-down, counted in jotauth_ratelimit_fail_open; jotauth_dependency_up says 0 (13.6)."""
    from jotauth.issuer.observability.metrics import HardeningMetrics

    metrics = HardeningMetrics()
    limiter = RateLimiter(Settings(ratelimit_redis_url="redis://127.0.0.1:1/0"), monitor=metrics)
    for _ in range(4):  # well within the 5 s cool-down
        assert (await limiter.check("login", "198.51.100.1", "john")).allowed
    assert limiter.breaker.skipped == 3
    assert metrics.registry.get_sample_value("jotauth_ratelimit_fail_open_total") == 4
    up = metrics.registry.get_sample_value(
        "jotauth_dependency_up", {"dependency": "ratelimit_store"}
    )
    assert up == 0
    await limiter.aclose()


async def test_memory_storage_answers_as_limits_own_does() -> None:
    """The limiter's memory storage replaces only the expiry of ``limits``' own: the same
    hits, tests and clears on both, moving and fixed windows, give the same answers."""
    import limits
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

    from jotauth.issuer.services.ratelimit import limits_storage

    ours: Any = limits_storage(Settings())
    theirs = MemoryStorage()
    moving = limits.parse("3 per 10 minutes")
    fixed = limits.parse("2 per 10 minutes")
    answers: dict[str, list[object]] = {"ours": [], "theirs": []}
    for name, storage in (("ours", ours), ("theirs", theirs)):
        window, counter = MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage)
        seen = answers[name]
        for step in range(12):
            key = f"k{step % 2}"
            seen.append(await window.hit(moving, key))
            seen.append(await window.test(moving, key))
            seen.append((await window.get_window_stats(moving, key)).remaining)
            seen.append(await counter.hit(fixed, key))
            seen.append((await counter.get_window_stats(fixed, key)).remaining)
            if step == 7:
                await window.clear(moving, "k1")
                await counter.clear(fixed, "k0")
    assert answers["ours"] == answers["theirs"]
    assert False in answers["ours"]
    assert True in answers["ours"]


async def test_memory_storage_starts_no_task_and_bounds_each_window() -> None:
    """``limits``' storage starts a task per hit that walks every key through a thread; the
    limiter's starts none, and keeps at most ``limit`` entries per moving window."""
    import asyncio

    import limits
    from limits.aio.strategies import MovingWindowRateLimiter

    from jotauth.issuer.services.ratelimit import limits_storage

    storage: Any = limits_storage(Settings())
    window = MovingWindowRateLimiter(storage)
    item = limits.parse("5 per 15 minutes")
    before = len(asyncio.all_tasks())
    for _ in range(50):
        await window.hit(item, "busy")
    for key in range(20):
        await window.hit(item, f"ip{key}")
    assert len(asyncio.all_tasks()) == before
    assert storage.timer is None
    assert max(len(events) for events in storage.events.values()) == 5


async def test_memory_storage_sweeps_expired_keys_in_batches() -> None:
    """Expired windows and counters are dropped by a sweep that takes one batch of keys per
    call, never the whole storage on one request, and never a live key."""
    import time

    from jotauth.issuer.services.ratelimit import _MemoryStorage

    storage = _MemoryStorage(sweep_interval=60, sweep_batch=100)
    for key in range(300):
        await storage.acquire_entry(f"old{key}", 5, 1)
        await storage.incr(f"count{key}", 1)
    await storage.acquire_entry("live", 5, 3600)
    await storage.incr("live-count", 3600)
    later = time.time() + 120  # past the old keys' expiry and the next sweep's time
    storage._sweep_some(later)
    assert 602 - 100 <= len(storage.events) + len(storage.expirations) < 602  # one batch
    for _ in range(10):
        storage._sweep_some(later)
    assert set(storage.events) == {"live"}
    assert set(storage.expirations) == {"live-count"}
    assert await storage.get("live-count") == 1
    assert await storage.decr("live-count") == 0
