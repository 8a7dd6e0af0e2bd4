"""Keys: import, export, generation and RFC 7638 thumbprints, each key bound to one algorithm.

A ``Key`` knows its algorithm before it ever sees a token, so a token cannot choose how it is
verified or decrypted (RFC 8725 section 3.1). The binding comes from the JWK's ``alg``, an
explicit ``alg`` argument, or the key itself where that is unambiguous (an EC curve, an Edwards
curve). RSA and oct keys carry no such hint, so loading one without an algorithm is an error
rather than a guess. Signer and verifier closures are bound once here, which keeps verification
to a single call.
An Edwards key bound to ``EdDSA`` or to its curve's fully-specified name (``Ed25519``, ``Ed448``,
RFC 9864) verifies tokens under either name: the two are one computation on that key, and
issuers are moving from the first to the second (``Key.accepts``).

A key is for signatures (``use == "sig"``, a JWS ``alg``) or for encryption (``use == "enc"``,
a JWE key-management ``alg`` such as ``RSA-OAEP-256`` or ``ECDH-ES+A256KW``, optionally bound
to one content encryption ``enc`` as well); never both. A ``dir`` key is the content key itself,
so it is always bound to its ``enc``, and its JWK names that ``enc`` as its ``alg`` (RFC 7520
section 5.6 does so). Encryption keys carry ``wrap_fn`` and, when private, ``unwrap_fn``: the
key-management closures ``jose.jwe`` calls.
"""

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519
from cryptography.x509 import load_pem_x509_certificate

from jotauth.jose import algorithms
from jotauth.jose._algs import ec as ec_algs, okp as okp_algs
from jotauth.jose._b64 import b64encode
from jotauth.jose._json import dumps, loads_object
from jotauth.jose._jwe import ecdh as ecdh_jwe, registry as jwe_registry
from jotauth.jose._jwk_import import check_key_ops, check_use, is_encryption_alg, load_jwk
from jotauth.jose.errors import (
    InvalidKeyError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
)

__all__ = ["Key"]

_THUMBPRINT_MEMBERS: Final = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
    "OKP": ("crv", "kty", "x"),
}
_EC_PRIVATE = ec.EllipticCurvePrivateKey
_ED_PRIVATE = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
_ED_PUBLIC = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
_X_PRIVATE = x25519.X25519PrivateKey | x448.X448PrivateKey
_X_PUBLIC = x25519.X25519PublicKey | x448.X448PublicKey
_PRIVATE_TYPES = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | _ED_PRIVATE | _X_PRIVATE
_SUPPORTED_TYPES = (
    _PRIVATE_TYPES | rsa.RSAPublicKey | ec.EllipticCurvePublicKey | _ED_PUBLIC | _X_PUBLIC
)


def _kty_of(key: Any) -> str:
    if isinstance(key, bytes):
        return "oct"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "EC"
    return "OKP"


def _never_verifies(data: bytes, signature: bytes) -> bool:
    """The verify_fn of an encryption key: it verifies no signature."""
    return False


