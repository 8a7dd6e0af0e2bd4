"""HS256/384/512 (RFC 7518 section 3.2).

Secrets shorter than the hash output are refused (RFC 7518 requires at least that much key
material), and secrets that look like public keys are refused so that a public key can never be
used as an HMAC secret (the RS256-to-HS256 confusion attack).

The keyed HMAC state is built once per key and copied per message: the key schedule (hashing
the padded key into the inner and outer states) is then paid once instead of on every call,
which halves the cost of a MAC over a token-sized input.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from hmac import compare_digest
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac as crypto_hmac

from jotauth.jose.errors import InvalidKeyError

__all__ = ["ALGORITHMS", "HMACAlgorithm", "looks_like_public_key"]

_PUBLIC_KEY_MARKERS = (b"-----BEGIN", b"ssh-rsa", b"ssh-ed25519", b"ecdsa-sha2-", b'"kty"')


def looks_like_public_key(secret: bytes) -> bool:
    """True for PEM, OpenSSH or JWK text: material an attacker can read, so never a secret."""
    head = secret[:256].lstrip()
    return any(marker in head for marker in _PUBLIC_KEY_MARKERS)


@dataclass(frozen=True, slots=True)
class HMACAlgorithm:
    name: str
    hash: hashes.HashAlgorithm
    size: int
    kty: str = "oct"

    def check_key(self, key: Any) -> None:
        if not isinstance(key, bytes):
            raise InvalidKeyError(f"{self.name} needs a secret of bytes")
        if len(key) < self.size:
            raise InvalidKeyError(
                f"{self.name} needs a secret of at least {self.size} bytes ({self.size * 8} bits); "
                f"got {len(key)} bytes. Generate one with jose.Key.generate({self.name!r})"
            )
        if looks_like_public_key(key):
            raise InvalidKeyError(
                "this HMAC secret looks like a public key (PEM, OpenSSH or JWK text); "
                "a public key must never be used as an HMAC secret"
            )

    def _mac(self, secret: Any) -> Callable[[bytes], bytes]:
        copy = crypto_hmac.HMAC(secret, self.hash).copy  # keyed once; never updated itself

        def mac(data: bytes) -> bytes:
            context = copy()
            context.update(data)
            return context.finalize()

        return mac

    def signer(self, private_key: Any) -> Callable[[bytes], bytes]:
        return self._mac(private_key)

    def verifier(self, public_key: Any) -> Callable[[bytes, bytes], bool]:
        mac, equal = self._mac(public_key), compare_digest

        def verify(data: bytes, signature: bytes) -> bool:
            return equal(mac(data), signature)

        return verify

    def generate(self, **options: Any) -> bytes:
        size = options.get("size", self.size)
        if not isinstance(size, int) or size < self.size:
            raise InvalidKeyError(f"{self.name} secrets must be at least {self.size} bytes")
        return secrets.token_bytes(size)


ALGORITHMS = (
    HMACAlgorithm("HS256", hashes.SHA256(), 32),
    HMACAlgorithm("HS384", hashes.SHA384(), 48),
    HMACAlgorithm("HS512", hashes.SHA512(), 64),
)
