"""EdDSA with Ed25519 or Ed448 (RFC 8037), under three names.

RFC 8037's ``EdDSA`` leaves the curve to the key; RFC 9864 deprecates it in favour of the
fully-specified ``Ed25519`` and ``Ed448``, each of which takes keys of its own curve only. On a
given key the three names are one computation, so the names a key answers to are its own and,
for an Edwards key, ``EdDSA`` and its curve's name (``names_for``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from jotauth.jose.errors import InvalidKeyError

__all__ = ["ALGORITHMS", "CURVES", "NAMES", "EdDSAAlgorithm", "crv_of", "names_for"]

_PRIVATE = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
_PUBLIC = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
CURVES = {"Ed25519": ed25519, "Ed448": ed448}
_SIGNATURE_SIZE = {"Ed25519": 64, "Ed448": 114}
NAMES = ("EdDSA", *CURVES)


def crv_of(key: Any) -> str:
    """The JWK ``crv`` of an Edwards key."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "Ed448"
    raise InvalidKeyError("EdDSA needs an Ed25519 or Ed448 key")


def names_for(key: Any) -> tuple[str, str]:
    """The algorithm names an Edwards key can verify and sign under: EdDSA and its curve's."""
    return ("EdDSA", crv_of(key))


@dataclass(frozen=True, slots=True)
class EdDSAAlgorithm:
    name: str = "EdDSA"
    kty: str = "OKP"

    def check_key(self, key: Any) -> None:
        if not isinstance(key, _PRIVATE | _PUBLIC):
            raise InvalidKeyError(f"{self.name} needs an {self._curves()} key")
        if self.name != "EdDSA" and crv_of(key) != self.name:
            raise InvalidKeyError(f"{self.name} needs an {self.name} key; this is {crv_of(key)}")

    def _curves(self) -> str:
        return "Ed25519 or Ed448" if self.name == "EdDSA" else self.name

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
        fixed = None if self.name == "EdDSA" else self.name
        crv = options.get("crv") or fixed or "Ed25519"
        if fixed is not None and crv != fixed:
            raise InvalidKeyError(f"{self.name} keys are on {fixed}; drop crv= or use EdDSA")
        if crv not in CURVES:
            raise InvalidKeyError(f"unsupported EdDSA curve {crv!r}; use Ed25519 or Ed448")
        if crv == "Ed448":
            return ed448.Ed448PrivateKey.generate()
        return ed25519.Ed25519PrivateKey.generate()


ALGORITHMS = (EdDSAAlgorithm("EdDSA"), EdDSAAlgorithm("Ed25519"), EdDSAAlgorithm("Ed448"))