def _b64_text(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def _int_b64(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64_text(value.to_bytes(length, "big"))


def _infer_alg(key: Any, alg: str | None) -> str:
    """The algorithm a key is bound to: the one given, or the one its curve implies."""
    if alg is not None and alg in jwe_registry.KEY_MANAGEMENT:
        return alg  # the family's check_key decides whether the key fits
    if isinstance(key, _X_PRIVATE | _X_PUBLIC):
        raise InvalidKeyError(
            "an X25519/X448 key is for key agreement; say which algorithm with alg= "
            "(for example alg='ECDH-ES+A256KW' or 'ECDH-ES')"
        )
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        implied = ec_algs.alg_for_curve(key.curve)
    elif isinstance(key, _ED_PRIVATE | _ED_PUBLIC):
        names = okp_algs.names_for(key)
        if alg is None or alg in names:
            return alg or "EdDSA"
        raise InvalidKeyError(
            f"this {names[1]} key can only be used with {' or '.join(names)}, not {alg:.16}"
        )
    elif alg is None:
        kind = "an HMAC secret" if isinstance(key, bytes) else "an RSA key"
        raise InvalidKeyError(
            f"{kind} fits several algorithms; say which one with alg= "
            "(for example alg='RS256' or 'PS256', or 'HS256' for secrets)"
        )
    else:
        return alg
    if alg is not None and alg != implied:
        raise InvalidKeyError(f"this key can only be used with {implied}, not {alg}")
    return implied


class Key:
    """A key bound to exactly one algorithm: a JWS ``alg``, or a JWE ``alg`` (and maybe ``enc``).

    Construct with ``generate``, ``from_jwk``, ``from_pem`` or ``from_secret``. ``repr`` and
    error messages never show key material.
    """

    __slots__ = (
        "_key",
        "_names",
        "_private",
        "_public_key",
        "_sign",
        "_thumbprint",
        "alg",
        "enc",
        "kid",
        "kty",
        "unwrap_fn",
        "use",
        "verify_fn",
        "wrap_fn",
    )

    alg: str
    enc: str | None
    kid: str
    kty: str
    use: str
    verify_fn: Callable[[bytes, bytes], bool]
    wrap_fn: "jwe_registry.Wrap | None"
    unwrap_fn: "jwe_registry.Unwrap | None"

    def __init__(
        self, key: Any, alg: str | None = None, *, kid: str | None = None, enc: str | None = None
    ) -> None:
        """Bind a cryptography key object (or secret bytes) to ``alg`` (and, for JWE, ``enc``).

        ``kid`` defaults to the RFC 7638 thumbprint. A content encryption name as ``alg``
        (``"A256GCM"``) means a ``dir`` key for that ``enc``.
        """
        if kid is not None and type(kid) is not str:
            raise InvalidKeyError("kid must be a string")
        if alg is not None and type(alg) is str and alg in jwe_registry.CONTENT:
            if enc is not None and enc != alg:
                raise InvalidKeyError(f'a "dir" key for {alg} cannot be bound to enc {enc!r:.24}')
            alg, enc = "dir", alg
        self._key = key
        self._thumbprint: str | None = None
        name = _infer_alg(key, alg)
        if name in jwe_registry.KEY_MANAGEMENT:
            self._bind_encryption(key, name, enc)
        else:
            if enc is not None:
                raise InvalidKeyError(f"{name} is a signature algorithm; enc= is for JWE keys")
            self._bind_signature(key, name)
        self.kid = kid if kid is not None else self.thumbprint()

    def _bind_signature(self, key: Any, name: str) -> None:
        try:
            algorithm = algorithms.get(name)
        except UnsupportedAlgorithmError as exc:
            raise InvalidKeyError(str(exc)) from None
        algorithm.check_key(key)
        self.alg, self.enc, self.use = name, None, "sig"
        self.kty = algorithm.kty
        self.wrap_fn = self.unwrap_fn = None
        if isinstance(key, bytes):
            self._public_key: Any = key
            self._sign: Callable[[bytes], bytes] | None = algorithm.signer(key)
        elif isinstance(key, _PRIVATE_TYPES):
            self._public_key = key.public_key()
            self._sign = algorithm.signer(key)
        else:
            self._public_key = key
            self._sign = None
        self._private = self._sign is not None
        self.verify_fn = algorithm.verifier(self._public_key)
        self._names = (
            frozenset(okp_algs.names_for(key)) if self.kty == "OKP" else frozenset((name,))
        )

    def _bind_encryption(self, key: Any, name: str, enc: str | None) -> None:
        management = jwe_registry.get(name)
        try:
            content = None if enc is None else jwe_registry.content(enc)
        except UnsupportedAlgorithmError as exc:
            raise InvalidKeyError(str(exc)) from None
        management.check_key(key, content)
        self.alg, self.enc, self.use = name, enc, "enc"
        self.kty = _kty_of(key)
        self._sign = None
        self.verify_fn = _never_verifies
        self._private = isinstance(key, bytes | _PRIVATE_TYPES)
        self._public_key = key if isinstance(key, bytes) or not self._private else key.public_key()
        self.wrap_fn = management.wrapper(self._public_key)
        self.unwrap_fn = management.unwrapper(key) if self._private else None
        self._names = frozenset()  # no JWS algorithm: an encryption key never verifies

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def generate(
        cls, alg: str, *, kid: str | None = None, enc: str | None = None, **options: Any
    ) -> "Key":
        """A new private key or secret for ``alg``; ``crv="Ed448"`` (EdDSA), ``size=`` (RSA).

        JWE: ``crv=`` picks the ECDH-ES curve (P-256 by default, P-384, P-521, X25519, X448);
        ``enc=`` binds the key to one content encryption, which a ``dir`` key needs for its size.
        ``Ed25519`` and ``Ed448`` (RFC 9864) make a key of that curve bound to that name.
        """
        if type(alg) is str and alg in jwe_registry.CONTENT:
            alg, enc = "dir", enc or alg
        if is_encryption_alg(alg):
            try:
                content = None if enc is None else jwe_registry.content(enc)
            except UnsupportedAlgorithmError as exc:
                raise InvalidKeyError(str(exc)) from None
            return cls(jwe_registry.get(alg).generate(content, **options), alg, kid=kid, enc=enc)
        try:
            algorithm = algorithms.get(alg)
        except UnsupportedAlgorithmError as exc:
            raise InvalidKeyError(str(exc)) from None
        return cls(algorithm.generate(**options), alg, kid=kid, enc=enc)

    @classmethod
    def from_secret(
        cls,
        secret: bytes | str,
        alg: str = "HS256",
        *,
        kid: str | None = None,
        enc: str | None = None,
    ) -> "Key":
        """An HMAC key, or a JWE secret (``dir``, ``A256KW``, ``A256GCMKW``, a PBES2 password).

        An HMAC secret must be at least as long as the hash and not a public key; AES keys must
        be exactly their algorithm's size.
        """
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not isinstance(secret, bytes):
            raise InvalidKeyError("a secret must be bytes or str")
        if type(alg) is not str or not (alg.startswith("HS") or is_encryption_alg(alg)):
            raise InvalidKeyError(
                f"a secret can only be used with HS256/384/512 or a JWE secret algorithm "
                f"(dir, A*KW, A*GCMKW, PBES2-*), not {alg!r:.24}"
            )
        return cls(secret, alg, kid=kid, enc=enc)

    @classmethod
    def from_jwk(
        cls, jwk: Mapping[str, Any] | str | bytes, alg: str | None = None, *, enc: str | None = None
    ) -> "Key":
        """Import a JWK (RFC 7517/7518/8037): oct, RSA, EC or OKP, public or private.

        ``"use": "enc"`` keys load as JWE keys; they need a JWE ``alg`` (from the JWK or here).
        """
        if isinstance(jwk, str | bytes):
            try:
                jwk = loads_object(jwk.encode("utf-8") if isinstance(jwk, str) else jwk, "JWK")
            except (MalformedTokenError, UnicodeEncodeError):
                raise InvalidKeyError("the JWK is not a JSON object") from None
        if not isinstance(jwk, Mapping):
            raise InvalidKeyError("a JWK must be a JSON object")
        for name in ("kty", "alg", "kid", "use", "crv"):
            if name in jwk and type(jwk[name]) is not str:
                raise InvalidKeyError(f'JWK member "{name}" must be a string')
        jwk_alg = jwk.get("alg")
        if alg is not None and jwk_alg is not None and alg != jwk_alg:
            raise InvalidKeyError(f'the JWK says alg "{jwk_alg}", but alg "{alg}" was requested')
        chosen = alg or jwk_alg
        for_encryption = check_use(jwk.get("use"), chosen)
        check_key_ops(jwk.get("key_ops"), for_encryption)
        try:
            key = load_jwk(jwk, for_encryption)
        except (ValueError, TypeError, _CryptoUnsupported, OverflowError):
            raise InvalidKeyError("the JWK does not describe a valid key") from None
        return cls(key, chosen, kid=jwk.get("kid"), enc=enc)

    @classmethod
    def from_pem(
        cls,
        data: bytes | str,
        alg: str | None = None,
        password: bytes | str | None = None,
        *,
        kid: str | None = None,
        enc: str | None = None,
    ) -> "Key":
        """Import PEM: PKCS#8 (maybe encrypted), SPKI, PKCS#1, SEC1 or an X.509 certificate."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        if isinstance(password, str):
            password = password.encode("utf-8")
        if not isinstance(data, bytes):
            raise InvalidKeyError("PEM data must be bytes or str")
        key: Any
        try:
            if b"PRIVATE KEY-----" in data:
                key = serialization.load_pem_private_key(data, password=password)
            elif b"CERTIFICATE-----" in data:
                key = load_pem_x509_certificate(data).public_key()
            else:
                key = serialization.load_pem_public_key(data)
        except TypeError:
            if password is None:
                raise InvalidKeyError("the PEM key is encrypted; pass password=") from None
            raise InvalidKeyError("the PEM key is not encrypted; do not pass a password") from None
        except (ValueError, _CryptoUnsupported, IndexError):
            raise InvalidKeyError(
                "could not load the PEM key (corrupt data, unsupported format or wrong password)"
            ) from None
        if not isinstance(key, _SUPPORTED_TYPES):
            raise InvalidKeyError(
                f"unsupported key type {type(key).__name__}; "
                "use RSA, EC (P-256/384/521), Ed25519, Ed448, X25519 or X448"
            )
        return cls(key, alg, kid=kid, enc=enc)

    # -- properties and export ----------------------------------------------------------------

    def accepts(self, alg: object) -> bool:
        """Whether a token whose header names ``alg`` may be verified with this key.

        Only the key's own algorithm, except that an Edwards key answers to ``EdDSA`` and to its
        curve's name alike (RFC 9864: the same signature), never to the other curve's.
        """
        return alg in self._names

    @property
    def is_private(self) -> bool:
        """True for a private key or a secret: one that can sign, or decrypt."""
        return self._private

    def sign(self, data: bytes) -> bytes:
        """Sign raw bytes with this key's algorithm."""
        if self._sign is None:
            raise InvalidKeyError(f"key {self.kid} is a public key and cannot sign")
        return self._sign(data)

    def public(self) -> "Key":
        """The public half, with the same algorithm and kid. HMAC secrets have none."""
        if self.kty == "oct":
            raise InvalidKeyError("an HMAC secret has no public part")
        if not self._private:
            return self
        return Key(self._public_key, self.alg, kid=self.kid, enc=self.enc)

    def to_jwk(self, private: bool = False) -> dict[str, Any]:
        """Export as a JWK dict with kid, alg and use; private members only when asked.

        A ``dir`` key's ``alg`` is its ``enc`` (as in RFC 7520 section 5.6), so that importing
        it again restores the binding. The ``enc`` binding of other JWE keys has no JWK member
        and is not exported.
        """
        jwk = self._jwk_members(private)
        alg = self.enc if self.alg == "dir" else self.alg
        jwk.update(kid=self.kid, alg=alg, use=self.use)
        return jwk

    def to_pem(self, private: bool = False, password: bytes | None = None) -> bytes:
        """PEM: PKCS#8 for private keys (encrypted when ``password`` is given), else SPKI."""
        if self.kty == "oct":
            raise InvalidKeyError("an HMAC secret has no PEM form; use to_jwk(private=True)")
        if private:
            if not self._private:
                raise InvalidKeyError("this is a public key; there is no private part to export")
            encryption: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(password)
                if password
                else serialization.NoEncryption()
            )
            pem: bytes = self._key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
            return pem
        public_pem: bytes = self._public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return public_pem

    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint, base64url encoded."""
        if self._thumbprint is None:
            members = self._jwk_members(private=self.kty == "oct")
            required = {name: members[name] for name in _THUMBPRINT_MEMBERS[self.kty]}
            self._thumbprint = _b64_text(hashlib.sha256(dumps(required)).digest())
        return self._thumbprint

    def __repr__(self) -> str:
        enc = f", enc={self.enc!r}" if self.enc else ""
        return f"Key(alg={self.alg!r}{enc}, kid={self.kid!r}, private={self.is_private})"

    def _jwk_members(self, private: bool) -> dict[str, Any]:
        key = self._key
        if self.kty == "oct":
            if not private:
                raise InvalidKeyError(
                    "an HMAC secret has no public part; pass private=True to export the secret"
                )
            return {"kty": "oct", "k": _b64_text(key)}
        public = self._public_key
        if private and not self._private:
            raise InvalidKeyError("this is a public key; there is no private part to export")
        if self.kty == "RSA":
            numbers = public.public_numbers()
            jwk: dict[str, Any] = {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
            if private:
                p = key.private_numbers()
                jwk.update(
                    d=_int_b64(p.d),
                    p=_int_b64(p.p),
                    q=_int_b64(p.q),
                    dp=_int_b64(p.dmp1),
                    dq=_int_b64(p.dmq1),
                    qi=_int_b64(p.iqmp),
                )
            return jwk
        if self.kty == "EC":
            size = (public.curve.key_size + 7) // 8
            point = public.public_numbers()
            jwk = {
                "kty": "EC",
                "crv": _CRV_OF_CURVE[public.curve.name],
                "x": _int_b64(point.x, size),
                "y": _int_b64(point.y, size),
            }
            if private:
                jwk["d"] = _int_b64(key.private_numbers().private_value, size)
            return jwk
        raw = serialization.Encoding.Raw
        jwk = {
            "kty": "OKP",
            "crv": ecdh_jwe.crv_of(public)
            if isinstance(public, _X_PUBLIC)
            else okp_algs.crv_of(public),
            "x": _b64_text(public.public_bytes(raw, serialization.PublicFormat.Raw)),
        }
        if private:
            jwk["d"] = _b64_text(
                key.private_bytes(
                    raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
                )
            )
        return jwk


_CRV_OF_CURVE: Final = {curve.name: crv for crv, curve in ec_algs.CURVES.items()}
