"""Per-account limits on registration and refresh, over HTTP against the real auth server.

Each app is ``create_app`` on a fresh SQLite file with a ``ManualClock``. The windows are
``limits``' and read the real time, so a lockout's end is shown with a window of 2 seconds.
The per-IP limit is opened wide (``JOTAUTH_RATELIMIT_IP_BURST``) unless a test is about it,
so that each test sees the per-account limit alone.
"""

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from jotauth.guard.testing import ManualClock
from jotauth.issuer.app import create_app
from jotauth.issuer.services.users import username_key
from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio

MASTER = secrets.token_bytes(32)
WINDOW = 15 * 60
GOOD_PASSWORD = "correct-horse-battery-staple"
SCRAPE = {"Authorization": "Bearer scrape-me"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
def build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> Iterator[Callable[..., Any]]:
    """create_app with the default limits (the IP window opened wide unless asked)."""
    apps: list[Any] = []

    def _build(database: str = "db.sqlite", **changes: Any) -> Any:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / database}",
            issuer="https://auth.test",
            audience="jotauth",
            mode="production",
            master_key=MASTER,
            argon2_time_cost=1,
            argon2_memory_cost=64,
            argon2_parallelism=1,
            registration_open=True,
            refresh_grace=0,
            audit_log=False,
            metrics_token="scrape-me",
            **{"ip_burst": 1000, **changes},
        )
        app = create_app(settings, clock=clock, sleep=clock.advance)
        apps.append(app)
        return app

    yield _build
    for app in apps:
        app.state.store.close()


def http(app: Any, ip: str = "203.0.113.5") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 4000)), base_url="https://auth.test"
    )


async def register(c: httpx.AsyncClient, name: str, password: str = "short") -> httpx.Response:
    return await c.post("/register", json={"username": name, "password": password})


def user_named(app: Any, name: str) -> Any:
    return app.state.store.find_user(username_key(name))


def assert_rate_limited(r: httpx.Response, *, most: int = WINDOW) -> int:
    """The documented 429: Retry-After in whole seconds, the usual error body, no-store."""
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "rate_limited"
    assert r.headers["cache-control"] == "no-store"
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= most
    return retry


# -- registration ---------------------------------------------------------------------------


async def test_registration_attempts_for_one_name_are_limited(build: Callable[..., Any]) -> None:
    """Five attempts for one username pass to the server; the sixth gets 429 + Retry-After."""
    app = build()
    async with http(app) as c:
        codes = [(await register(c, "newbie")).status_code for _ in range(5)]
        refused = await register(c, "newbie", GOOD_PASSWORD)
    assert codes == [400] * 5  # too-short passwords: refused by the issuer, still attempts
    assert assert_rate_limited(refused) == WINDOW
    assert user_named(app, "newbie") is None  # the refused registration created nobody


async def test_taken_and_free_names_get_the_same_answers(build: Callable[..., Any]) -> None:
    """Probing a taken name is limited exactly like a free one: the 429 reveals nothing."""
    app = build()
    async with http(app) as c:
        assert (await register(c, "taken", GOOD_PASSWORD)).status_code == 201
        taken = [await register(c, "taken", GOOD_PASSWORD) for _ in range(5)]
        free = [await register(c, "free") for _ in range(6)]
    assert [r.status_code for r in taken] == [409, 409, 409, 409, 429]
    assert [r.status_code for r in free] == [400] * 5 + [429]
    assert taken[-1].json() == free[-1].json()
    assert taken[-1].headers["retry-after"] == free[-1].headers["retry-after"]


async def test_names_are_counted_normalized(build: Callable[..., Any]) -> None:
    """Newbie, NEWBIE and its full-width form share one count, as they share one account."""
    app = build()
    forms = ["Newbie", "NEWBIE", "newbie", "\uff4e\uff45\uff57\uff42\uff49\uff45", "nEwBiE"]
    async with http(app) as c:
        assert [(await register(c, name)).status_code for name in forms] == [400] * 5
        assert_rate_limited(await register(c, "newbie", GOOD_PASSWORD))


