"""The verified-token cache: a client that sends the same token pays for its signature once.

Entries are keyed by the exact token string (never by a claim, so two tokens can never share
an entry) and hold the Principal plus the few fields the guard re-checks on every hit:
``exp`` and ``nbf`` against the clock, and ``jti``/``sub``/``iat``/``kid`` against the
revocation view. The cache is bounded; when full it drops the oldest entries first (tokens are
short-lived, so insertion order is close to expiry order) and expired entries on the way.
"""

import threading
from typing import Final, NamedTuple

from jotauth.guard.principal import Principal

__all__ = ["CacheEntry", "TokenCache"]

_EVICT_FRACTION: Final = 8


class CacheEntry(NamedTuple):
    """A verified token's principal and what must be re-checked on each use."""

    principal: Principal
    exp: float
    nbf: float | None
    iat: float | None
    jti: str | None
    sub: str
    kid: str | None


class TokenCache:
    """A bounded map from token string to CacheEntry.

    Lookups take no lock (one dict read); ``put`` runs only after a signature check, so it
    takes a lock: eviction walks the dict, and two threads evicting at once must not trip on
    each other (a ``RuntimeError``/``KeyError`` there would turn a valid token into a 500).
    """

    __slots__ = ("_entries", "_lock", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 0:
            raise ValueError("cache_size must be >= 0 (0 disables the cache)")
        self.maxsize = maxsize
        self._entries: dict[str, CacheEntry] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, token: str) -> CacheEntry | None:
        """The entry for exactly this token string, if cached."""
        entry = self._entries.get(token)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, token: str, entry: CacheEntry, now: float) -> None:
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
        expired = [token for token, entry in list(entries.items()) if entry.exp <= now]
        for token in expired:
            entries.pop(token, None)
        if len(entries) >= self.maxsize:
            for token in list(entries)[: max(1, self.maxsize // _EVICT_FRACTION)]:
                entries.pop(token, None)

    def __len__(self) -> int:
        return len(self._entries)
