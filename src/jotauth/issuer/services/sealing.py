"""AES-256-GCM sealing: private keys under the master key, refresh successors under their parent.

The associated data binds each ciphertext to its purpose (a kid, a token id), so a sealed blob
copied to another row does not open there.
"""

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jotauth.issuer.errors import ConfigurationError

__all__ = ["derive_key", "open_sealed", "seal"]

_NONCE = 12


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || ciphertext+tag."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext, or ConfigurationError when the key is wrong or the data was altered."""
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
    except (InvalidTag, ValueError) as exc:
        raise ConfigurationError(
            "cannot decrypt a sealed value: wrong JOTAUTH_MASTER_KEY or tampered data"
        ) from exc


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A 256-bit key for ``purpose`` from a high-entropy ``secret`` (HMAC-SHA256 as a KDF)."""
    return hmac.new(secret, purpose, hashlib.sha256).digest()
