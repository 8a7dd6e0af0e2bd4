"""The issuer's own guard takes its keys straight from the key ring, not over HTTP."""

from jotauth import jose
from jotauth.issuer.services.keyring import KeyRing

__all__ = ["RingKeySource"]


class RingKeySource:
    """A ``jotauth.guard.KeySource`` reading the published keys of a ``KeyRing``."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def cached(self, now: float) -> jose.KeySet | None:
        """The ring's keys while its view is fresh (no I/O), else None."""
        return self.ring.cached_keys(now)

    def load(self, now: float) -> jose.KeySet:
        """Re-read the ring when stale."""
        return self.ring.verification_keys()

    def load_unknown(self, kid: str | None, now: float) -> jose.KeySet:
        """A kid not in the view: another worker may have rotated; re-read now."""
        self.ring.invalidate()
        return self.ring.verification_keys()
