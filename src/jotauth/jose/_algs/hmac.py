"""HS256/384/512 (RFC 7518 section 3.2).

Secrets shorter than the hash output are refused (RFC 7518 requires at least that much key
material), and secrets that are public key material are refused so that a public key can never
be used as an HMAC secret (the RS256-to-HS256 confusion attack).

The keyed HMAC state is built once per key and copied per message: the key schedule (hashing
the padded key into the inner and outer states) is then paid once instead of on every call,
which halves the cost of a MAC over a token-sized input.
"""

import binascii
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from hmac import compare_digest
from typing import Any, Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hmac as crypto_hmac
from cryptography.hazmat.primitives.serialization import load_der_public_key
from cryptography.x509 import load_der_x509_certificate

from jotauth.jose.errors import InvalidKeyError

__all__ = ["ALGORITHMS", "HMACAlgorithm", "looks_like_public_key"]

# PEM armor of any kind (SPKI, PKCS#1, X.509, OpenSSH private) and RFC 4716 SSH2 public keys.
_ARMOR_MARKERS: Final = (b"-----BEGIN", b"---- BEGIN SSH2")
# An OpenSSH public key line: the key type, then its base64 blob, which always starts "AAAA"
# (the big-endian length of the type name).
_OPENSSH_KEY: Final = re.compile(
    rb"(?:^|\s)(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp(?:256|384|521)"
    rb"|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+AAAA"
)
_BASE64: Final = re.compile(rb"[A-Za-z0-9+/=\s]+")
_DER_ERRORS: Final = (ValueError, TypeError, UnsupportedAlgorithm)


def _is_der_key(data: bytes) -> bool:
    """A DER public key (SPKI or PKCS#1) or X.509 certificate; DER always opens a SEQUENCE."""
    if data[:1] != b"\x30":
        return False
    for load in (load_der_public_key, load_der_x509_certificate):
        try:
            load(data)
        except _DER_ERRORS:
            continue
        return True
    return False


def _is_base64_der_key(text: bytes) -> bool:
    """The base64 body of a PEM without its armor (DER's SEQUENCE tag encodes as ``M``)."""
    if text[:1] != b"M" or not _BASE64.fullmatch(text):
        return False
    try:
        return _is_der_key(binascii.a2b_base64(text))
    except binascii.Error:
        return False


def _is_jwk_text(text: bytes) -> bool:
    """A JWK or JWK Set as JSON text, whatever the order or spelling of its members."""
    if b'"kty"' in text:
        return True
    if text[:1] != b"{":
        return False
    try:
        value = json.loads(text)
    except ValueError:  # includes UnicodeDecodeError: not JSON text at all
        return False
    return isinstance(value, dict) and ("kty" in value or isinstance(value.get("keys"), list))


def looks_like_public_key(secret: bytes) -> bool:
    """True for public key material in any common form: something an attacker can read.

    PEM of any kind, DER (SPKI, PKCS#1 or an X.509 certificate, also as bare base64), JWK and
    JWK Set JSON, and OpenSSH public keys. The whole secret is looked at, not a prefix; the
    parsers run only on input that starts the way their format must, so a random secret costs
    a few byte comparisons.
    """
    if any(marker in secret for marker in _ARMOR_MARKERS) or _OPENSSH_KEY.search(secret):
        return True
    text = secret.strip().removeprefix(b"\xef\xbb\xbf").strip()
    return _is_jwk_text(text) or _is_der_key(secret) or _is_base64_der_key(text)


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
                "this HMAC secret is public key material (PEM, DER, an X.509 certificate, "
                "a JWK or an OpenSSH key); a public key must never be used as an HMAC secret"
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
