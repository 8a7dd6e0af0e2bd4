"""The verified-token cache: a client that sends the same token pays for its signature once.

Entries are keyed by the exact token string (never by a claim, so two tokens can never share
an entry) and hold the token's Principal, which carries the few facts the guard re-checks on
every hit: ``exp`` and ``nbf`` against the clock, and ``jti``/``sub``/``iat``/kid against the
revocation view. One object per token keeps a large cache light for memory and for the garbage
collector. The cache is bounded; when full it drops the oldest entries first (tokens are
short-lived, so insertion order is close to expiry order) and expired entries on the way.
"""

import threading
from typing import Final

from jotauth.guard.principal import Principal

__all__ = ["TokenCache"]

_EVICT_FRACTION: Final = 8


class TokenCache:
    """A bounded map from token string to the Principal it was verified as.

    Lookups take no lock (one dict read); ``put`` runs only after a signature check, so it
    takes a lock: eviction walks the dict, and two threads evicting at once must not trip on
    each other (a ``RuntimeError``/``KeyError`` there would turn a valid token into a 500).
    """

    __slots__ = ("_entries", "_lock", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 0:
            raise ValueError("cache_size must be >= 0 (0 disables the cache)")
        self.maxsize = maxsize
        self._entries: dict[str, Principal] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, token: str) -> Principal | None:
        """The principal of exactly this token string, if cached."""
        entry = self._entries.get(token)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, token: str, entry: Principal, now: float) -> None:
        """Remember a verified token, evicting expired and then the oldest entries when full."""
        if self.maxsize == 0:
            return
        with self._lock:
            entries = self._entries
            if len(entries) >= self.maxsize and token not in entries:
                self._evict(now)
            entries[token] = entry

    def discard(self, token: str) -> None:
        """Forget one token (it expired or was revoked)."""
        self._entries.pop(token, None)

    def _evict(self, now: float) -> None:
        entries = self._entries
        # list() copies in one step, so a concurrent discard() cannot break the walk.
        expired = [token for token, entry in list(entries.items()) if entry._exp <= now]
        for token in expired:
            entries.pop(token, None)
        if len(entries) >= self.maxsize:
            for token in list(entries)[: max(1, self.maxsize // _EVICT_FRACTION)]:
                entries.pop(token, None)

    def __contains__(self, token: object) -> bool:
        """Whether exactly this token string is cached (not counted as a hit or a miss)."""
        return token in self._entries

    def __len__(self) -> int:
        return len(self._entries)
