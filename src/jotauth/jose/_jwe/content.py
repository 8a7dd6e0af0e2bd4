"""Content encryption (RFC 7518 section 5): A128/192/256GCM and A128CBC-HS256/384/512.

Each ``enc`` is a ``ContentEncryption`` that encrypts with a CEK and an IV it draws itself, and
decrypts raising only ``DecryptionError``: a wrong tag, a wrong IV or tag length and bad CBC
padding all look the same, so the content layer is no padding or MAC oracle. AES-CBC-HMAC
checks the tag first, with a constant-time compare, and only then decrypts and unpads.

``decrypter(cek)`` binds a CEK once and returns the decrypt closure; ``dir`` keys use it so that
the AES key schedule is paid once per key rather than once per token.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from hmac import compare_digest
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jotauth.jose.errors import DecryptionError

__all__ = ["CONTENT", "ContentDecrypt", "ContentEncryption"]

# decrypt(iv, ciphertext, tag, aad) -> plaintext, DecryptionError on any failure
ContentDecrypt = Callable[[bytes, bytes, bytes, bytes], bytes]


@dataclass(frozen=True, slots=True)
class ContentEncryption:
    """One JWE ``enc``: key, IV and tag sizes, and how to encrypt and decrypt with a CEK."""

    name: str
    cek_size: int  # bytes
    iv_size: int
    tag_size: int
    hash: hashes.HashAlgorithm | None  # None for GCM

    def encrypt(self, cek: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes, bytes]:
        """``(iv, ciphertext, tag)`` under a fresh random IV."""
        return self.encrypt_with_iv(cek, secrets.token_bytes(self.iv_size), plaintext, aad)

    def encrypt_with_iv(
        self, cek: bytes, iv: bytes, plaintext: bytes, aad: bytes
    ) -> tuple[bytes, bytes, bytes]:
        """Encrypt with a given IV: for test vectors only; an IV must never repeat under a key."""
        if len(cek) != self.cek_size:
            raise ValueError(f"{self.name} needs a {self.cek_size}-byte key")
        if self.hash is None:
            sealed = AESGCM(cek).encrypt(iv, plaintext, aad)
            return iv, sealed[: -self.tag_size], sealed[-self.tag_size :]
        half = self.cek_size // 2
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(cek[half:]), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        return iv, ciphertext, self._cbc_tag(cek[:half], iv, ciphertext, aad)

    def _cbc_tag(self, mac_key: bytes, iv: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        assert self.hash is not None  # noqa: S101 - only CBC-HMAC calls this
        mac = hmac.HMAC(mac_key, self.hash)
        mac.update(aad + iv + ciphertext + (len(aad) * 8).to_bytes(8, "big"))
        return mac.finalize()[: self.tag_size]

    def decrypter(self, cek: bytes) -> ContentDecrypt:
        """``decrypt(iv, ciphertext, tag, aad)`` bound to ``cek``; DecryptionError on failure."""
        if len(cek) != self.cek_size:
            raise DecryptionError()
        iv_size, tag_size = self.iv_size, self.tag_size
        if self.hash is None:
            open_ = AESGCM(cek).decrypt

            def decrypt_gcm(iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes) -> bytes:
                if len(iv) != iv_size or len(tag) != tag_size:
                    raise DecryptionError()
                try:
                    return open_(iv, ciphertext + tag, aad)
                except InvalidTag:
                    raise DecryptionError() from None

            return decrypt_gcm

        half = self.cek_size // 2
        mac_key, enc_key, tag_of = cek[:half], cek[half:], self._cbc_tag

        def decrypt_cbc(iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes) -> bytes:
            if len(iv) != iv_size or len(tag) != tag_size or not ciphertext:
                raise DecryptionError()
            if not compare_digest(tag_of(mac_key, iv, ciphertext, aad), tag):
                raise DecryptionError()
            try:
                decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
                padded = decryptor.update(ciphertext) + decryptor.finalize()
                unpadder = padding.PKCS7(128).unpadder()
                return unpadder.update(padded) + unpadder.finalize()
            except ValueError:  # not a whole number of blocks, or bad padding
                raise DecryptionError() from None

        return decrypt_cbc

    def decrypt(self, cek: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes) -> bytes:
        """Decrypt once with ``cek``; DecryptionError on any failure."""
        return self.decrypter(cek)(iv, ciphertext, tag, aad)


CONTENT: Final = {
    enc.name: enc
    for enc in (
        ContentEncryption("A128GCM", 16, 12, 16, None),
        ContentEncryption("A192GCM", 24, 12, 16, None),
        ContentEncryption("A256GCM", 32, 12, 16, None),
        ContentEncryption("A128CBC-HS256", 32, 16, 16, hashes.SHA256()),
        ContentEncryption("A192CBC-HS384", 48, 16, 24, hashes.SHA384()),
        ContentEncryption("A256CBC-HS512", 64, 16, 32, hashes.SHA512()),
    )
}
