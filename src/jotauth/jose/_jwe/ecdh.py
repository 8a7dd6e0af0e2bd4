"""ECDH-ES key agreement (RFC 7518 section 4.6, RFC 8037 section 3.2) on P-256/384/521, X25519
and X448, direct or with AES Key Wrap (``ECDH-ES+A128KW`` ...).

The sender's ephemeral public key travels in the header (``epk``): the one header member that
is ever read as a key, and only as the other half of an agreement with our own private key.
It must be on our key's curve and, for the NIST curves, a valid point: cryptography refuses a
point that is not on the curve, which stops invalid-curve attacks (where a point of small order
on another curve leaks the private key a few bits per query). X25519/X448 points that give an
all-zero shared secret (small order) fail the exchange and so decryption. A private ``d`` in
an ``epk`` is refused. ``apu`` and ``apv`` (agreement party info) enter the Concat KDF as given.
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from jotauth.jose._b64 import b64decode, b64encode
from jotauth.jose._jwe.aes import unwrap_kw
from jotauth.jose._jwe.content import ContentEncryption
from jotauth.jose._jwe.params import header_bytes
from jotauth.jose.errors import DecryptionError, InvalidKeyError, MalformedTokenError

__all__ = ["ALGORITHMS", "CURVES", "ECDHES", "crv_of", "load_epk"]

CURVES: Final[dict[str, ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_CRV_OF_CURVE: Final = {curve.name: crv for crv, curve in CURVES.items()}
_OKP: Final[dict[str, Any]] = {
    "X25519": (x25519.X25519PrivateKey, x25519.X25519PublicKey, 32),
    "X448": (x448.X448PrivateKey, x448.X448PublicKey, 56),
}
_EC_KEYS = ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey
_X_PRIVATE = x25519.X25519PrivateKey | x448.X448PrivateKey
_X_KEYS = _X_PRIVATE | x25519.X25519PublicKey | x448.X448PublicKey
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def crv_of(key: Any) -> str:
    """The JWK ``crv`` of a key-agreement key (EC or X25519/X448)."""
    if isinstance(key, _EC_KEYS):
        try:
            return _CRV_OF_CURVE[key.curve.name]
        except KeyError:
            raise InvalidKeyError(
                f"unsupported EC curve {key.curve.name}; use P-256, P-384 or P-521"
            ) from None
    if isinstance(key, x25519.X25519PrivateKey | x25519.X25519PublicKey):
        return "X25519"
    if isinstance(key, x448.X448PrivateKey | x448.X448PublicKey):
        return "X448"
    raise InvalidKeyError("ECDH-ES needs an EC key (P-256/384/521) or an X25519/X448 key")


def _public_jwk(public: Any) -> dict[str, Any]:
    crv = crv_of(public)
    if crv in _OKP:
        return {"kty": "OKP", "crv": crv, "x": b64encode(public.public_bytes(*_RAW)).decode()}
    size = (public.curve.key_size + 7) // 8
    numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64encode(numbers.x.to_bytes(size, "big")).decode(),
        "y": b64encode(numbers.y.to_bytes(size, "big")).decode(),
    }


def _coordinate(epk: Mapping[str, Any], name: str, size: int) -> bytes:
    value = epk.get(name)
    if type(value) is not str or not value.isascii():
        raise MalformedTokenError(f'the "epk" member "{name}" must be a base64url string')
    data = b64decode(value.encode("ascii"))
    if len(data) != size:
        raise MalformedTokenError(f'the "epk" member "{name}" must be {size} bytes')
    return data


def load_epk(epk: object, crv: str) -> Any:
    """The sender's ephemeral public key, checked to be a valid public key on ``crv``."""
    if type(epk) is not dict:
        raise MalformedTokenError('the JWE header needs an "epk" object for ECDH-ES')
    if "d" in epk:
        raise MalformedTokenError('the "epk" must be a public key; it has a private "d"')
    if epk.get("crv") != crv:
        raise MalformedTokenError(
            f'the "epk" must be on the key\'s curve {crv}; it says {str(epk.get("crv"))[:16]!r}'
        )
    if crv in _OKP:
        if epk.get("kty") != "OKP":
            raise MalformedTokenError(f'an {crv} "epk" must have "kty": "OKP"')
        public_cls, size = _OKP[crv][1], _OKP[crv][2]
        return public_cls.from_public_bytes(_coordinate(epk, "x", size))
    if epk.get("kty") != "EC":
        raise MalformedTokenError(f'a {crv} "epk" must have "kty": "EC"')
    curve = CURVES[crv]
    size = (curve.key_size + 7) // 8
    point = b"\x04" + _coordinate(epk, "x", size) + _coordinate(epk, "y", size)
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError:
        raise MalformedTokenError(
            f'the "epk" is not a point on {crv} (an invalid-curve attack?)'
        ) from None


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def derive(shared: bytes, algorithm_id: str, apu: bytes, apv: bytes, size: int) -> bytes:
    """The Concat KDF of RFC 7518 section 4.6.2 (NIST SP 800-56A), SHA-256, ``size`` bytes."""
    other_info = (
        _length_prefixed(algorithm_id.encode("ascii"))
        + _length_prefixed(apu)
        + _length_prefixed(apv)
        + (size * 8).to_bytes(4, "big")
    )
    return ConcatKDFHash(hashes.SHA256(), size, other_info).derive(shared)


