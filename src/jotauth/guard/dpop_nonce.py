"""Server-provided DPoP nonces (RFC 9449 section 9): proofs a client cannot make in advance.

With a nonce source, the guard refuses a proof without the current nonce with 401
``error="use_dpop_nonce"`` and a ``DPoP-Nonce`` header; the client retries with it. That
limits a proof to the nonce's period even when a client's clock (and so its ``iat``) is wrong
or a stolen private key signs proofs ahead of time.

``RotatingNonce`` needs no storage: the nonce is an HMAC of the current period's number under
a secret, so every instance given the same secret issues and accepts the same nonces, and the
previous period's nonce stays valid so that a client that just fetched one is not refused at
a period boundary. Without a secret each process makes its own (fine for one instance).
"""

import base64
import hashlib
import hmac
import secrets
from typing import Final, Protocol

__all__ = ["NonceSource", "RotatingNonce"]

_MIN_SECRET: Final = 32


class NonceSource(Protocol):
    """Issues the nonce a client must put in its proofs, and judges the nonces it gets."""

    def current(self, now: float) -> str:
        """The nonce to hand out at ``now``."""

    def accepts(self, nonce: str, now: float) -> bool:
        """Whether a proof carrying ``nonce`` is fresh enough at ``now``."""


class RotatingNonce:
    """Stateless nonces that change every ``period`` seconds (see the module docstring).

    ``secret``: at least 32 bytes, the same on every instance of the service; random when
    not given.
    """

    def __init__(self, secret: bytes | None = None, *, period: int = 300) -> None:
        if secret is None:
            secret = secrets.token_bytes(_MIN_SECRET)
        if len(secret) < _MIN_SECRET:
            raise ValueError(f"a nonce secret needs at least {_MIN_SECRET} bytes")
        if period < 1:
            raise ValueError("the nonce period is a whole number of seconds, at least 1")
        self._secret = secret
        self.period = period

    def _nonce(self, window: int) -> str:
        mac = hmac.digest(self._secret, window.to_bytes(8, "big", signed=True), hashlib.sha256)
        return base64.urlsafe_b64encode(mac[:18]).decode("ascii")

    def current(self, now: float) -> str:
        """This period's nonce."""
        return self._nonce(int(now // self.period))

    def accepts(self, nonce: str, now: float) -> bool:
        """True for this period's nonce or the previous one's (compared in constant time)."""
        window = int(now // self.period)
        given = nonce.encode()
        current = hmac.compare_digest(given, self._nonce(window).encode())
        previous = hmac.compare_digest(given, self._nonce(window - 1).encode())
        return current or previous
