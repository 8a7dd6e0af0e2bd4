"""JSON for JOSE: UTF-8 only, objects only, no duplicate member names, no NaN or Infinity.

Duplicate names matter because two parsers may keep different copies (RFC 7515 section 5.2,
RFC 8725 section 3.7); NaN and Infinity are not JSON and break date comparisons.

Two parsers, one verdict. The standard library's decoder, with hooks for each rule above, is
the judge; it is also slow (a Python call per object and per float). orjson is the fast path,
and its result is taken only when serializing it again gives back the input byte for byte.
That one comparison covers every rule at once: a duplicate name collapses and shortens the
output, NaN and Infinity do not parse, and any spelling orjson would normalize (whitespace,
escapes, exponents, integers past 64 bits) differs, so such input goes to the judge. Tokens
are written compactly by every common library, so nearly all of them take the fast path.
Serialization likewise goes through orjson, except where orjson is more lenient than the
rules: it writes NaN and Infinity as ``null``, so output holding a ``null`` is checked for
them, and what orjson refuses (integers past 64 bits, non-string keys, deep nesting) goes to
the standard library's encoder for its verdict.
"""

import enum
import json
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from jotauth.jose.errors import MalformedTokenError

__all__ = ["dumps", "loads_object"]


def _reject_constant(name: str) -> Any:
    raise MalformedTokenError(f"invalid JSON: {name} is not allowed")


_fast_loads = orjson.loads
_fast_dumps = orjson.dumps
# Datetimes, dataclasses and subclasses of str/int/dict/list go to _refuse (orjson would
# serialize them its own way) and from there to the standard library, so a value serializes
# the same whichever encoder writes it.
_FAST_OPTIONS: Any = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _default(value: Any) -> Any:
    """What the standard encoder cannot write itself, written as orjson writes it natively."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return _refuse(value)


def _non_finite(value: Any) -> bool:
    """True if a NaN or an infinity hides in ``value`` (orjson writes them as ``null``)."""
    kind = type(value)
    if kind is float:
        return not math.isfinite(value)
    if kind is dict:
        return any(_non_finite(item) for item in value.values())
    if kind is list or kind is tuple:
        return any(_non_finite(item) for item in value)
    return False


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
_encoder = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)
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
        value = _fast_loads(data)
        if type(value) is dict and _fast_dumps(value) == data:
            return value
    except (ValueError, TypeError):  # orjson.JSONDecodeError, JSONEncodeError (nesting)
        pass
    return _judge(data, what)


# Text decoded from UTF-8 holds no surrogates, but a \u escape can name one. A pair is one
# character; a lone half is not, and breaks whatever later encodes the claim (a log line, a
# database). orjson refuses it, and so does the judge. The pattern may also match an escaped
# backslash followed by "ud8..": that only costs the check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _judge(data: bytes, what: str) -> dict[str, Any]:
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
        if _SURROGATE_ESCAPE.search(text):
            _encode(value).encode("utf-8")  # a lone surrogate cannot be encoded
    except MalformedTokenError:
        raise
    except UnicodeEncodeError:
        raise MalformedTokenError(
            f"invalid JSON in the {what}: a \\u escape names half a surrogate pair "
            "(not a character; RFC 7493)"
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError, StopIteration):
        raise MalformedTokenError(f"invalid JSON in the {what}") from None
    if type(value) is not dict:
        raise MalformedTokenError(f"the {what} must be a JSON object")
    return value


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and Infinity are refused so we never emit what we would reject."""
    try:
        data: bytes = _fast_dumps(value, _refuse, _FAST_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: the standard encoder decides and explains
        pass
    else:
        if b"null" not in data or not _non_finite(value):
            return data
        raise MalformedTokenError("cannot serialize to JSON: NaN and Infinity are not JSON")
    try:
        text = "".join(_encode_chunks(value, 0)) if _encode_chunks else _encode(value)
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise MalformedTokenError(f"cannot serialize to JSON: {exc}") from None
    except RecursionError:
        raise MalformedTokenError(
            "cannot serialize to JSON: nested too deeply, or it contains itself"
        ) from None
