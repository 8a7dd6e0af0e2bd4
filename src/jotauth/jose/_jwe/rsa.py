"""RSA key encryption (RFC 7518 sections 4.2, 4.3): RSA-OAEP, RSA-OAEP-256 and RSA1_5.

Keys follow the signature rules: 2048 to 16384 bits, no ROCA fingerprint. A CEK that does not
decrypt, or decrypts to the wrong length, is replaced by a random one and decryption carries on
(RFC 7516 section 11.5): the content tag then fails with the same ``DecryptionError`` at the same
point, so neither the error nor the time says whether the RSA step failed.

``RSA1_5`` is PKCS #1 v1.5 encryption, which Bleichenbacher's attack turns into a decryption
oracle wherever padding failures can be told apart (RFC 8725 section 3.2); it is refused unless
the caller names it, and jotauth never encrypts with it.
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jotauth.jose._algs.rsa import MIN_BITS, check_rsa_key
from jotauth.jose._jwe.content import ContentEncryption
from jotauth.jose.errors import InvalidKeyError

__all__ = ["ALGORITHMS", "RSAKeyEncryption"]

RSA1_5_REFUSED = (
    "RSA1_5 (RSAES-PKCS1-v1_5) is refused unless named in algorithms=: its padding gives "
    "Bleichenbacher's attack a decryption oracle (RFC 8725 section 3.2); use RSA-OAEP-256"
)


@dataclass(frozen=True, slots=True)
class RSAKeyEncryption:
    name: str
    hash: hashes.HashAlgorithm | None  # None: PKCS #1 v1.5
    opt_in: str | None = None
    direct: bool = False
    header_params: tuple[str, ...] = ()

    def _padding(self) -> padding.AsymmetricPadding:
        if self.hash is None:
            return padding.PKCS1v15()
        return padding.OAEP(mgf=padding.MGF1(self.hash), algorithm=self.hash, label=None)

    def check_key(self, key: Any, enc: ContentEncryption | None) -> None:
        check_rsa_key(self.name, key)

    def wrapper(self, public_key: Any) -> Any:
        if self.hash is None:

            def refuse(enc: ContentEncryption, header: Mapping[str, Any], cek: bytes | None) -> Any:
                raise InvalidKeyError(
                    "jotauth does not encrypt with RSA1_5 (Bleichenbacher); use RSA-OAEP-256"
                )

            return refuse
        encrypt, pad = public_key.encrypt, self._padding()

        def wrap(
            enc: ContentEncryption, header: Mapping[str, Any], cek: bytes | None
        ) -> tuple[bytes, bytes, dict[str, Any]]:
            cek = secrets.token_bytes(enc.cek_size) if cek is None else cek
            return cek, encrypt(cek, pad), {}

        return wrap

    def unwrapper(self, private_key: Any) -> Any:
        decrypt, pad = private_key.decrypt, self._padding()
        size = (private_key.key_size + 7) // 8

        def unwrap(
            enc: ContentEncryption, header: Mapping[str, Any], encrypted_key: bytes
        ) -> bytes:
            # Drawn before the RSA step, used only if it fails: the same work either way.
            fallback = secrets.token_bytes(enc.cek_size)
            if len(encrypted_key) != size:
                return fallback
            try:
                cek: bytes = decrypt(encrypted_key, pad)
            except ValueError:
                return fallback
            return cek if len(cek) == enc.cek_size else fallback

        return unwrap

    def generate(self, enc: ContentEncryption | None, **options: Any) -> rsa.RSAPrivateKey:
        size = options.get("size", MIN_BITS)
        if not isinstance(size, int) or size < MIN_BITS:
            raise InvalidKeyError(f"RSA keys must be at least {MIN_BITS} bits")
        return rsa.generate_private_key(public_exponent=65537, key_size=size)


ALGORITHMS = (
    RSAKeyEncryption("RSA-OAEP", hashes.SHA1()),  # noqa: S303 - OAEP with SHA-1 is RFC 7518's
    RSAKeyEncryption("RSA-OAEP-256", hashes.SHA256()),
    RSAKeyEncryption("RSA1_5", None, opt_in=RSA1_5_REFUSED),
)
