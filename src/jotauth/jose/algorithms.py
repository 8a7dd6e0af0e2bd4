"""The algorithm table: every JWS algorithm jotauth implements, and nothing else.

An ``Algorithm`` turns a cryptography key object into two closures, ``sign(data)`` and
``verify(data, signature)``, bound once when a ``Key`` is made. Binding up front keeps the
verification hot path to one call with no lookups, and makes the key, not the token, decide
which primitive runs. ``none`` is not in the table and cannot be added.
"""

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from jotauth.jose._algs import ec, hmac, okp, rsa
from jotauth.jose.errors import UnsupportedAlgorithmError

__all__ = ["ALGORITHMS", "Algorithm", "Signer", "Verifier", "get"]

Signer = Callable[[bytes], bytes]
Verifier = Callable[[bytes, bytes], bool]


class Algorithm(Protocol):
    """One JWS ``alg``: the key type it takes, and how to bind signer and verifier to a key."""

    @property
    def name(self) -> str:
        """The JWS ``alg`` value."""

    @property
    def kty(self) -> str:
        """The JWK key type it takes."""

    def check_key(self, key: Any) -> None:
        """Raise InvalidKeyError if ``key`` (a cryptography object or HMAC secret) is unfit."""

    def signer(self, private_key: Any) -> Signer:
        """A closure that signs with ``private_key``."""

    def verifier(self, public_key: Any) -> Verifier:
        """A closure that returns whether a signature verifies; it never raises for bad input."""

    def generate(self, **options: Any) -> Any:
        """A new private key (or secret) for this algorithm."""


ALGORITHMS: Mapping[str, Algorithm] = {
    alg.name: alg
    for alg in (
        *hmac.ALGORITHMS,
        *rsa.ALGORITHMS,
        *ec.ALGORITHMS,
        *okp.ALGORITHMS,
    )
}


def get(name: object) -> Algorithm:
    """The algorithm named ``name``; ``none`` and anything unknown are UnsupportedAlgorithmError."""
    if type(name) is not str:
        raise UnsupportedAlgorithmError("the alg header must be a string")
    try:
        return ALGORITHMS[name]
    except KeyError:
        if name.lower() == "none":
            raise UnsupportedAlgorithmError(
                'alg "none" (unsigned tokens) is never accepted'
            ) from None
        raise UnsupportedAlgorithmError(
            f'unsupported algorithm "{name[:32]}"; supported: {", ".join(ALGORITHMS)}'
        ) from None
