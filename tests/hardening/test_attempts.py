"""Attempt windows (registration and refresh limits): one behaviour in memory and in Redis."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jotauth.guard.testing import ManualClock
from jotauth.issuer.hardening import HardeningSettings, RateLimiter
from jotauth.issuer.hardening.attempts import AttemptStore, MemoryAttempts, RedisAttempts, Rule

pytestmark = pytest.mark.anyio

THREE_PER_MINUTE = Rule(3, 60)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_900_000_000.123456)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[AttemptStore]:
    """Each store kind, on the same manual clock."""
    made: AttemptStore
    if request.param == "memory":
        made = MemoryAttempts(clock=clock)
    else:
        url = request.getfixturevalue("redis_url")
        made = RedisAttempts(url, clock=clock, prefix=f"test:{uuid.uuid4().hex}:")
    yield made
    await made.aclose()


def test_rule_reads_limits_strings() -> None:
    """The settings' strings become an amount and a window in seconds."""
    assert Rule.parse("5 per 15 minutes") == Rule(5, 900.0)
    assert Rule.parse("10/hour") == Rule(10, 3600.0)
    with pytest.raises(ValueError, match="couldn't parse"):
        Rule.parse("often")


async def test_attempts_are_allowed_up_to_the_amount(store: AttemptStore) -> None:
    """Three attempts pass; the fourth waits for the rest of the window."""
    assert [await store.attempt("k", THREE_PER_MINUTE) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await store.attempt("k", THREE_PER_MINUTE) == pytest.approx(60.0)
    assert await store.attempt("other", THREE_PER_MINUTE) == 0.0


async def test_refusals_do_not_extend_the_window(store: AttemptStore, clock: ManualClock) -> None:
    """However often a refused key is tried, it is free one window after its first attempt."""
    for _ in range(3):
        await store.attempt("k", THREE_PER_MINUTE)
    clock.advance(45)
    for _ in range(50):
        wait = await store.attempt("k", THREE_PER_MINUTE)
    assert wait == pytest.approx(15.0)
    clock.advance(15)
    assert await store.attempt("k", THREE_PER_MINUTE) == 0.0
    assert [await store.attempt("k", THREE_PER_MINUTE) > 0 for _ in range(3)] == [
        False,
        False,
        True,
    ]


async def test_blocked_looks_without_counting(store: AttemptStore) -> None:
    """Checking a key never uses up its attempts."""
    for _ in range(10):
        assert await store.blocked("k", THREE_PER_MINUTE) == 0.0
    assert [await store.attempt("k", THREE_PER_MINUTE) for _ in range(3)] == [0.0] * 3
    assert await store.blocked("k", THREE_PER_MINUTE) == pytest.approx(60.0)


async def test_clear_forgets_a_key(store: AttemptStore) -> None:
    """A cleared key starts again from zero; other keys keep their counts."""
    for key in ("a", "b"):
        for _ in range(3):
            await store.attempt(key, THREE_PER_MINUTE)
    await store.clear("a")
    assert await store.blocked("a", THREE_PER_MINUTE) == 0.0
    assert await store.blocked("b", THREE_PER_MINUTE) > 0


async def test_a_clock_set_far_back_does_not_prolong_a_lock(
    store: AttemptStore, clock: ManualClock
) -> None:
    """A clock stepped back by more than a window starts afresh rather than locking for longer."""
    for _ in range(3):
        await store.attempt("k", THREE_PER_MINUTE)
    clock.advance(-3600)
    assert await store.attempt("k", THREE_PER_MINUTE) == 0.0


@pytest.mark.redis
async def test_redis_windows_are_shared_between_instances(
    redis_url: str, clock: ManualClock
) -> None:
    """Two workers pointing at one Redis count into the same window."""
    prefix = f"test:{uuid.uuid4().hex}:"
    a = RedisAttempts(redis_url, clock=clock, prefix=prefix)
    b = RedisAttempts(redis_url, clock=clock, prefix=prefix)
    try:
        assert await a.attempt("k", THREE_PER_MINUTE) == 0.0
        assert await b.attempt("k", THREE_PER_MINUTE) == 0.0
        assert await a.attempt("k", THREE_PER_MINUTE) == 0.0
        assert await b.attempt("k", THREE_PER_MINUTE) == pytest.approx(60.0)
    finally:
        await a.aclose()
        await b.aclose()


# -- the limiter's registration and refresh calls --------------------------------------------


def limiter(clock: ManualClock, **settings: Any) -> RateLimiter:
    return RateLimiter(HardeningSettings(**settings), window_clock=clock)


async def test_limiter_counts_registrations_per_normalized_name(clock: ManualClock) -> None:
    """check("register") counts each allowed attempt and refuses past the limit, by account."""
    rl = limiter(clock, register_limit="2 per minute")
    results = [await rl.check("register", None, name) for name in ("Ann", "ANN", "ann")]
    assert [d.allowed for d in results] == [True, True, False]
    assert (results[2].retry_after, results[2].scope) == (60, "account")
    assert (await rl.check("register", None, "bob")).allowed
    await rl.aclose()


async def test_limiter_refuses_refreshes_by_user_or_family(clock: ManualClock) -> None:
    """Failures count against the user and the family; either one full refuses the refresh."""
    rl = limiter(clock, refresh_limit="2 per minute")
    await rl.record_refresh_failure("7", "fam-a")
    await rl.record_refresh_failure("7", "fam-b")
    user_full = await rl.check("refresh", None, None, user_id="7", family_id="fam-c")
    assert (user_full.allowed, user_full.scope) == (False, "account")
    await rl.clear_refresh_failures("7")
    assert (await rl.check("refresh", None, None, user_id="7", family_id="fam-c")).allowed
    await rl.record_refresh_failure(None, "fam-c")
    await rl.record_refresh_failure(None, "fam-c")
    family_full = await rl.check("refresh", None, None, user_id="8", family_id="fam-c")
    assert (family_full.allowed, family_full.scope) == (False, "family")
    assert (await rl.check("refresh", None, None, user_id="8", family_id="fam-d")).allowed
    assert (await rl.check("refresh", None, None)).allowed  # unknown owner: IP bucket only
    await rl.aclose()


async def test_new_limits_fail_open_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    """With the counter store unreachable, registrations and refreshes still go through.

    The outage is logged once, when it starts, not once per call (issue 13.6).
    """
    rl = RateLimiter(HardeningSettings(redis_url="redis://127.0.0.1:1/0"))
    assert (await rl.check("register", None, "ann")).allowed
    assert (await rl.check("refresh", None, None, user_id="1", family_id="f")).allowed
    await rl.record_refresh_failure("1", "f")
    await rl.clear_refresh_failures("1")
    assert not await rl.refresh_locks_possible()
    assert caplog.text.count("failing open") == 1
    await rl.aclose()


async def test_the_services_seam_feeds_the_refresh_counts(clock: ManualClock) -> None:
    """Failed refreshes and reuse count; a login clears the user's count, not the family's."""
    from jotauth.issuer.errors import RateLimitedError

    rl = limiter(clock, refresh_limit="2 per minute")
    await rl.refresh_failed("5", "fam")
    await rl.admit_refresh(None, "5", "fam")
    await rl.refresh_failed("5", "fam")
    with pytest.raises(RateLimitedError):
        await rl.admit_refresh(None, "5", "fam")
    await rl.login_succeeded("ann", "5")
    with pytest.raises(RateLimitedError) as refused:
        await rl.admit_refresh(None, "5", "fam")
    assert refused.value.scope == "family"
    await rl.admit_refresh(None, "5", "new")
    await rl.aclose()


async def test_owner_lookups_are_needed_only_while_a_refusal_lasts(clock: ManualClock) -> None:
    """No lookup before any refusal; one is needed while a window is full, and not after it."""
    rl = limiter(clock, refresh_limit="2 per minute")
    assert not await rl.refresh_locks_possible()
    await rl.record_refresh_failure("5", None)
    assert not await rl.refresh_locks_possible()  # counted, nobody refused yet
    await rl.record_refresh_failure("5", None)
    assert await rl.refresh_locks_possible()
    clock.advance(59)
    assert await rl.refresh_locks_possible()
    clock.advance(1)
    assert not await rl.refresh_locks_possible()
    await rl.aclose()


@pytest.mark.redis
async def test_redis_marker_is_seen_by_every_instance_and_never_shortened(
    redis_url: str, clock: ManualClock
) -> None:
    """A marker raised by one worker is up for another; a shorter raise keeps the longer one."""
    prefix = f"test:{uuid.uuid4().hex}:"
    a = RedisAttempts(redis_url, clock=clock, prefix=prefix)
    b = RedisAttempts(redis_url, clock=clock, prefix=prefix)
    try:
        assert not await b.marked("m")
        await a.mark("m", 60)
        await b.mark("m", 0.001)
        assert await b.marked("m")
        ttl = await b._redis.pttl(prefix + "m")
        assert 60_000 < ttl <= 61_000
    finally:
        await a.aclose()
        await b.aclose()


async def test_memory_windows_stay_bounded(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    """Under a flood of distinct names the least recently used windows are dropped."""
    import jotauth.issuer.hardening.attempts as attempts

    monkeypatch.setattr(attempts, "_MAX_MEMORY_KEYS", 2)
    store = MemoryAttempts(clock=clock)
    one = Rule(1, 60)
    for key in ("a", "b", "c"):
        await store.attempt(key, one)
    assert await store.blocked("a", one) == 0.0  # dropped: the oldest
    assert await store.blocked("c", one) == pytest.approx(60.0)
