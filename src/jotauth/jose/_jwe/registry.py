"""The JWE key-management table (RFC 7518 section 4) and the protocol every family follows.

A ``KeyManagement`` turns a cryptography key object (or secret bytes) into two closures bound
once when a ``Key`` is made, as the JWS algorithms do: ``wrap(enc, header, cek)`` wraps the CEK
(drawing one when ``cek`` is None; the direct algorithms always make their own) and says what
the recipient needs to recover it, ``unwrap(enc, header, encrypted_key)`` recovers it.
Unwrapping raises only ``DecryptionError`` for anything that depends on the key (RSA instead
returns a random CEK, RFC 7516 section 11.5), and ``MalformedTokenError`` for header members
that anyone can see are wrong. ``RSA1_5`` and the ``PBES2`` family carry an ``opt_in`` reason:
they are decrypted only where the caller names them.
"""

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from jotauth.jose._jwe import aes, ecdh, pbes2, rsa
from jotauth.jose._jwe.content import CONTENT, ContentEncryption
from jotauth.jose.errors import UnsupportedAlgorithmError

__all__ = ["CONTENT", "KEY_MANAGEMENT", "KeyManagement", "Unwrap", "Wrap", "content", "get"]

# wrap(enc, header, cek or None to draw one) -> (cek, encrypted_key, header members to add)
Wrap = Callable[
    [ContentEncryption, Mapping[str, Any], bytes | None], tuple[bytes, bytes, dict[str, Any]]
]
# unwrap(enc, joint header, encrypted_key) -> cek
Unwrap = Callable[[ContentEncryption, Mapping[str, Any], bytes], bytes]


class KeyManagement(Protocol):
    """One JWE ``alg``: the key it takes and how to wrap and unwrap a CEK with it."""

    @property
    def name(self) -> str:
        """The JWE ``alg`` value."""

    @property
    def direct(self) -> bool:
        """True when the key (or the agreed key) is the CEK: no encrypted key, one recipient."""

    @property
    def opt_in(self) -> str | None:
        """Why the algorithm is refused unless the caller names it, or None."""

    @property
    def header_params(self) -> tuple[str, ...]:
        """The header members unwrap reads (``epk``, ``iv``...): they differ per token."""

    def check_key(self, key: Any, enc: ContentEncryption | None) -> None:
        """Raise InvalidKeyError if ``key`` does not fit (type, size, curve, bound ``enc``)."""

    def wrapper(self, public_key: Any) -> Wrap:
        """The closure that makes a CEK for a recipient holding ``public_key``."""

    def unwrapper(self, private_key: Any) -> Unwrap:
        """The closure that recovers the CEK with ``private_key``."""

    def generate(self, enc: ContentEncryption | None, **options: Any) -> Any:
        """A new private key (or secret) for this algorithm."""


KEY_MANAGEMENT: Final[Mapping[str, KeyManagement]] = {
    alg.name: alg for alg in (*aes.ALGORITHMS, *rsa.ALGORITHMS, *ecdh.ALGORITHMS, *pbes2.ALGORITHMS)
}


def get(name: object) -> KeyManagement:
    """The key-management algorithm ``name``; anything else is UnsupportedAlgorithmError."""
    if type(name) is not str:
        raise UnsupportedAlgorithmError('the JWE "alg" header must be a string')
    try:
        return KEY_MANAGEMENT[name]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f'unsupported JWE key management algorithm "{name[:32]}"; '
            f"supported: {', '.join(KEY_MANAGEMENT)}"
        ) from None


def content(name: object) -> ContentEncryption:
    """The content encryption ``name``; anything else is UnsupportedAlgorithmError."""
    if type(name) is not str:
        raise UnsupportedAlgorithmError('the JWE "enc" header must be a string')
    try:
        return CONTENT[name]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f'unsupported JWE content encryption "{name[:32]}"; supported: {", ".join(CONTENT)}'
        ) from None
