"""DPoP replay caches: one use per proof, bounded memory, Redis shared and failing closed."""

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from jotauth.guard import MemoryReplayCache, RedisReplayCache, ReplayCheckError
from jotauth.guard.testing import ManualClock

NOW = 1_900_000_000
JKT = "thumbprint-a"


def test_memory_cache_remembers_a_proof_once() -> None:
    """The first use records the pair; the second is a replay."""
    cache = MemoryReplayCache(clock=ManualClock(NOW))
    assert cache.seen("j1", JKT, NOW + 60) is False
    assert cache.seen("j1", JKT, NOW + 60) is True
    assert cache.seen("j2", JKT, NOW + 60) is False


def test_memory_cache_keys_by_key_and_jti() -> None:
    """The same jti under another key is another proof (one client cannot burn another's)."""
    cache = MemoryReplayCache(clock=ManualClock(NOW))
    assert cache.seen("j1", JKT, NOW + 60) is False
    assert cache.seen("j1", "thumbprint-b", NOW + 60) is False


def test_memory_cache_forgets_proofs_once_stale() -> None:
    """Entries go when their proof could no longer be accepted anyway, and not before."""
    clock = ManualClock(NOW)
    cache = MemoryReplayCache(clock=clock)
    cache.seen("j1", JKT, NOW + 60)
    clock.advance(59)
    assert cache.seen("j1", JKT, NOW + 60) is True
    clock.advance(2)
    assert cache.seen("j2", JKT, NOW + 120) is False
    assert len(cache) == 1  # j1 was evicted, without a scan


def test_replay_at_the_last_second_of_a_proofs_life_is_refused() -> None:
    """A proof is still accepted when now == iat + max_age (jose refuses only iat < now -
    max_age): its entry must outlive that second, or the proof could be used twice in it."""
    clock = ManualClock(NOW)
    cache = MemoryReplayCache(clock=clock)
    cache.seen("j1", JKT, NOW + 60)
    clock.advance(60)
    assert cache.seen("j1", JKT, NOW + 60) is True


def test_memory_cache_never_drops_an_entry_before_it_expires() -> None:
    """Entries leave in order of their own expiry, whatever their arrival order."""
    clock = ManualClock(NOW)
    cache = MemoryReplayCache(clock=clock)
    cache.seen("early", JKT, NOW + 50)
    cache.seen("late", JKT, NOW + 100)
    cache.seen("middle", JKT, NOW + 70)
    clock.advance(60)
    assert cache.seen("late", JKT, NOW + 100) is True
    assert cache.seen("middle", JKT, NOW + 70) is True
    clock.advance(41)
    assert cache.seen("late", JKT, NOW + 200) is False  # gone at its own expiry


def test_short_lived_proofs_do_not_wait_for_long_lived_ones() -> None:
    """Verifiers with different max_age sharing one cache: an entry of a 60-second verifier
    leaves at its own expiry even behind one of a one-hour verifier, so the long ones cannot
    fill the cache with dead short ones (which would refuse every proof with 503)."""
    clock = ManualClock(NOW)
    cache = MemoryReplayCache(3, clock=clock)
    cache.seen("hour", JKT, NOW + 3600)
    cache.seen("minute-1", JKT, NOW + 60)
    cache.seen("minute-2", JKT, NOW + 60)
    clock.advance(61)
    assert cache.seen("minute-3", JKT, NOW + 121) is False
    assert cache.seen("minute-4", JKT, NOW + 121) is False
    assert len(cache) == 3
    assert cache.seen("hour", JKT, NOW + 3600) is True


def test_full_memory_cache_refuses_rather_than_forget() -> None:
    """When every entry is still live, a new proof is refused (503), never a live one dropped."""
    clock = ManualClock(NOW)
    cache = MemoryReplayCache(2, clock=clock)
    cache.seen("j1", JKT, NOW + 60)
    cache.seen("j2", JKT, NOW + 60)
    with pytest.raises(ReplayCheckError, match="full"):
        cache.seen("j3", JKT, NOW + 60)
    assert cache.seen("j1", JKT, NOW + 60) is True  # still remembered: no replay slips through
    clock.advance(61)
    assert cache.seen("j3", JKT, NOW + 120) is False  # stale entries made room


def test_memory_cache_check_and_set_is_atomic() -> None:
    """Of many threads racing with the same proof, exactly one is let through."""
    cache = MemoryReplayCache(clock=ManualClock(NOW))
    answers: list[bool] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        answers.append(cache.seen("same", JKT, NOW + 60))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(answers) == [False] + [True] * 7


def test_memory_cache_size_must_be_positive() -> None:
    """A cache with no room would refuse everything: a configuration error."""
    with pytest.raises(ValueError, match="at least one"):
        MemoryReplayCache(0)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    name = f"jotauth:test:dpop:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(name + "*"):
        client.delete(key)
    client.close()


def test_redis_cache_remembers_a_proof_once_with_a_ttl(redis_url: str, prefix: str) -> None:
    """SET NX: the first use records the pair with a TTL to its expiry, the second is a replay."""
    now = time.time()
    cache = RedisReplayCache(redis_url, prefix=prefix)
    assert cache.seen("j1", JKT, now + 60) is False
    assert cache.seen("j1", JKT, now + 60) is True
    client = redis.Redis.from_url(redis_url)
    (key,) = list(client.scan_iter(prefix + "*"))
    assert 55 <= client.ttl(key) <= 61
    client.close()
    cache.close()


def test_redis_cache_is_shared_between_instances(redis_url: str, prefix: str) -> None:
    """A proof used at one instance is a replay at another that shares the Redis and prefix."""
    first, second = (
        RedisReplayCache(redis_url, prefix=prefix),
        RedisReplayCache(redis_url, prefix=prefix),
    )
    assert first.seen("j1", JKT, time.time() + 60) is False
    assert second.seen("j1", JKT, time.time() + 60) is True
    other = RedisReplayCache(redis_url, prefix=prefix + "other:")
    assert other.seen("j1", JKT, time.time() + 60) is False  # another service's cache
    for cache in (first, second, other):
        cache.close()


def test_redis_cache_check_and_set_is_atomic(redis_url: str, prefix: str) -> None:
    """Of many threads racing with the same proof through Redis, exactly one is let through."""
    cache = RedisReplayCache(redis_url, prefix=prefix)
    answers: list[bool] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        answers.append(cache.seen("same", JKT, time.time() + 60))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(answers) == [False] + [True] * 7
    cache.close()


def test_unreachable_redis_fails_closed_within_the_timeout() -> None:
    """With Redis away, the answer is unknown: ReplayCheckError, soon, never "not seen"."""
    cache = RedisReplayCache("redis://127.0.0.1:1/0", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ReplayCheckError, match="cannot be reached"):
        cache.seen("j1", JKT, time.time() + 60)
    assert time.monotonic() - started < 2
