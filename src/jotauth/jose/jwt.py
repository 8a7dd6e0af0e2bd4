"""JWTs (RFC 7519): ``encode``, ``decode``, and ``Verifier``, the compiled hot path.

A ``Verifier`` does the per-policy work once: it checks the allowed algorithms, normalizes the
claim policy, and remembers, per distinct header segment, the key and verify function that
header resolves to. Tokens from one issuer share a handful of headers, so after the first token
verification is: split, one dict lookup, the signature check, decode the payload, compare claims.
Only headers that passed every check are remembered, and the key set of a Verifier is fixed, so
the memo cannot change an outcome.

Nested JWTs (RFC 7519 section 5.2, sign then encrypt): ``encode(..., encrypt_to=key)`` signs
the claims and encrypts the JWS to the recipient's key, with ``"cty": "JWT"`` in the JWE header.
A ``Verifier`` given ``decrypt_with`` accepts only such tokens: it decrypts with its private
keys, requires ``cty`` to say JWT, and verifies the inner JWS exactly as it verifies any token
(its keys, algorithms and claims policy).
"""

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from hmac import compare_digest
from typing import Any, Final

from jotauth.jose import algorithms as _algorithms, jwe, jws
from jotauth.jose._b64 import b64decode, b64encode
from jotauth.jose._json import dumps, loads_object
from jotauth.jose.claims import ClaimsPolicy, normalize_typ
from jotauth.jose.errors import BadSignatureError, InvalidKeyError, MalformedTokenError
from jotauth.jose.jwk import Key
from jotauth.jose.jwks import KeySet

__all__ = ["Verifier", "decode", "encode", "peek_claims"]

_HEADER_MEMO_SIZE: Final = 64
_JWT_HEADERS: Final = {"typ": "JWT"}


def _keys(keys: Key | KeySet | Iterable[Key]) -> Key | KeySet:
    if isinstance(keys, Key | KeySet):
        return keys
    if isinstance(keys, str | bytes | Mapping):
        raise InvalidKeyError(
            "pass a jose.Key or jose.KeySet (load keys with Key.from_jwk/from_pem)"
        )
    return KeySet(keys)


def _allowed(algorithms: Collection[str] | None) -> frozenset[str] | None:
    if algorithms is None:
        return None
    if isinstance(algorithms, str):
        algorithms = (algorithms,)
    allowed = frozenset(algorithms)
    if not allowed:
        raise ValueError(
            "algorithms must name at least one algorithm (or be None: the key decides)"
        )
    for name in allowed:
        _algorithms.get(name)  # "none" and unknown names fail here, at construction
    return allowed


class Verifier:
    """Verify JWTs against fixed keys and a fixed claims policy.

    Build once, call ``verify`` per request. ``now`` defaults to the system clock; pass it to
    make verification reproducible.
    """

    __slots__ = ("_allowed", "_decrypter", "_headers", "_keys", "_max_size", "_policy")

    def __init__(
        self,
        keys: Key | KeySet | Iterable[Key],
        *,
        algorithms: Collection[str] | None = None,
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
        subject: str | None = None,
        leeway: float = 0,
        typ: str | None = None,
        require: Collection[str] = ("exp",),
        max_age: float | None = None,
        max_size: int = jws.DEFAULT_MAX_SIZE,
        decrypt_with: "jwe.Decrypter | Key | KeySet | Iterable[Key] | None" = None,
    ) -> None:
        """``decrypt_with``: the private keys (or a configured ``jwe.Decrypter``) of a service
        that accepts only encrypted (nested) tokens; ``keys`` then verify the inner JWS."""
        self._keys = _keys(keys)
        self._allowed = _allowed(algorithms)
        self._policy = ClaimsPolicy.build(
            issuer=issuer,
            audience=audience,
            subject=subject,
            leeway=leeway,
            require=require,
            max_age=max_age,
            typ=typ,
        )
        self._max_size = max_size
        self._headers: dict[bytes, Callable[[bytes, bytes], bool]] = {}
        if decrypt_with is None or isinstance(decrypt_with, jwe.Decrypter):
            self._decrypter = decrypt_with
        else:
            self._decrypter = jwe.Decrypter(decrypt_with, max_size=max_size)

    @property
    def policy(self) -> ClaimsPolicy:
        """The compiled claims policy."""
        return self._policy

    def _resolve(self, header_segment: bytes) -> Callable[[bytes, bytes], bool]:
        header = jws.parse_header(header_segment)
        self._policy.check_typ(header)
        key = jws.resolve_key(header, self._keys, self._allowed)
        check = _segment_verifier(key)
        if len(self._headers) >= _HEADER_MEMO_SIZE:
            self._headers.clear()
        self._headers[header_segment] = check
        return check

    def verify(self, token: str, now: float | None = None) -> dict[str, Any]:
        """The verified claims, or the JoseError that says what is wrong."""
        if self._decrypter is not None:
            return self._verify_nested(token, now)
        # The fast path splits a well-formed str token; anything else gets jws.split's checks
        # and messages.
        if type(token) is str and len(token) <= self._max_size and token.isascii():
            parts = token.encode("ascii").split(b".")
        else:
            parts = []
        return self._verify_signed(token, parts, now)

    def _verify_nested(self, token: str, now: float | None) -> dict[str, Any]:
        """Decrypt, check ``cty``, then verify the inner JWS as any other token."""
        assert self._decrypter is not None  # noqa: S101 - only called when set
        if type(token) is str and token.count(".") == 2:
            raise MalformedTokenError(
                "this verifier accepts only encrypted tokens (a nested JWT in a JWE); "
                "this is a signed JWS (3 segments)"
            )
        header, inner = self._decrypter.decrypt_compact(token)
        cty = header.get("cty")
        if type(cty) is not str or normalize_typ(cty) != "jwt":
            raise MalformedTokenError(
                'a nested JWT needs "cty": "JWT" in the JWE header (RFC 7519 section 5.2)'
            )
        return self._verify_signed(inner, inner.split(b".") if inner.isascii() else [], now)

    def _verify_signed(
        self, token: str | bytes, parts: list[bytes], now: float | None
    ) -> dict[str, Any]:
        if len(parts) == 3:
            header_segment, payload_segment, signature_segment = parts
        else:
            _, header_segment, payload_segment, signature_segment = jws.split(token, self._max_size)
        check = self._headers.get(header_segment) or self._resolve(header_segment)
        if not check(header_segment + b"." + payload_segment, signature_segment):
            raise BadSignatureError()
        claims = loads_object(b64decode(payload_segment), "payload")
        self._policy.validate(claims, time.time() if now is None else now)
        return claims


