"""RS256/384/512 (PKCS#1 v1.5) and PS256/384/512 (PSS) (RFC 7518 sections 3.3 and 3.5).

Keys under 2048 bits are refused (RFC 7518 section 3.3). PSS uses a salt as long as the hash,
as RFC 7518 section 3.5 requires, for signing and for verifying.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jotauth.jose.errors import InvalidKeyError

__all__ = ["ALGORITHMS", "MIN_BITS", "RSAAlgorithm"]

MIN_BITS = 2048


@dataclass(frozen=True, slots=True)
class RSAAlgorithm:
    name: str
    hash: hashes.HashAlgorithm
    pss: bool
    kty: str = "RSA"

    def _padding(self) -> padding.AsymmetricPadding:
        if self.pss:
            return padding.PSS(mgf=padding.MGF1(self.hash), salt_length=self.hash.digest_size)
        return padding.PKCS1v15()

    def check_key(self, key: Any) -> None:
        if not isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            raise InvalidKeyError(f"{self.name} needs an RSA key")
        if key.key_size < MIN_BITS:
            raise InvalidKeyError(
                f"RSA keys must be at least {MIN_BITS} bits; this one has {key.key_size}"
            )

    def signer(self, private_key: Any) -> Callable[[bytes], bytes]:
        sign_with, pad, hash_ = private_key.sign, self._padding(), self.hash

        def sign(data: bytes) -> bytes:
            signature: bytes = sign_with(data, pad, hash_)
            return signature

        return sign

    def verifier(self, public_key: Any) -> Callable[[bytes, bytes], bool]:
        verify_with, pad, hash_ = public_key.verify, self._padding(), self.hash
        size = (public_key.key_size + 7) // 8

        def verify(data: bytes, signature: bytes) -> bool:
            if len(signature) != size:
                return False
            try:
                verify_with(signature, data, pad, hash_)
            except InvalidSignature:
                return False
            return True

        return verify

    def generate(self, **options: Any) -> rsa.RSAPrivateKey:
        size = options.get("size", MIN_BITS)
        if not isinstance(size, int) or size < MIN_BITS:
            raise InvalidKeyError(f"RSA keys must be at least {MIN_BITS} bits")
        return rsa.generate_private_key(public_exponent=65537, key_size=size)


ALGORITHMS = (
    RSAAlgorithm("RS256", hashes.SHA256(), pss=False),
    RSAAlgorithm("RS384", hashes.SHA384(), pss=False),
    RSAAlgorithm("RS512", hashes.SHA512(), pss=False),
    RSAAlgorithm("PS256", hashes.SHA256(), pss=True),
    RSAAlgorithm("PS384", hashes.SHA384(), pss=True),
    RSAAlgorithm("PS512", hashes.SHA512(), pss=True),
)