def _exchange(private: Any, public: Any) -> bytes:
    try:
        if isinstance(private, ec.EllipticCurvePrivateKey):
            shared: bytes = private.exchange(ec.ECDH(), public)
        else:
            shared = private.exchange(public)
    except ValueError:  # an X25519/X448 point of small order: an all-zero secret
        raise DecryptionError() from None
    return shared


def _generate(crv: str) -> Any:
    if crv in _OKP:
        return _OKP[crv][0].generate()
    return ec.generate_private_key(CURVES[crv])


@dataclass(frozen=True, slots=True)
class ECDHES:
    """``ECDH-ES`` (``wrap_size`` 0: the agreed key is the CEK) or ``ECDH-ES+AxxxKW``."""

    name: str
    wrap_size: int
    opt_in: str | None = None
    header_params: tuple[str, ...] = ("epk", "apu", "apv")

    @property
    def direct(self) -> bool:
        return self.wrap_size == 0

    def _kdf_input(self, enc: ContentEncryption) -> tuple[str, int]:
        return (enc.name, enc.cek_size) if self.wrap_size == 0 else (self.name, self.wrap_size)

    def check_key(self, key: Any, enc: ContentEncryption | None) -> None:
        if not isinstance(key, _EC_KEYS | _X_KEYS):
            raise InvalidKeyError(f"{self.name} needs an EC key (P-256/384/521) or X25519/X448")
        crv_of(key)

    def wrapper(self, public_key: Any) -> Any:
        crv = crv_of(public_key)

        def wrap(
            enc: ContentEncryption, header: Mapping[str, Any], cek: bytes | None
        ) -> tuple[bytes, bytes, dict[str, Any]]:
            if cek is not None and self.wrap_size == 0:
                raise InvalidKeyError("ECDH-ES agrees on the content key; it cannot share one")
            apu = header_bytes(header, "apu", required=False) or b""
            apv = header_bytes(header, "apv", required=False) or b""
            ephemeral = _generate(crv)
            algorithm_id, size = self._kdf_input(enc)
            agreed = derive(_exchange(ephemeral, public_key), algorithm_id, apu, apv, size)
            members = {"epk": _public_jwk(ephemeral.public_key())}
            if self.wrap_size == 0:
                return agreed, b"", members
            cek = secrets.token_bytes(enc.cek_size) if cek is None else cek
            return cek, aes_key_wrap(agreed, cek), members

        return wrap

    def unwrapper(self, private_key: Any) -> Any:
        crv = crv_of(private_key)

        def unwrap(
            enc: ContentEncryption, header: Mapping[str, Any], encrypted_key: bytes
        ) -> bytes:
            epk = load_epk(header.get("epk"), crv)
            apu = header_bytes(header, "apu", required=False) or b""
            apv = header_bytes(header, "apv", required=False) or b""
            if self.wrap_size == 0 and encrypted_key:
                raise DecryptionError()
            algorithm_id, size = self._kdf_input(enc)
            agreed = derive(_exchange(private_key, epk), algorithm_id, apu, apv, size)
            if self.wrap_size == 0:
                return agreed
            return unwrap_kw(agreed, encrypted_key, enc)

        return unwrap

    def generate(self, enc: ContentEncryption | None, **options: Any) -> Any:
        crv = options.get("crv") or "P-256"
        if crv not in CURVES and crv not in _OKP:
            raise InvalidKeyError(
                f"unsupported ECDH-ES curve {crv!r:.24}; use P-256, P-384, P-521, X25519 or X448"
            )
        return _generate(crv)


ALGORITHMS = (
    ECDHES("ECDH-ES", 0),
    ECDHES("ECDH-ES+A128KW", 16),
    ECDHES("ECDH-ES+A192KW", 24),
    ECDHES("ECDH-ES+A256KW", 32),
)
