"""HS256/384/512 (RFC 7518 section 3.2).

Secrets shorter than the hash output are refused (RFC 7518 requires at least that much key
material), and secrets that look like public keys are refused so that a public key can never be
used as an HMAC secret (the RS256-to-HS256 confusion attack).
"""

import hmac as _hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    hash_name: str
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

    def signer(self, private_key: Any) -> Callable[[bytes], bytes]:
        digest, hash_name = _hmac.digest, self.hash_name

        def sign(data: bytes) -> bytes:
            return digest(private_key, data, hash_name)

        return sign

    def verifier(self, public_key: Any) -> Callable[[bytes, bytes], bool]:
        digest, hash_name, equal = _hmac.digest, self.hash_name, _hmac.compare_digest

        def verify(data: bytes, signature: bytes) -> bool:
            return equal(digest(public_key, data, hash_name), signature)

        return verify

    def generate(self, **options: Any) -> bytes:
        size = options.get("size", self.size)
        if not isinstance(size, int) or size < self.size:
            raise InvalidKeyError(f"{self.name} secrets must be at least {self.size} bytes")
        return secrets.token_bytes(size)


ALGORITHMS = (
    HMACAlgorithm("HS256", "sha256", 32),
    HMACAlgorithm("HS384", "sha384", 48),
    HMACAlgorithm("HS512", "sha512", 64),
)
