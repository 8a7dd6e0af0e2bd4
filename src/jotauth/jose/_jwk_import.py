"""JWK members to cryptography key objects (RFC 7517, 7518 section 6, RFC 8037), strictly.

``jwk.Key.from_jwk`` decides which algorithm a JWK is for; this module checks that ``use`` and
``key_ops`` agree with it and turns the members into a key object: every member strict
base64url, EC coordinates of exactly the curve's size, a private part that matches its public
part, RSA either with all CRT members or none, OKP curves by use (Ed25519/Ed448 sign, X25519/X448
agree on keys).
"""

from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from jotauth.jose._algs import ec as ec_algs, okp as okp_algs
from jotauth.jose._b64 import b64decode
from jotauth.jose._jwe import registry as jwe_registry
from jotauth.jose.errors import InvalidKeyError, MalformedTokenError

__all__ = ["check_key_ops", "check_use", "is_encryption_alg", "load_jwk"]

_RSA_PRIVATE_MEMBERS: Final = ("p", "q", "dp", "dq", "qi")
_KEY_OPS_SIG: Final = frozenset({"sign", "verify"})
_KEY_OPS_ENC: Final = frozenset(
    {"encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits"}
)


def is_encryption_alg(alg: object) -> bool:
    """True for a JWE key-management ``alg``, or a content ``enc`` naming a ``dir`` key."""
    return type(alg) is str and (alg in jwe_registry.KEY_MANAGEMENT or alg in jwe_registry.CONTENT)


def _member(jwk: Mapping[str, Any], name: str, *, required: bool = True) -> bytes | None:
    value = jwk.get(name)
    if value is None:
        if required:
            raise InvalidKeyError(f'JWK is missing the "{name}" member')
        return None
    if type(value) is not str:
        raise InvalidKeyError(f'JWK member "{name}" must be a base64url string')
    try:
        decoded = b64decode(value.encode("ascii"))
    except (UnicodeEncodeError, MalformedTokenError):
        raise InvalidKeyError(f'JWK member "{name}" is not valid base64url') from None
    if not decoded:
        raise InvalidKeyError(f'JWK member "{name}" is empty')
    return decoded


def _int_member(jwk: Mapping[str, Any], name: str) -> int:
    data = _member(jwk, name)
    assert data is not None  # noqa: S101 - required=True never returns None
    return int.from_bytes(data, "big")


def check_use(use: object, alg: object) -> bool:
    """Whether the JWK is for encryption; ``use`` and the algorithm must agree."""
    for_encryption = is_encryption_alg(alg)
    if use is None:
        return for_encryption
    if use == "enc":
        if alg is None:
            raise InvalidKeyError(
                'this JWK is for "use": "enc" and names no alg; say which key-management '
                "algorithm with alg= (for example 'RSA-OAEP-256' or 'ECDH-ES+A256KW')"
            )
        if not for_encryption:
            raise InvalidKeyError(
                f'this JWK is for "use": "enc", but {str(alg)[:24]!r} is not a JWE algorithm'
            )
        return True
    if use == "sig":
        if for_encryption:
            raise InvalidKeyError(
                f'this JWK is for "use": "sig", but {str(alg)[:24]!r} is a JWE algorithm'
            )
        return False
    raise InvalidKeyError(f'unknown JWK "use": "{str(use)[:16]}"; expected "sig" or "enc"')


def check_key_ops(key_ops: Any, for_encryption: bool) -> None:
    if key_ops is None:
        return
    if not isinstance(key_ops, list) or not all(type(op) is str for op in key_ops):
        raise InvalidKeyError('JWK member "key_ops" must be a list of strings')
    if len(set(key_ops)) != len(key_ops):
        raise InvalidKeyError('JWK member "key_ops" has duplicate values')
    if for_encryption:
        if not _KEY_OPS_ENC & set(key_ops):
            raise InvalidKeyError('this JWK\'s "key_ops" allow no encryption operation')
    elif not _KEY_OPS_SIG & set(key_ops):
        raise InvalidKeyError('this JWK\'s "key_ops" allow neither "sign" nor "verify"')


