"""JSON for JOSE: UTF-8 only, objects only, no duplicate member names, no NaN or Infinity.

Duplicate names matter because two parsers may keep different copies (RFC 7515 section 5.2,
RFC 8725 section 3.7); NaN and Infinity are not JSON and break date comparisons.
"""

import json
from typing import Any

from jotauth.jose.errors import MalformedTokenError

__all__ = ["dumps", "loads_object"]


def _reject_constant(name: str) -> Any:
    raise MalformedTokenError(f"invalid JSON: {name} is not allowed")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:  # pragma: no branch - a duplicate is guaranteed to exist
            if name in seen:
                raise MalformedTokenError(f'invalid JSON: duplicate member name "{name[:40]}"')
            seen.add(name)
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):  # 1e999 overflows to infinity without passing parse_constant
        raise MalformedTokenError("invalid JSON: number out of range")
    return value


_INF = float("inf")
_decoder = json.JSONDecoder(
    object_pairs_hook=_unique_pairs, parse_constant=_reject_constant, parse_float=_finite_float
)
_decode = _decoder.decode
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_encode = _encoder.encode


def loads_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse ``data`` as a UTF-8 JSON object; ``what`` names it in errors ("header", "payload")."""
    try:
        value = _decode(data.decode("utf-8"))
    except MalformedTokenError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedTokenError(f"invalid JSON in the {what}") from None
    if type(value) is not dict:
        raise MalformedTokenError(f"the {what} must be a JSON object")
    return value


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and Infinity are refused so we never emit what we would reject."""
    try:
        return _encode(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise MalformedTokenError(f"cannot serialize to JSON: {exc}") from None
