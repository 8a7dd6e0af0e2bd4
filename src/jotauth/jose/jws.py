"""JWS compact serialization (RFC 7515): sign, verify, and an unverified peek at the header.

Verification order is part of the security design: the size limit comes before any decoding,
the header is checked before the key is chosen, the key (not the token) decides the algorithm,
and the payload is decoded only after the signature has verified.
"""

from collections.abc import Collection, Mapping
from typing import Any, Final

from jotauth.jose import algorithms
from jotauth.jose._b64 import b64decode, b64encode
from jotauth.jose._json import dumps, loads_object
from jotauth.jose.errors import (
    AlgorithmNotAllowedError,
    BadSignatureError,
    CriticalHeaderError,
    InvalidKeyError,
    MalformedTokenError,
    TokenTooLargeError,
)
from jotauth.jose.jwk import Key
from jotauth.jose.jwks import KeySet

__all__ = ["DEFAULT_MAX_SIZE", "peek_header", "sign", "verify"]

DEFAULT_MAX_SIZE: Final = 8192
PEEK_MAX_SIZE: Final = 1 << 20


def token_bytes(token: object, max_size: int) -> bytes:
    """A compact token's ASCII bytes, its size checked before anything else is done with it.

    Shared by JWS and JWE (``_jwe.decrypter.split``), so both refuse the same inputs alike.
    """
    if isinstance(token, str):
        if len(token) > max_size:
            raise TokenTooLargeError(f"token is over the size limit of {max_size} bytes")
        try:
            return token.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedTokenError("token contains non-ASCII characters") from None
    if isinstance(token, bytes):
        if len(token) > max_size:
            raise TokenTooLargeError(f"token is over the size limit of {max_size} bytes")
        return token
    raise MalformedTokenError("a token must be a str")


def split(token: object, max_size: int) -> tuple[bytes, bytes, bytes, bytes]:
    """``(raw, header, payload, signature)`` segments, still encoded; size checked first."""
    raw = token_bytes(token, max_size)
    parts = raw.split(b".")
    if len(parts) != 3:
        if len(parts) == 5:
            raise MalformedTokenError(
                "this looks like an encrypted JWE (5 segments); expected a JWS"
            )
        raise MalformedTokenError(
            f"a JWS has 3 dot-separated segments (header.payload.signature); this has {len(parts)}"
        )
    return raw, parts[0], parts[1], parts[2]


def parse_header(segment: bytes) -> dict[str, Any]:
    """Decode and check a protected header: ``alg`` present, ``crit`` understood, no ``b64``."""
    header = loads_object(b64decode(segment), "header")
    if "alg" not in header:
        raise MalformedTokenError('the header has no "alg"')
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(type(n) is str for n in crit):
            raise MalformedTokenError('"crit" must be a non-empty array of strings')
        raise CriticalHeaderError(
            f"unsupported critical header parameter(s): {', '.join(repr(n[:32]) for n in crit[:4])}"
        )
    if "b64" in header:
        raise CriticalHeaderError('unencoded payloads ("b64", RFC 7797) are not supported')
    kid = header.get("kid")
    if kid is not None and type(kid) is not str:
        raise MalformedTokenError('"kid" must be a string')
    return header


def resolve_key(
    header: Mapping[str, Any], keys: Key | KeySet, allowed: Collection[str] | None
) -> Key:
    """The key that must verify this token. The token's ``alg`` must be allowed and be the key's."""
    alg = header["alg"]
    algorithms.get(alg)  # unknown or "none": UnsupportedAlgorithmError
    if allowed is not None and alg not in allowed:
        raise AlgorithmNotAllowedError(
            f"algorithm {alg} is not allowed here; allowed: {', '.join(sorted(allowed))}"
        )
    if isinstance(keys, Key):
        key = keys
    elif isinstance(keys, KeySet):
        key = keys.select(alg, header.get("kid"))
    else:
        raise InvalidKeyError("verify needs a jose.Key or a jose.KeySet")
    if not key.accepts(alg):
        raise AlgorithmNotAllowedError(
            f"the token is signed with {alg}, but key {key.kid!r} is bound to {key.alg}"
        )
    return key


_HEADER_MEMO: dict[tuple[str, str, tuple[tuple[str, str], ...]], bytes] = {}
_HEADER_MEMO_SIZE: Final = 256


def _encode_header(key: Key, headers: Mapping[str, Any] | None) -> bytes:
    header: dict[str, Any] = {"alg": key.alg}
    if headers:
        if headers.get("alg", key.alg) != key.alg:
            raise AlgorithmNotAllowedError(f"key {key.kid!r} is bound to {key.alg}")
        if "crit" in headers or "b64" in headers:
            raise CriticalHeaderError('"crit" and "b64" headers are not supported')
        header.update(headers)
    if "kid" not in header:
        header["kid"] = key.kid
    elif header["kid"] is None:
        del header["kid"]
    return b64encode(dumps(header))


def _header_segment(key: Key, headers: Mapping[str, Any] | None) -> bytes:
    """The encoded header, memoized when every extra name and value is a string (the common case).

    Only strings are memoized: 1, 1.0 and True are equal as dict keys (also inside tuples)
    but not as JSON, so other names or values would let one header stand in for another. The
    types are checked before an entry is stored, not on every lookup: a stored key holds only
    strings, and a string is never equal to an int, a float or a bool, so only a header of
    strings can find it.
    """
    memo_key = (key.alg, key.kid, tuple(headers.items()) if headers else ())
    try:
        segment = _HEADER_MEMO.get(memo_key)
    except TypeError:  # an unhashable member (a list, a dict): encoded every time
        return _encode_header(key, headers)
    if segment is None:
        segment = _encode_header(key, headers)
        if all(type(name) is str and type(value) is str for name, value in memo_key[2]):
            if len(_HEADER_MEMO) >= _HEADER_MEMO_SIZE:
                _HEADER_MEMO.clear()
            _HEADER_MEMO[memo_key] = segment
    return segment


def sign(payload: bytes, key: Key, *, headers: Mapping[str, Any] | None = None) -> str:
    """Sign ``payload`` into a compact JWS. The header gets ``alg`` and ``kid`` from the key.

    ``headers`` adds members; ``"kid": None`` leaves the kid out. An ``alg`` other than the
    key's, ``crit`` and ``b64`` are refused: we never emit what we would not accept.
    """
    if not isinstance(key, Key):
        raise InvalidKeyError("sign needs a jose.Key")
    signing_input = _header_segment(key, headers) + b"." + b64encode(payload)
    return (signing_input + b"." + b64encode(key.sign(signing_input))).decode("ascii")


def verify(
    token: str,
    key_or_keyset: Key | KeySet,
    *,
    algorithms: Collection[str] | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> bytes:
    """Verify a compact JWS and return its payload bytes.

    ``algorithms`` narrows what is accepted further; the key's own algorithm always applies.
    """
    raw, header_segment, payload_segment, signature_segment = split(token, max_size)
    key = resolve_key(parse_header(header_segment), key_or_keyset, algorithms)
    signature = b64decode(signature_segment)
    if not key.verify_fn(raw[: len(header_segment) + 1 + len(payload_segment)], signature):
        raise BadSignatureError()
    return b64decode(payload_segment)


def peek_header(token: str) -> dict[str, Any]:
    """The header, NOT verified: for tools and for choosing a key, never for trusting."""
    _, header_segment, _, _ = split(token, PEEK_MAX_SIZE)
    return loads_object(b64decode(header_segment), "header")
