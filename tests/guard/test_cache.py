"""The verified-token cache: LRU order, bounded size, expiry and revocation on every hit, and
concurrent use (threaded WSGI servers, worker threads)."""

import sys
import threading
from collections.abc import Callable

import pytest

from jotauth import jose
from jotauth.guard import RevocationView, RevokedTokenError
from jotauth.guard.cache import TokenCache
from jotauth.guard.principal import Principal
from jotauth.guard.testing import LocalIssuer, ManualClock

NOW = 1_900_000_000


def _principal(exp: float) -> Principal:
    principal = Principal(sub="s", scopes=frozenset(), roles=frozenset(), claims={})
    principal._exp = exp
    return principal


def test_concurrent_puts_on_a_full_cache_never_raise() -> None:
    """Threads filling a full cache at once must not crash eviction: a RuntimeError
    ("dictionary changed size during iteration") or KeyError there turns a request with a
    valid token into a 500."""
    cache = TokenCache(256)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5000):
                exp = 10.0 if i % 2 else 1e12  # half of them expired: both eviction passes run
                cache.put(f"{n}-{i}", _principal(exp), 100.0)
        except BaseException as exc:  # noqa: BLE001 - any escape is the failure under test
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, as a loaded server does
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(cache) <= 256


def _filled(size: int, *tokens: str) -> TokenCache:
    cache = TokenCache(size)
    for token in tokens:
        cache.put(token, _principal(1e12), 100.0)
    return cache


def test_a_full_cache_drops_the_least_recently_used_entry_first() -> None:
    """A hit makes its token the most recent: a service's busy clients keep their entries
    while a token nobody sends again is the one that leaves."""
    cache = _filled(3, "a", "b", "c")
    assert cache.get("a") is not None  # a is now the most recent; b the least
    cache.put("d", _principal(1e12), 100.0)
    assert "b" not in cache
    assert sorted(t for t in "abcd" if t in cache) == ["a", "c", "d"]
    cache.put("e", _principal(1e12), 100.0)  # then c: least recently used of c, a, d
    assert "c" not in cache
    assert cache.get("a") is not None
    cache.put("f", _principal(1e12), 100.0)
    assert "d" not in cache  # a was used again, so d was the oldest
    assert len(cache) == 3


def test_a_put_on_a_full_cache_drops_exactly_one_entry() -> None:
    """Eviction is one entry per put, never a pass over the cache: entries that have expired
    stay until a hit finds them (the guard discards them) or they reach the front."""
    cache = TokenCache(4)
    for n, exp in enumerate((10.0, 1e12, 10.0, 1e12)):
        cache.put(str(n), _principal(exp), 100.0)
    cache.put("new", _principal(1e12), 100.0)
    assert len(cache) == 4
    assert "0" not in cache  # the least recently used, expired or not
    assert all(token in cache for token in ("1", "2", "3", "new"))


def test_putting_a_cached_token_again_neither_grows_nor_evicts() -> None:
    cache = _filled(2, "a", "b")
    replacement = _principal(1e12)
    cache.put("a", replacement, 100.0)
    assert len(cache) == 2
    assert "b" in cache
    assert cache.get("a") is replacement
    cache.put("c", _principal(1e12), 100.0)  # a was refreshed by the put: b goes
    assert "b" not in cache
    assert "a" in cache


def test_the_cache_never_grows_past_its_size() -> None:
    cache = TokenCache(100)
    for n in range(10_000):
        cache.put(str(n), _principal(1e12), 100.0)
        assert len(cache) <= 100
    assert len(cache) == 100
    assert all(str(n) in cache for n in range(9_900, 10_000))  # the newest 100 remain


def test_size_zero_caches_nothing() -> None:
    cache = _filled(0, "a")
    assert len(cache) == 0
    assert cache.get("a") is None
    with pytest.raises(ValueError, match="cache_size"):
        TokenCache(-1)


