"""The verified-token cache: a client that sends the same token pays for its signature once.

Entries are keyed by the exact token string (never by a claim, so two tokens can never share
an entry) and hold the token's Principal, which carries the few facts the guard re-checks on
every hit: ``exp`` and ``nbf`` against the clock, and ``jti``/``sub``/``iat``/kid against the
revocation view. One object per token keeps a large cache light for memory and for the garbage
collector.

The cache is a bounded LRU (an ``OrderedDict``, whose order is a linked list in C): a hit moves
its entry to the back, and a put on a full cache drops the front entry, the least recently
used, in O(1). No request ever walks the cache, so a full cache costs a miss one verify plus
a constant, however large the cache. Expiry is per entry and lazy: the guard checks ``exp`` on
every hit and discards an entry it finds expired, and an expired token nobody sends again is
the least recently used entry by then, so the LRU order drops it first.
"""

import threading
from collections import OrderedDict

from jotauth.guard.principal import Principal

__all__ = ["TokenCache"]


class TokenCache:
    """A bounded LRU map from token string to the Principal it was verified as.

    Lookups take no lock: ``OrderedDict.get`` and ``move_to_end`` are each one step under the
    GIL, and an entry another thread dropped between the two is simply not moved. ``put`` takes
    a lock so that two threads filling a full cache at once drop one entry each, not both the
    same one, and the size never passes ``maxsize``.
    """

    __slots__ = ("_entries", "_lock", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 0:
            raise ValueError("cache_size must be >= 0 (0 disables the cache)")
        self.maxsize = maxsize
        self._entries: OrderedDict[str, Principal] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, token: str) -> Principal | None:
        """The principal of exactly this token string, if cached (it becomes the most recent)."""
        entry = self._entries.get(token)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        try:  # noqa: SIM105 - contextlib.suppress costs a context manager on every hit
            self._entries.move_to_end(token)
        except KeyError:  # discarded by another thread since the get: serve it this once
            pass
        return entry

    def put(self, token: str, entry: Principal, now: float) -> None:
        """Remember a verified token; when full, first drop the least recently used entry.

        ``now`` is unused since eviction became O(1) (kept so callers need not change).
        """
        if self.maxsize == 0:
            return
        entries = self._entries
        with self._lock:
            if token in entries:
                entries.move_to_end(token)
            else:
                while len(entries) >= self.maxsize:
                    try:
                        entries.popitem(last=False)
                    except KeyError:  # emptied by concurrent discards meanwhile
                        break
            entries[token] = entry

    def discard(self, token: str) -> None:
        """Forget one token (it expired or was revoked)."""
        self._entries.pop(token, None)

    def __contains__(self, token: object) -> bool:
        """Whether exactly this token string is cached (not counted as a hit or a miss)."""
        return token in self._entries

    def __len__(self) -> int:
        return len(self._entries)
