"""The verified-token cache under concurrent use (threaded WSGI servers, worker threads)."""

import sys
import threading

from jotauth.guard.cache import TokenCache
from jotauth.guard.principal import Principal


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
