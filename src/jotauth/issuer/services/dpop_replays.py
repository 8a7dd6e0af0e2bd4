"""Where the issuer remembers DPoP proofs (``jti``) until they expire.

Stand-in until the guard's replay cache (``jotauth.guard.dpop_replay``) is merged: a bounded
in-process map. A full map refuses new proofs rather than forgetting live ones, so a flood
cannot make room for a replay.
"""

import time
from collections.abc import Callable
from typing import Final

__all__ = ["MemoryReplays"]

_MAX_ENTRIES: Final = 100_000


class MemoryReplays:
    """Proof ids seen by this process, each until its ``expires_at``."""

    def __init__(
        self, *, max_entries: int = _MAX_ENTRIES, clock: Callable[[], float] = time.time
    ) -> None:
        self._seen: dict[str, float] = {}
        self.max_entries = max_entries
        self.clock = clock

    async def first_use(self, key: str, expires_at: float) -> bool:
        """True the first time ``key`` is seen while it is live, False for a replay."""
        now = self.clock()
        known = self._seen.get(key)
        if known is not None and known > now:
            return False
        if len(self._seen) >= self.max_entries:
            self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            if len(self._seen) >= self.max_entries:
                return False
        self._seen[key] = expires_at
        return True
