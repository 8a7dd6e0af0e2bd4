"""EdDSA with Ed25519 or Ed448 (RFC 8037); the key fixes the curve, so ``EdDSA`` names both."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from jotauth.jose.errors import InvalidKeyError

__all__ = ["ALGORITHMS", "CURVES", "EdDSAAlgorithm", "crv_of"]

_PRIVATE = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
_PUBLIC = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
CURVES = {"Ed25519": ed25519, "Ed448": ed448}
_SIGNATURE_SIZE = {"Ed25519": 64, "Ed448": 114}


def crv_of(key: Any) -> str:
    """The JWK ``crv`` of an Edwards key."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "Ed448"
    raise InvalidKeyError("EdDSA needs an Ed25519 or Ed448 key")


@dataclass(frozen=True, slots=True)
class EdDSAAlgorithm:
    name: str = "EdDSA"
    kty: str = "OKP"

    def check_key(self, key: Any) -> None:
        if not isinstance(key, _PRIVATE | _PUBLIC):
            raise InvalidKeyError("EdDSA needs an Ed25519 or Ed448 key")

    def signer(self, private_key: Any) -> Callable[[bytes], bytes]:
        sign: Callable[[bytes], bytes] = private_key.sign
        return sign

    def verifier(self, public_key: Any) -> Callable[[bytes, bytes], bool]:
        verify_with, size = public_key.verify, _SIGNATURE_SIZE[crv_of(public_key)]

        def verify(data: bytes, signature: bytes) -> bool:
            if len(signature) != size:
                return False
            try:
                verify_with(signature, data)
            except InvalidSignature:
                return False
            return True

        return verify

    def generate(self, **options: Any) -> Any:
        crv = options.get("crv") or "Ed25519"
        if crv not in CURVES:
            raise InvalidKeyError(f"unsupported EdDSA curve {crv!r}; use Ed25519 or Ed448")
        if crv == "Ed448":
            return ed448.Ed448PrivateKey.generate()
        return ed25519.Ed25519PrivateKey.generate()


ALGORITHMS = (EdDSAAlgorithm(),)