def test_hits_and_misses_are_counted() -> None:
    cache = _filled(2, "a")
    cache.get("a")
    cache.get("zzz")
    assert (cache.hits, cache.misses) == (1, 1)
    assert "a" in cache  # a membership test counts as neither
    assert (cache.hits, cache.misses) == (1, 1)


def test_discarding_a_token_another_thread_is_reading_is_harmless() -> None:
    cache = _filled(2, "a")
    cache.discard("a")
    cache.discard("a")  # twice: no KeyError
    assert cache.get("a") is None


def test_an_expired_cached_token_is_never_served(issuer: LocalIssuer) -> None:
    """Past exp + leeway a cached token is refused and leaves the cache; before, it is served."""
    clock = ManualClock(NOW)
    guard = issuer.guard(clock=clock, leeway=30)
    token = issuer.make_token(sub="1", now=NOW, expires_in=60)
    assert guard.authenticate_sync(token).sub == "1"
    assert token in guard.cache
    clock.advance(60 + 29)  # within the leeway: still served, from the cache
    hits = guard.cache.hits
    assert guard.authenticate_sync(token).sub == "1"
    assert guard.cache.hits == hits + 1
    clock.advance(1)  # now - leeway == exp
    with pytest.raises(jose.ExpiredTokenError):
        guard.authenticate_sync(token)
    assert token not in guard.cache
    with pytest.raises(jose.ExpiredTokenError):  # and re-verifying it refuses it too
        guard.authenticate_sync(token)
    assert token not in guard.cache


@pytest.mark.parametrize(
    ("revoke", "bystander_survives"),
    [
        (lambda view, kid: view.revoke_token("j-1", NOW + 900), True),
        (lambda view, kid: view.revoke_session("family-1", NOW + 900), True),
        (lambda view, kid: view.revoke_user("1", NOW + 1), True),
        (lambda view, kid: view.apply([{"type": "key", "kid": kid}]), False),  # signed both
    ],
    ids=["token", "session", "user", "key"],
)
def test_a_cached_token_is_refused_once_its_revocation_arrives(
    issuer: LocalIssuer,
    revoke: Callable[[RevocationView, str | None], object],
    bystander_survives: bool,
) -> None:
    """The cache holds a verified token, never a verdict: each hit re-asks the revocation
    view, so a revocation applied after the token was cached refuses it on its next use, and
    the token leaves the cache (it is re-verified, and refused again, if it comes back)."""
    guard = issuer.guard(clock=ManualClock(NOW))
    token = issuer.make_token(sub="1", jti="j-1", sid="family-1", now=NOW)
    bystander = issuer.make_token(sub="2", jti="j-2", sid="family-2", now=NOW + 2)
    guard.authenticate_sync(token)
    guard.authenticate_sync(bystander)
    assert token in guard.cache
    revoke(guard.revocations, issuer.key.kid)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    assert token not in guard.cache
    verified = guard.stats()["verified"]
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    assert guard.stats()["verified"] == verified + 1  # verified again, then refused
    if bystander_survives:
        assert guard.authenticate_sync(bystander).sub == "2"
    else:
        with pytest.raises(RevokedTokenError):
            guard.authenticate_sync(bystander)


def test_a_miss_on_a_full_cache_verifies_and_evicts_one(issuer: LocalIssuer) -> None:
    """Through the guard: a full cache takes each new token in place of the least recently
    used one, and a token that left is verified again when it returns."""
    guard = issuer.guard(clock=ManualClock(NOW), cache_size=3)
    tokens = [issuer.make_token(sub=str(n), now=NOW) for n in range(5)]
    for token in tokens[:3]:
        guard.authenticate_sync(token)
    guard.authenticate_sync(tokens[0])  # hit: tokens[1] is now the least recently used
    guard.authenticate_sync(tokens[3])
    assert tokens[1] not in guard.cache
    assert [t in guard.cache for t in (tokens[0], tokens[2], tokens[3])] == [True] * 3
    verified = guard.stats()["verified"]
    assert guard.authenticate_sync(tokens[1]).sub == "1"
    assert guard.stats()["verified"] == verified + 1
    assert len(guard.cache) == 3
