"""ES256/384/512 (RFC 7518 section 3.4): ECDSA with the curve fixed by the algorithm.

Signatures are the raw ``r || s`` of exactly twice the curve size. DER signatures, other
lengths and ``r = 0`` or ``s = 0`` (CVE-2022-21449, the "psychic signature") fail before any
arithmetic. The curve must match the algorithm: a P-384 key cannot sign ES256.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from jotauth.jose.errors import InvalidKeyError

__all__ = ["ALGORITHMS", "CURVES", "ECAlgorithm", "alg_for_curve"]


@dataclass(frozen=True, slots=True)
class ECAlgorithm:
    name: str
    crv: str
    curve: ec.EllipticCurve
    hash: hashes.HashAlgorithm
    size: int  # bytes of r and of s
    kty: str = "EC"

    def check_key(self, key: Any) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            raise InvalidKeyError(f"{self.name} needs an EC key on {self.crv}")
        if key.curve.name != self.curve.name:
            raise InvalidKeyError(
                f"{self.name} needs a key on {self.crv}; this key is on "
                f"{_CRV_BY_CURVE.get(key.curve.name, key.curve.name)}"
            )

    def signer(self, private_key: Any) -> Callable[[bytes], bytes]:
        sign_with, ecdsa, size = private_key.sign, ec.ECDSA(self.hash), self.size

        def sign(data: bytes) -> bytes:
            r, s = decode_dss_signature(sign_with(data, ecdsa))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")

        return sign

    def verifier(self, public_key: Any) -> Callable[[bytes, bytes], bool]:
        verify_with, ecdsa, size = public_key.verify, ec.ECDSA(self.hash), self.size
        from_bytes = int.from_bytes

        def verify(data: bytes, signature: bytes) -> bool:
            if len(signature) != 2 * size:
                return False
            r = from_bytes(signature[:size], "big")
            s = from_bytes(signature[size:], "big")
            if not r or not s:
                return False
            try:
                verify_with(encode_dss_signature(r, s), data, ecdsa)
            except InvalidSignature:
                return False
            return True

        return verify

    def generate(self, **options: Any) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(self.curve)


ALGORITHMS = (
    ECAlgorithm("ES256", "P-256", ec.SECP256R1(), hashes.SHA256(), 32),
    ECAlgorithm("ES384", "P-384", ec.SECP384R1(), hashes.SHA384(), 48),
    ECAlgorithm("ES512", "P-521", ec.SECP521R1(), hashes.SHA512(), 66),
)
CURVES: dict[str, ec.EllipticCurve] = {alg.crv: alg.curve for alg in ALGORITHMS}
_CRV_BY_CURVE = {alg.curve.name: alg.crv for alg in ALGORITHMS}
_ALG_BY_CURVE = {alg.curve.name: alg.name for alg in ALGORITHMS}


def alg_for_curve(curve: ec.EllipticCurve) -> str:
    """The one algorithm a curve implies; other curves (secp256k1, ...) are not supported."""
    try:
        return _ALG_BY_CURVE[curve.name]
    except KeyError:
        raise InvalidKeyError(
            f"unsupported EC curve {curve.name}; use P-256, P-384 or P-521"
        ) from None