async def test_other_names_and_addresses_are_unaffected(build: Callable[..., Any]) -> None:
    """A locked name leaves other names alone, from the same address or another one."""
    app = build()
    async with http(app) as c, http(app, ip="198.51.100.20") as other:
        for _ in range(5):
            await register(c, "target")
        assert_rate_limited(await register(c, "target", GOOD_PASSWORD))
        assert_rate_limited(await register(other, "target", GOOD_PASSWORD))  # per account
        assert (await register(c, "bystander", GOOD_PASSWORD)).status_code == 201
        assert (await register(other, "neighbour", GOOD_PASSWORD)).status_code == 201
    assert user_named(app, "bystander") is not None


async def test_registration_lock_ends_one_window_after_the_first_attempt(
    build: Callable[..., Any],
) -> None:
    """Hammering a locked name does not extend the lock: it ends one window after it began."""
    app = build(register_limit="5 per 2 seconds")
    async with http(app) as c:
        for _ in range(5):
            await register(c, "patient")
        for _ in range(20):
            assert_rate_limited(await register(c, "patient", GOOD_PASSWORD), most=2)
        assert user_named(app, "patient") is None
        await anyio.sleep(2.1)
        r = await register(c, "patient", GOOD_PASSWORD)
    assert r.status_code == 201
    assert user_named(app, "patient") is not None


async def test_registration_limit_is_configurable_and_counted_in_metrics(
    build: Callable[..., Any],
) -> None:
    """JOTAUTH_RATELIMIT_REGISTER sets the limit; refusals show in jotauth_rate_limited_total."""
    app = build(register_limit="2 per hour")
    async with http(app) as c:
        assert [(await register(c, "x-user")).status_code for _ in range(2)] == [400, 400]
        assert assert_rate_limited(await register(c, "x-user"), most=3600) == 3600
        text = (await c.get("/metrics", headers=SCRAPE)).text
    assert 'jotauth_rate_limited_total{action="register",scope="account"} 1.0' in text


async def test_registration_ip_bucket_still_applies(build: Callable[..., Any]) -> None:
    """Many names from one address are paced by the IP bucket, which the account limit adds to."""
    app = build(ip_burst=3, ip_rate=0.01)
    async with http(app) as c:
        codes = [(await register(c, f"name{i}", GOOD_PASSWORD)).status_code for i in range(4)]
        r = await register(c, "name9", GOOD_PASSWORD)
    assert codes == [201, 201, 201, 429]
    assert assert_rate_limited(r, most=300) >= 290  # a burst of 3 paid for at 0.01/s
    assert user_named(app, "name3") is None
    assert user_named(app, "name9") is None


# -- refresh --------------------------------------------------------------------------------


async def add_user(app: Any, name: str) -> str:
    user = await app.state.auth.create_user(name, GOOD_PASSWORD, roles=["user"])
    return str(user.sub)


async def login(c: httpx.AsyncClient, name: str) -> dict[str, Any]:
    r = await c.post("/login", json={"username": name, "password": GOOD_PASSWORD})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def refresh(c: httpx.AsyncClient, token: str) -> httpx.Response:
    return await c.post("/refresh", json={"refresh_token": token})


async def dead_tokens(c: httpx.AsyncClient, name: str, count: int) -> list[str]:
    """Refresh tokens of ``count`` sessions of ``name`` that were logged out."""
    tokens = []
    for _ in range(count):
        pair = await login(c, name)
        r = await c.post(
            "/logout",
            json={"refresh_token": pair["refresh_token"]},
            headers={"Authorization": f"Bearer {pair['access_token']}"},
        )
        assert r.status_code == 200
        tokens.append(pair["refresh_token"])
    return tokens


async def test_reuse_then_replays_lock_the_family(build: Callable[..., Any]) -> None:
    """After reuse is detected, replaying the family's tokens is refused with 429 at the limit."""
    app = build()
    await add_user(app, "john")
    async with http(app) as c:
        first = await login(c, "john")
        second = (await refresh(c, first["refresh_token"])).json()
        reuse = await refresh(c, first["refresh_token"])  # reuse: the family is revoked
        replays = [await refresh(c, t) for t in (second["refresh_token"], first["refresh_token"])]
        more = [await refresh(c, first["refresh_token"]) for _ in range(2)]
        refused = await refresh(c, second["refresh_token"])
    assert reuse.status_code == 401
    assert [r.status_code for r in replays + more] == [401] * 4
    assert_rate_limited(refused)


