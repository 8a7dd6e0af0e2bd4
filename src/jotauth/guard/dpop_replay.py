"""DPoP replay caches: a proof's ``jti`` is accepted once within the proof's lifetime.

RFC 9449 section 11.1: a proof captured on the way (a log, a proxy) must not be usable again.
A proof stops being accepted at ``expires_at`` (its ``iat`` plus the verifier's ``max_age``),
so a cache only has to remember each ``(jkt, jti)`` until then. ``seen`` is one atomic
check-and-set: it records the pair and says whether it was already there, so two requests
racing with the same proof cannot both pass.

``MemoryReplayCache`` serves one process: every worker process and every instance has its
own, so without a shared cache a captured proof can be replayed once per process. It keeps
each entry until its own ``expires_at`` (a proof is still accepted at that very second, so
the entry is dropped only after it), in a heap by expiry: verifiers with different
``max_age`` can share one cache without the short-lived entries waiting for the long ones,
eviction costs O(log n) per entry and no request scans the cache. An entry is never dropped
before its proof has gone stale, whatever the load: when the cache is full of live entries,
``seen`` raises ``ReplayCheckError`` (the guard answers 503) rather than forget a proof that
could still be replayed. Size it for the peak rate times the window: the default 100 000
entries holds about 1 500 proofs per second at the 65-second default window (60 s past, 5 s
future).

``RedisReplayCache`` is shared by every process and instance that uses the same Redis and
prefix: ``SET key NX EX ttl`` is atomic on the server. Every wait is bounded by the client's
socket timeouts (``timeout=``, 0.5 s by default). When Redis cannot answer, the cache fails
closed: a proof whose replay cannot be checked is refused with ``ReplayCheckError`` (503,
retryable), since accepting it would make any captured proof replayable during an outage.
Keys are a hash of the pair, so their length does not depend on what a client put in ``jti``.
"""

import hashlib
import heapq
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from jotauth.guard.errors import ReplayCheckError

__all__ = ["DEFAULT_PREFIX", "MemoryReplayCache", "RedisReplayCache", "ReplayCache"]

DEFAULT_PREFIX: Final = "jotauth:dpop:"
DEFAULT_SIZE: Final = 100_000


class ReplayCache(Protocol):
    """Where a verifier remembers the proofs it accepted."""

    blocking: bool
    """Whether ``seen`` does network I/O (the async adapters then run it in a thread)."""

    def seen(self, jti: str, jkt: str, expires_at: float) -> bool:
        """Record ``(jkt, jti)`` until ``expires_at``; True if it was already recorded.

        Raises ``ReplayCheckError`` when the answer cannot be known (full, unreachable).
        """


def _key(jti: str, jkt: str) -> bytes:
    # A thumbprint is base64url (no "."), so "jkt.jti" names exactly one pair.
    return hashlib.sha256(f"{jkt}.{jti}".encode()).digest()


class MemoryReplayCache:
    """A bounded in-process replay cache (see the module docstring for its guarantees)."""

    blocking = False

    def __init__(
        self, maxsize: int = DEFAULT_SIZE, *, clock: Callable[[], float] = time.time
    ) -> None:
        if maxsize < 1:
            raise ValueError("a replay cache needs room for at least one proof")
        self.maxsize = maxsize
        self._clock = clock
        self._entries: set[bytes] = set()
        self._expiries: list[tuple[float, bytes]] = []
        """A heap of (expires_at, key), one item per key of ``_entries``."""
        self._lock = threading.Lock()

    def seen(self, jti: str, jkt: str, expires_at: float) -> bool:
        """Record the pair; True if it is a replay. ReplayCheckError when full of live proofs."""
        key = _key(jti, jkt)
        now = self._clock()
        entries, expiries = self._entries, self._expiries
        with self._lock:
            while expiries and expiries[0][0] < now:
                entries.discard(heapq.heappop(expiries)[1])
            if key in entries:
                return True
            if len(entries) >= self.maxsize:
                raise ReplayCheckError(
                    "the DPoP replay cache is full of live proofs; refusing rather than "
                    "forgetting one that could be replayed (raise its size)"
                )
            entries.add(key)
            heapq.heappush(expiries, (expires_at, key))
            return False

    def __len__(self) -> int:
        return len(self._entries)


class RedisReplayCache:
    """A replay cache in Redis, shared across processes and instances; fails closed.

    ``client`` is a Redis URL (a client is made with ``timeout``-second socket timeouts) or a
    ready ``redis.Redis`` (give it timeouts: every request waits on it). ``prefix`` keeps the
    keys apart from other users of the database, e.g. one prefix per service audience.
    """

    blocking = True

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(client, str):
            import redis  # only for a URL: a ready client needs no import here

            client = redis.Redis.from_url(
                client,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry_on_timeout=False,
            )
        self.client = client
        self.prefix = prefix.encode()
        self._clock = clock

    def seen(self, jti: str, jkt: str, expires_at: float) -> bool:
        """``SET prefix+hash 1 NX EX ttl``: False if it was set now, True if it existed."""
        ttl = max(1, int(expires_at - self._clock()) + 1)
        try:
            created = self.client.set(self.prefix + _key(jti, jkt), b"1", nx=True, ex=ttl)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the answer is unknown: refuse
            raise ReplayCheckError(
                f"the DPoP replay cache (Redis) cannot be reached: {type(exc).__name__}"
            ) from None
        return not created

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
