"""JSON for JOSE: UTF-8 only, objects only, no duplicate member names, no NaN or Infinity.

Duplicate names matter because two parsers may keep different copies (RFC 7515 section 5.2,
RFC 8725 section 3.7); NaN and Infinity are not JSON and break date comparisons.
"""

import json
from collections.abc import Callable
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
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_encode = _encoder.encode
# CPython's C encoder, built once: JSONEncoder.encode builds one per call, with a dict of the
# containers seen so far to detect cycles. Without it a cycle ends in RecursionError, which
# dumps reports like any other value it cannot serialize. None where there is no C accelerator.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_encode_chunks: Any = _c_make_encoder and _c_make_encoder(
    None,  # markers: no cycle bookkeeping
    _encoder.default,  # raises TypeError for what JSON cannot hold
    json.encoder.encode_basestring,  # ensure_ascii=False
    None,  # indent
    ":",  # key separator
    ",",  # item separator
    False,  # sort_keys
    False,  # skipkeys
    False,  # allow_nan
)


def loads_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse ``data`` as a UTF-8 JSON object; ``what`` names it in errors ("header", "payload")."""
    try:
        text = data.decode("utf-8")
        if text[:1] == "{":
            # The scanner alone, without decode()'s two whitespace regexes; anything past the
            # object (whitespace, garbage) goes to decode() for its verdict and message.
            value, end = _scan(text, 0)
            if end != len(text):
                value = _decode(text)
        else:
            value = _decode(text)
    except MalformedTokenError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError, StopIteration):
        raise MalformedTokenError(f"invalid JSON in the {what}") from None
    if type(value) is not dict:
        raise MalformedTokenError(f"the {what} must be a JSON object")
    return value


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and Infinity are refused so we never emit what we would reject."""
    try:
        text = "".join(_encode_chunks(value, 0)) if _encode_chunks else _encode(value)
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise MalformedTokenError(f"cannot serialize to JSON: {exc}") from None
    except RecursionError:
        raise MalformedTokenError(
            "cannot serialize to JSON: nested too deeply, or it contains itself"
        ) from None