async def test_failures_across_sessions_lock_the_user_until_they_log_in(
    build: Callable[..., Any],
) -> None:
    """Five failed refreshes of one user's dead sessions hold back the user's live session too,
    without consuming its token; a password login ends that and other users never notice."""
    app = build()
    await add_user(app, "john")
    await add_user(app, "jane")
    async with http(app) as c, http(app, ip="198.51.100.66") as attacker:
        live = await login(c, "john")
        jane = await login(c, "jane")
        for token in await dead_tokens(c, "john", 5):
            assert (await refresh(attacker, token)).status_code == 401
        assert_rate_limited(await refresh(c, live["refresh_token"]))
        assert (await refresh(c, jane["refresh_token"])).status_code == 200
        await login(c, "john")  # a password login proves the user: the user's count is cleared
        r = await refresh(c, live["refresh_token"])
    assert r.status_code == 200  # the 429 left the live token unused
    assert r.json()["refresh_token"] != live["refresh_token"]


async def test_refresh_lock_ends_after_the_window(build: Callable[..., Any]) -> None:
    """Without a login, the lock on a user lifts one window after the first counted failure,
    however often the user is refused meanwhile."""
    app = build(refresh_limit="3 per 2 seconds")
    await add_user(app, "john")
    async with http(app) as c:
        live = await login(c, "john")
        for token in await dead_tokens(c, "john", 3):
            assert (await refresh(c, token)).status_code == 401
        for _ in range(5):
            assert_rate_limited(await refresh(c, live["refresh_token"]), most=2)
        await anyio.sleep(2.1)
        r = await refresh(c, live["refresh_token"])
    assert r.status_code == 200


async def test_a_dead_family_stays_locked_after_the_user_logs_in(
    build: Callable[..., Any],
) -> None:
    """Clearing the user's count on login does not let an attacker replay a dead family again."""
    app = build()
    await add_user(app, "john")
    async with http(app) as c:
        (dead,) = await dead_tokens(c, "john", 1)
        assert [(await refresh(c, dead)).status_code for _ in range(5)] == [401] * 5
        fresh = await login(c, "john")
        assert_rate_limited(await refresh(c, dead))
        assert (await refresh(c, fresh["refresh_token"])).status_code == 200