def _segment_verifier(key: Key) -> Callable[[bytes, bytes], bool]:
    """``check(signing_input, signature_segment)`` for ``key``.

    An HMAC is deterministic, so its check compares the encoded MAC with the segment and skips
    decoding it; base64url has one canonical spelling, so equal encodings mean equal bytes. A
    segment that does not match is still decoded, so that malformed base64url stays a
    MalformedTokenError rather than a bad signature.
    """
    verify_fn = key.verify_fn
    if key.kty == "oct":
        sign, equal = key.sign, compare_digest

        def check_mac(data: bytes, segment: bytes) -> bool:
            if equal(b64encode(sign(data)), segment):
                return True
            b64decode(segment)
            return False

        return check_mac

    def check(data: bytes, segment: bytes) -> bool:
        return verify_fn(data, b64decode(segment))

    return check


def decode(
    token: str,
    key_or_keyset: Key | KeySet | Iterable[Key],
    *,
    algorithms: Collection[str] | None = None,
    issuer: str | Collection[str] | None = None,
    audience: str | Collection[str] | None = None,
    subject: str | None = None,
    leeway: float = 0,
    require: Collection[str] = ("exp",),
    typ: str | None = None,
    max_age: float | None = None,
    max_size: int = jws.DEFAULT_MAX_SIZE,
    now: float | None = None,
    decrypt_with: "jwe.Decrypter | Key | KeySet | Iterable[Key] | None" = None,
) -> dict[str, Any]:
    """Verify a JWT once. For many tokens build a ``Verifier`` and reuse it.

    ``decrypt_with`` (private keys, or a ``jwe.Decrypter``) accepts only nested, encrypted JWTs.
    """
    verifier = Verifier(
        key_or_keyset,
        algorithms=algorithms,
        issuer=issuer,
        audience=audience,
        subject=subject,
        leeway=leeway,
        typ=typ,
        require=require,
        max_age=max_age,
        max_size=max_size,
        decrypt_with=decrypt_with,
    )
    return verifier.verify(token, now)


def _numeric_dates(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    get = claims.get
    if (
        type(get("exp")) in _PLAIN_DATE
        and type(get("nbf")) in _PLAIN_DATE
        and type(get("iat")) in _PLAIN_DATE
    ):
        return claims
    result = dict(claims)
    for name in ("exp", "nbf", "iat"):
        value = result.get(name)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f'"{name}" is a naive datetime; give it a timezone (UTC)')
            result[name] = int(value.timestamp())
        elif value is not None and (type(value) not in (int, float)):
            raise ValueError(f'"{name}" must be a number of seconds since the epoch or a datetime')
    return result


_PLAIN_DATE: Final = frozenset({int, float, type(None)})


def encode(
    claims: Mapping[str, Any],
    key: Key,
    *,
    headers: Mapping[str, Any] | None = None,
    encrypt_to: Key | None = None,
) -> str:
    """Sign ``claims`` as a JWT. ``typ`` is ``JWT`` unless ``headers`` says otherwise (or None).

    ``encrypt_to`` (a recipient's public JWE key) then encrypts the signed token to it: a nested
    JWT, sign then encrypt, with ``"cty": "JWT"`` and the key's ``enc`` (else A256GCM). For other
    JWE header members use ``jwe.encrypt(jose.encode(...), key, headers={"cty": "JWT", ...})``.
    """
    if type(claims) is not dict and not isinstance(claims, Mapping):
        raise TypeError("claims must be a mapping")
    if headers is None:
        headers = _JWT_HEADERS
    elif "typ" not in headers:
        headers = {**_JWT_HEADERS, **headers}
    elif headers["typ"] is None:
        headers = {name: value for name, value in headers.items() if name != "typ"}
    token = jws.sign(dumps(_numeric_dates(claims)), key, headers=headers)
    if encrypt_to is None:
        return token
    return jwe.encrypt(token, encrypt_to, headers=_NESTED_HEADERS)


_NESTED_HEADERS: Final = {"cty": "JWT"}


def peek_claims(token: str) -> dict[str, Any]:
    """The claims, NOT verified: for tools and debugging only, never for a decision."""
    _, _, payload_segment, _ = jws.split(token, jws.PEEK_MAX_SIZE)
    return loads_object(b64decode(payload_segment), "payload")
