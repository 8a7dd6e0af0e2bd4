"""Symmetric key management (RFC 7518 sections 4.4, 4.5, 4.7): ``dir``, AES Key Wrap, AES-GCM.

Key sizes are exact: an A128KW key is 16 bytes, never "at least 16". A ``dir`` key *is* the
CEK, so it must be bound to one ``enc`` and be exactly that encryption's key size; a token that
names another ``enc`` is refused before any decryption (``alg: dir`` with a wrong-length key).
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from jotauth.jose._b64 import b64encode
from jotauth.jose._jwe.content import ContentEncryption
from jotauth.jose._jwe.params import header_bytes
from jotauth.jose.errors import DecryptionError, InvalidKeyError

__all__ = ["ALGORITHMS", "AESGCMKeyWrap", "AESKeyWrap", "Direct", "unwrap_kw"]


def _check_secret(name: str, key: Any, size: int) -> None:
    if not isinstance(key, bytes):
        raise InvalidKeyError(f"{name} needs a secret of bytes")
    if len(key) != size:
        raise InvalidKeyError(
            f"{name} needs a key of exactly {size} bytes ({size * 8} bits); got {len(key)} bytes. "
            f"Generate one with jose.Key.generate({name!r})"
        )


def unwrap_kw(kek: bytes, encrypted_key: bytes, enc: ContentEncryption) -> bytes:
    """RFC 3394 unwrap to a CEK of exactly ``enc``'s size; DecryptionError otherwise."""
    try:
        cek = aes_key_unwrap(kek, encrypted_key)
    except (InvalidUnwrap, ValueError):
        raise DecryptionError() from None
    if len(cek) != enc.cek_size:
        raise DecryptionError()
    return cek


@dataclass(frozen=True, slots=True)
class Direct:
    """``dir``: the shared key is the CEK."""

    name: str = "dir"
    header_params: tuple[str, ...] = ()
    direct: bool = True
    opt_in: str | None = None

    def check_key(self, key: Any, enc: ContentEncryption | None) -> None:
        if enc is None:
            raise InvalidKeyError(
                'a "dir" key is the content key itself, so it must be bound to one "enc": '
                "pass enc= (for example enc='A256GCM'), or give the JWK that enc as its alg"
            )
        _check_secret(f"dir with {enc.name}", key, enc.cek_size)

    def wrapper(self, public_key: Any) -> Any:
        def wrap(
            enc: ContentEncryption, header: Mapping[str, Any], cek: bytes | None
        ) -> tuple[bytes, bytes, dict[str, Any]]:
            if cek is not None:
                raise InvalidKeyError('a "dir" key is the content key; it cannot share one')
            if len(public_key) != enc.cek_size:
                raise InvalidKeyError(f"this dir key does not fit {enc.name}")
            return bytes(public_key), b"", {}

        return wrap

    def unwrapper(self, private_key: Any) -> Any:
        def unwrap(
            enc: ContentEncryption, header: Mapping[str, Any], encrypted_key: bytes
        ) -> bytes:
            if encrypted_key or len(private_key) != enc.cek_size:
                raise DecryptionError()
            return bytes(private_key)

        return unwrap

    def generate(self, enc: ContentEncryption | None, **options: Any) -> bytes:
        if enc is None:
            raise InvalidKeyError('a "dir" key needs enc= to know its size')
        return secrets.token_bytes(enc.cek_size)


@dataclass(frozen=True, slots=True)
class AESKeyWrap:
    """A128KW / A192KW / A256KW: RFC 3394 key wrap of a random CEK."""

    name: str
    size: int
    direct: bool = False
    opt_in: str | None = None
    header_params: tuple[str, ...] = ()

    def check_key(self, key: Any, enc: ContentEncryption | None) -> None:
        _check_secret(self.name, key, self.size)

    def wrapper(self, public_key: Any) -> Any:
        def wrap(
            enc: ContentEncryption, header: Mapping[str, Any], cek: bytes | None
        ) -> tuple[bytes, bytes, dict[str, Any]]:
            cek = secrets.token_bytes(enc.cek_size) if cek is None else cek
            return cek, aes_key_wrap(public_key, cek), {}

        return wrap

    def unwrapper(self, private_key: Any) -> Any:
        def unwrap(
            enc: ContentEncryption, header: Mapping[str, Any], encrypted_key: bytes
        ) -> bytes:
            return unwrap_kw(private_key, encrypted_key, enc)

        return unwrap

    def generate(self, enc: ContentEncryption | None, **options: Any) -> bytes:
        return secrets.token_bytes(self.size)


@dataclass(frozen=True, slots=True)
class AESGCMKeyWrap:
    """A128GCMKW / A192GCMKW / A256GCMKW: the CEK sealed with AES-GCM; ``iv`` and ``tag`` in the
    header."""

    name: str
    size: int
    direct: bool = False
    opt_in: str | None = None
    header_params: tuple[str, ...] = ("iv", "tag")

    def check_key(self, key: Any, enc: ContentEncryption | None) -> None:
        _check_secret(self.name, key, self.size)

    def wrapper(self, public_key: Any) -> Any:
        seal = AESGCM(public_key).encrypt

        def wrap(
            enc: ContentEncryption, header: Mapping[str, Any], cek: bytes | None
        ) -> tuple[bytes, bytes, dict[str, Any]]:
            cek = secrets.token_bytes(enc.cek_size) if cek is None else cek
            iv = secrets.token_bytes(12)
            sealed = seal(iv, cek, b"")
            members = {"iv": b64encode(iv).decode(), "tag": b64encode(sealed[-16:]).decode()}
            return cek, sealed[:-16], members

        return wrap

    def unwrapper(self, private_key: Any) -> Any:
        open_ = AESGCM(private_key).decrypt

        def unwrap(
            enc: ContentEncryption, header: Mapping[str, Any], encrypted_key: bytes
        ) -> bytes:
            iv = header_bytes(header, "iv", required=True)
            tag = header_bytes(header, "tag", required=True)
            assert iv is not None  # noqa: S101 - required=True
            assert tag is not None  # noqa: S101 - required=True
            if len(iv) != 12 or len(tag) != 16:
                raise DecryptionError()
            try:
                cek = open_(iv, encrypted_key + tag, b"")
            except InvalidTag:
                raise DecryptionError() from None
            if len(cek) != enc.cek_size:
                raise DecryptionError()
            return cek

        return unwrap

    def generate(self, enc: ContentEncryption | None, **options: Any) -> bytes:
        return secrets.token_bytes(self.size)


ALGORITHMS = (
    Direct(),
    AESKeyWrap("A128KW", 16),
    AESKeyWrap("A192KW", 24),
    AESKeyWrap("A256KW", 32),
    AESGCMKeyWrap("A128GCMKW", 16),
    AESGCMKeyWrap("A192GCMKW", 24),
    AESGCMKeyWrap("A256GCMKW", 32),
)
