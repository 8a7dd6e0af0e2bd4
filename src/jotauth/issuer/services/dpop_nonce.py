"""Server-provided DPoP nonces (RFC 9449 8), stateless.

A nonce is the HMAC-SHA256 of the current time slot (``JOTAUTH_DPOP_NONCE_INTERVAL``
seconds) under a key derived from the server's secret, truncated to 128 bits. Nothing is
stored: every instance that shares the secret computes the same nonce, and a nonce dies by
itself two slots later (the previous slot's is still accepted, so a client that fetched one
just before the change is not refused). Proofs can then not be made ahead of time by someone
who copied a client's key for a moment: they go stale within two slots.
"""

import base64
import hmac
import time
from collections.abc import Callable
from typing import Final

from jotauth.issuer.services.sealing import derive_key

__all__ = ["DPoPNonces"]

_TAG_BYTES: Final = 16


class DPoPNonces:
    """Makes and checks the server's DPoP nonces."""

    def __init__(
        self, secret: bytes, *, interval: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = derive_key(secret, b"jotauth dpop nonce")
        self.interval = interval
        self.clock = clock

    def _of(self, slot: int) -> str:
        tag = hmac.new(self._key, slot.to_bytes(8, "big", signed=True), "sha256").digest()
        return base64.urlsafe_b64encode(tag[:_TAG_BYTES]).rstrip(b"=").decode()

    def current(self) -> str:
        """The nonce to hand out now (``DPoP-Nonce``)."""
        return self._of(int(self.clock() // self.interval))

    def accepted(self) -> tuple[str, str]:
        """The nonces a proof may carry now: the current slot's and the previous one's."""
        slot = int(self.clock() // self.interval)
        return self._of(slot), self._of(slot - 1)
