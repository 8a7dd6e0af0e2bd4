"""The issuer's own guard takes its keys straight from the key ring, not over HTTP."""

import math
import threading

from jotauth import jose
from jotauth.issuer.services.keyring import KeyRing

__all__ = ["RingKeySource"]


class RingKeySource:
    """A ``jotauth.guard.KeySource`` reading the published keys of a ``KeyRing``.

    A token naming a kid the ring does not publish forces a reload (another worker may have
    rotated), but at most once per ``cooldown`` seconds, as the guard's JWKS client does: a
    reload is a database write and read plus unsealing the private key, and anyone can send
    tokens with made-up kids. Within the cooldown the current keys answer, and the token is
    refused as ``no_matching_key``. A key made by another worker is published as ``next``
    before it signs, so this worker's regular reload (every ``KeyRing.cache_seconds``) has
    it in time; the forced reload only shortens the rare race.
    """

    def __init__(self, ring: KeyRing, *, cooldown: float = 5.0) -> None:
        if cooldown < 0:
            raise ValueError("cooldown must be >= 0")
        self.ring = ring
        self.cooldown = cooldown
        self.reloads = 0
        """Reloads forced by unknown kids (bounded by the cooldown)."""
        self._last_forced = -math.inf
        self._lock = threading.Lock()

    def cached(self, now: float) -> jose.KeySet | None:
        """The ring's keys while its view is fresh (no I/O), else None."""
        return self.ring.cached_keys(now)

    def load(self, now: float) -> jose.KeySet:
        """Re-read the ring when stale."""
        return self.ring.verification_keys()

    def load_unknown(self, kid: str | None, now: float) -> jose.KeySet:
        """A kid not in the view: re-read now, unless a forced reload ran within the cooldown."""
        with self._lock:
            if now - self._last_forced < self.cooldown:
                return self.ring.verification_keys()
            self._last_forced = now
            self.reloads += 1
        self.ring.invalidate()
        return self.ring.verification_keys()