def load_jwk(jwk: Mapping[str, Any], for_encryption: bool) -> Any:
    kty = jwk.get("kty")
    if kty == "oct":
        return _member(jwk, "k")
    if kty == "RSA":
        return _load_rsa(jwk)
    if kty == "EC":
        return _load_ec(jwk)
    if kty == "OKP":
        return _load_okp(jwk, for_encryption)
    if kty is None:
        raise InvalidKeyError('JWK is missing the "kty" member')
    raise InvalidKeyError(f'unsupported JWK kty "{kty[:16]}"; use oct, RSA, EC or OKP')


def _load_rsa(jwk: Mapping[str, Any]) -> Any:
    if "oth" in jwk:
        raise InvalidKeyError("multi-prime RSA keys (oth) are not supported")
    public = rsa.RSAPublicNumbers(_int_member(jwk, "e"), _int_member(jwk, "n"))
    if "d" not in jwk:
        return public.public_key()
    d = _int_member(jwk, "d")
    present = [name for name in _RSA_PRIVATE_MEMBERS if name in jwk]
    if not present:
        p, q = rsa.rsa_recover_prime_factors(public.n, public.e, d)
        numbers = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), public
        )
    elif len(present) == len(_RSA_PRIVATE_MEMBERS):
        p, q, dp, dq, qi = (_int_member(jwk, name) for name in _RSA_PRIVATE_MEMBERS)
        numbers = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public)
    else:
        raise InvalidKeyError("an RSA private JWK needs all of p, q, dp, dq, qi or none of them")
    return numbers.private_key()


def _load_ec(jwk: Mapping[str, Any]) -> Any:
    crv = jwk.get("crv")
    if crv not in ec_algs.CURVES:
        raise InvalidKeyError(f"unsupported EC curve {crv!r:.24}; use P-256, P-384 or P-521")
    curve = ec_algs.CURVES[crv]
    size = (curve.key_size + 7) // 8
    coordinates = []
    for name in ("x", "y"):
        value = _member(jwk, name)
        assert value is not None  # noqa: S101 - required
        if len(value) != size:
            raise InvalidKeyError(f'EC member "{name}" must be {size} bytes for {crv}')
        coordinates.append(int.from_bytes(value, "big"))
    public = ec.EllipticCurvePublicNumbers(coordinates[0], coordinates[1], curve)
    d = _member(jwk, "d", required=False)
    if d is None:
        return public.public_key()
    if len(d) != size:
        raise InvalidKeyError(f'EC member "d" must be {size} bytes for {crv}')
    private = ec.derive_private_key(int.from_bytes(d, "big"), curve)
    if private.public_key().public_numbers() != public:
        raise InvalidKeyError("the EC private key d does not match its public point x, y")
    return private


_X_CLASSES: Final[dict[str, tuple[Any, Any]]] = {
    "X25519": (x25519.X25519PrivateKey, x25519.X25519PublicKey),
    "X448": (x448.X448PrivateKey, x448.X448PublicKey),
}


def _load_okp(jwk: Mapping[str, Any], for_encryption: bool) -> Any:
    crv = jwk.get("crv")
    private_cls: Any
    public_cls: Any
    if crv in _X_CLASSES:
        if not for_encryption:
            raise InvalidKeyError(f"{crv} is a key-agreement curve; it cannot sign or verify")
        private_cls, public_cls = _X_CLASSES[crv]
    elif crv not in okp_algs.CURVES:
        raise InvalidKeyError(f"unsupported OKP curve {crv!r:.24}; use Ed25519 or Ed448")
    elif crv == "Ed25519":
        private_cls, public_cls = ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey
    else:
        private_cls, public_cls = ed448.Ed448PrivateKey, ed448.Ed448PublicKey
    x = _member(jwk, "x")
    public = public_cls.from_public_bytes(x)
    d = _member(jwk, "d", required=False)
    if d is None:
        return public
    private = private_cls.from_private_bytes(d)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    if private.public_key().public_bytes(*raw) != x:
        raise InvalidKeyError("the OKP private key d does not match its public key x")
    return private
