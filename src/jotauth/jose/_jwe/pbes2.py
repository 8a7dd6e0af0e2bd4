"""PBES2 (RFC 7518 section 4.8): a password stretched by PBKDF2 into an AES Key Wrap key.

The iteration count ``p2c`` comes from the token, so an attacker chooses how long decryption
takes: a ``p2c`` of 10**9 is minutes of CPU per token (CVE-2022-36083 in panva/jose). The caller
must name a PBES2 algorithm to accept it at all, and ``p2c`` is capped before any PBKDF2 work
(``jwe.DEFAULT_MAX_P2C``); below RFC 7518's recommended floor of 1000 it is refused too. The salt
input ``p2s`` must be at least 8 bytes (RFC 7518 section 4.8.1.1).
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from jotauth.jose._b64 import b64encode
from jotauth.jose._jwe.aes import unwrap_kw
from jotauth.jose._jwe.content import ContentEncryption
from jotauth.jose._jwe.params import header_bytes
from jotauth.jose.errors import InvalidKeyError, MalformedTokenError

__all__ = ["ALGORITHMS", "DEFAULT_P2C", "MIN_P2C", "PBES2", "iteration_count"]

MIN_P2C: Final = 1000
DEFAULT_P2C: Final = 10_000  # what jotauth writes; within jwe.DEFAULT_MAX_P2C

PBES2_REFUSED = (
    "PBES2 (password-based encryption) is refused unless named in algorithms=: the token "
    "chooses the PBKDF2 iteration count, which makes every token a CPU cost to the receiver"
)


def iteration_count(header: Mapping[str, Any], maximum: int) -> int:
    """The header's ``p2c``, checked to be an integer from MIN_P2C to ``maximum``."""
    p2c = header.get("p2c")
    if type(p2c) is not int:
        raise MalformedTokenError('a PBES2 header needs "p2c", an integer iteration count')
    if p2c < MIN_P2C:
        raise MalformedTokenError(f'"p2c" must be at least {MIN_P2C}; this is {p2c}')
    if p2c > maximum:
        raise MalformedTokenError(
            f'"p2c" {p2c} is over the limit of {maximum} iterations (max_p2c); refused before '
            "any key derivation"
        )
    return p2c


@dataclass(frozen=True, slots=True)
class PBES2:
    name: str
    hash: hashes.HashAlgorithm
    size: int  # the AES Key Wrap key
    opt_in: str | None = PBES2_REFUSED
    direct: bool = False
    header_params: tuple[str, ...] = ("p2s", "p2c")

    def _kek(self, password: bytes, salt_input: bytes, count: int) -> bytes:
        salt = self.name.encode("ascii") + b"\x00" + salt_input
        return PBKDF2HMAC(self.hash, self.size, salt, count).derive(password)

    def check_key(self, key: Any, enc: ContentEncryption | None) -> None:
        if not isinstance(key, bytes) or not key:
            raise InvalidKeyError(f"{self.name} needs a non-empty password of bytes")

    def wrapper(self, public_key: Any) -> Any:
        def wrap(
            enc: ContentEncryption, header: Mapping[str, Any], cek: bytes | None
        ) -> tuple[bytes, bytes, dict[str, Any]]:
            count = header.get("p2c", DEFAULT_P2C)
            if type(count) is not int or count < MIN_P2C:
                raise InvalidKeyError(f'"p2c" must be an integer of at least {MIN_P2C}')
            salt_input = secrets.token_bytes(16)
            cek = secrets.token_bytes(enc.cek_size) if cek is None else cek
            kek = self._kek(public_key, salt_input, count)
            members = {"p2s": b64encode(salt_input).decode(), "p2c": count}
            return cek, aes_key_wrap(kek, cek), members

        return wrap

    def unwrapper(self, private_key: Any) -> Any:
        def unwrap(
            enc: ContentEncryption, header: Mapping[str, Any], encrypted_key: bytes
        ) -> bytes:
            # jwe checks p2c against the caller's max_p2c before calling; this is the floor.
            count = iteration_count(header, 1 << 62)
            salt_input = header_bytes(header, "p2s", required=True)
            assert salt_input is not None  # noqa: S101 - required=True
            if len(salt_input) < 8:
                raise MalformedTokenError('"p2s" must be at least 8 bytes')
            return unwrap_kw(self._kek(private_key, salt_input, count), encrypted_key, enc)

        return unwrap

    def generate(self, enc: ContentEncryption | None, **options: Any) -> bytes:
        return secrets.token_bytes(32)


ALGORITHMS = (
    PBES2("PBES2-HS256+A128KW", hashes.SHA256(), 16),
    PBES2("PBES2-HS384+A192KW", hashes.SHA384(), 24),
    PBES2("PBES2-HS512+A256KW", hashes.SHA512(), 32),
)