async def test_disabled_account_refreshes_are_counted(build: Callable[..., Any]) -> None:
    """A disabled account's session is attributed to its user like any other refused refresh."""
    app = build(refresh_limit="2 per 15 minutes")
    user_id = await add_user(app, "john")
    async with http(app) as c:
        pair = await login(c, "john")
        await app.state.auth.set_disabled(int(user_id), True, _client(), actor="test")
        codes = [(await refresh(c, pair["refresh_token"])).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def _client() -> Any:
    from jotauth.issuer.services.auth import Client

    return Client(ip="127.0.0.1")


async def test_unknown_tokens_fall_back_to_the_ip_bucket(build: Callable[..., Any]) -> None:
    """Unknown tokens belong to nobody: no account is locked, the IP bucket paces them."""
    app = build(ip_burst=6, ip_rate=0.01)
    await add_user(app, "john")
    async with http(app) as c, http(app, ip="198.51.100.99") as attacker:
        guesses = [
            (await refresh(attacker, secrets.token_urlsafe(32))).status_code for _ in range(7)
        ]
        pair = await login(c, "john")
        r = await refresh(c, pair["refresh_token"])
        text = (await c.get("/metrics", headers=SCRAPE)).text
    assert guesses == [401] * 6 + [429]
    assert r.status_code == 200
    assert 'jotauth_rate_limited_total{action="refresh",scope="ip"} 1.0' in text


async def test_oauth_refresh_grant_is_limited_too(build: Callable[..., Any]) -> None:
    """The token endpoint's refresh grant (form-encoded) is attributed and limited the same way."""
    app = build(refresh_limit="2 per 15 minutes")
    await add_user(app, "john")
    async with http(app) as c:
        (dead,) = await dead_tokens(c, "john", 1)
        form = {"grant_type": "refresh_token", "refresh_token": dead}
        codes = [(await c.post("/oauth/token", data=form)).status_code for _ in range(2)]
        refused = await c.post("/oauth/token", data=form)
        text = (await c.get("/metrics", headers=SCRAPE)).text
    assert codes == [400, 400]  # RFC 6749 section 5.2: invalid_grant is a 400 here
    assert_rate_limited(refused)
    assert 'jotauth_rate_limited_total{action="refresh",scope="account"} 1.0' in text


async def test_cookie_refreshes_are_attributed(build: Callable[..., Any]) -> None:
    """In browser mode the refresh token comes in a cookie; it is looked up all the same."""
    app = build(cookie_mode="on", refresh_limit="2 per 15 minutes")
    await add_user(app, "john")
    async with http(app) as c:
        (dead,) = await dead_tokens(c, "john", 1)
        csrf = secrets.token_urlsafe(16)
        cookies = f"__Secure-refresh_token={dead}; __Host-csrf_token={csrf}"
        headers = {"Cookie": cookies, "X-CSRF-Token": csrf}
        codes = [(await c.post("/refresh", headers=headers)).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


async def test_refused_refresh_events_name_the_user_and_family(build: Callable[..., Any]) -> None:
    """The issuer's failed-refresh event carries the user and the session (sid) it belongs to."""
    app = build()
    user_id = await add_user(app, "john")
    seen: list[Any] = []
    app.state.events.subscribe(seen.append)
    async with http(app) as c:
        (dead,) = await dead_tokens(c, "john", 1)
        await refresh(c, dead)
        await refresh(c, secrets.token_urlsafe(32))
    failures = [e for e in seen if e.type == "token_refreshed" and e.outcome == "failure"]
    assert [(e.user_id, bool(e.detail.get("sid"))) for e in failures] == [
        (user_id, True),
        (None, False),
    ]


# -- shared through Redis -------------------------------------------------------------------


@pytest.mark.redis
async def test_workers_share_registration_and_refresh_counts_through_redis(
    build: Callable[..., Any], redis_url: str
) -> None:
    """Two workers on one database and one Redis add up their counts for a name and a user."""
    worker_a = build(ratelimit_redis_url=redis_url)
    worker_b = build(ratelimit_redis_url=redis_url)
    try:
        await _shared_counts(worker_a, worker_b, redis_url)
    finally:
        for app in (worker_a, worker_b):
            await app.state.hardening.aclose()


async def _shared_counts(worker_a: Any, worker_b: Any, redis_url: str) -> None:
    from redis.asyncio import Redis

    username = f"u-{uuid.uuid4().hex[:8]}"
    user_id = await add_user(worker_a, username)
    redis: Any = Redis.from_url(redis_url)
    try:  # user ids repeat across runs on fresh databases: start this one from zero
        await redis.delete(f"jotauth:attempts:refresh-user:{user_id}")
    finally:
        await redis.aclose()
    newcomer = f"n-{uuid.uuid4().hex}"
    async with http(worker_a) as a, http(worker_b) as b:
        assert [(await register(a, newcomer)).status_code for _ in range(3)] == [400] * 3
        assert [(await register(b, newcomer)).status_code for _ in range(2)] == [400] * 2
        assert_rate_limited(await register(a, newcomer, GOOD_PASSWORD))
        assert_rate_limited(await register(b, newcomer, GOOD_PASSWORD))

        live = await login(a, username)
        dead = await dead_tokens(b, username, 5)
        for token in dead[:3]:
            assert (await refresh(a, token)).status_code == 401
        for token in dead[3:]:
            assert (await refresh(b, token)).status_code == 401
        assert_rate_limited(await refresh(a, live["refresh_token"]))
        assert_rate_limited(await refresh(b, live["refresh_token"]))
    assert worker_a.state.store.find_user(username_key(newcomer)) is None


async def test_a_refresh_without_a_token_is_left_to_the_issuer(build: Callable[..., Any]) -> None:
    """With a refusal in force, a body without refresh_token still gets the issuer's own 400."""
    app = build()
    await add_user(app, "john")
    async with http(app) as c:
        for token in await dead_tokens(c, "john", 5):  # john's refreshes are refused now
            assert (await refresh(c, token)).status_code == 401
        assert await app.state.hardening.limiter.refresh_locks_possible()
        r = await c.post("/refresh", json={})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
