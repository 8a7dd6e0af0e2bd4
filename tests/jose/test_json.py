"""The JSON layer: orjson is only ever a faster route to the strict parser's verdict.

``loads_object`` takes orjson's result only when re-serializing it reproduces the input byte
for byte, and ``dumps`` takes orjson's output only when it cannot hide a NaN. These tests hold
both fast paths to the standard-library judge, on chosen edge cases and on random input.
"""

import dataclasses
import enum
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from jotauth.jose import _json
from jotauth.jose.errors import MalformedTokenError

keys = st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(keys, values, max_size=6)


def _verdict(parse: Any, data: bytes) -> tuple[str, str]:
    """What a parser makes of ``data``, comparable across parsers (1 and 1.0 stay distinct)."""
    try:
        return "value", json.dumps(parse(data, "payload"), allow_nan=False)
    except MalformedTokenError as exc:
        return "error", str(exc)


def _spellings(value: dict[str, Any]) -> list[bytes]:
    """The compact form most issuers write, and forms only the strict parser may take."""
    return [
        json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        json.dumps(value, separators=(",", ":")).encode("utf-8"),  # \\u escapes
        json.dumps(value).encode("utf-8"),  # spaces
    ]


@settings(max_examples=300, database=None, deadline=None)
@given(value=objects)
def test_fast_and_strict_parsers_agree_on_valid_json(value: dict[str, Any]) -> None:
    """Every spelling of every object parses to what the standard-library judge says."""
    for data in _spellings(value):
        assert _verdict(_json.loads_object, data) == _verdict(_json._judge, data)
        assert _verdict(_json.loads_object, data)[0] == "value"


@settings(max_examples=300, database=None, deadline=None)
@given(value=objects, data=st.data())
def test_fast_and_strict_parsers_agree_on_mutated_json(value: dict[str, Any], data: Any) -> None:
    """Bytes deleted, doubled or replaced: both paths reach the same value or the same error."""
    text = _spellings(value)[0]
    at = data.draw(st.integers(0, len(text)))
    junks = [b"", b",", b'"', b"}", b"{", b"NaN", b"\xff", b" ", b"1e999"]
    junk = data.draw(st.sampled_from(junks))
    cut = data.draw(st.integers(0, 3))
    mutated = text[:at] + junk + text[at + cut :]
    assert _verdict(_json.loads_object, mutated) == _verdict(_json._judge, mutated)


@pytest.mark.parametrize(
    "data",
    [
        b'{"sub":"1","sub":"2"}',  # compact duplicate: orjson keeps the last, the bytes differ
        b'{"a":{"b":1,"b":1}}',
        b'{"exp":NaN}',
        b'{"exp":1e999}',
        b'{"exp":-Infinity}',
        b'{"s":"\xff"}',
        b'{"s":"\\ud800"}',  # a lone surrogate, high half
        b'{"\\udc00":1}',  # a lone low half, in a member name
        b'{"s":"x\\uDBFFy"}',
        b'["not an object"]',
        b'{"a":1} x',
    ],
)
def test_strict_rules_hold_on_compact_input(data: bytes) -> None:
    """The inputs the rules exist for are refused, even written the way the fast path likes."""
    with pytest.raises(MalformedTokenError):
        _json.loads_object(data, "payload")


def test_numbers_orjson_would_round_keep_their_exact_value() -> None:
    """Integers past 64 bits become floats in orjson; the judge keeps them exact."""
    big = 2**70 + 1
    claims = _json.loads_object(f'{{"n":{big},"m":{-(2**63) - 1}}}'.encode(), "payload")
    assert claims == {"n": big, "m": -(2**63) - 1}
    assert type(claims["n"]) is int


def test_deep_nesting_orjson_cannot_write_back_goes_to_the_judge() -> None:
    """orjson parses deeper than it serializes; past that depth the judge decides."""
    data = b'{"a":' + b"[" * 300 + b"]" * 300 + b"}"
    assert _verdict(_json.loads_object, data) == _verdict(_json._judge, data)


@settings(max_examples=300, database=None, deadline=None)
@given(value=objects)
def test_dumps_writes_what_the_standard_encoder_writes(value: dict[str, Any]) -> None:
    """Whichever encoder runs, the bytes are compact JSON the strict parser reads back.

    Only the spelling of a float's exponent may differ (orjson writes ``1e-7``, Python
    ``1e-07``); re-spelled by the standard encoder, the bytes are the same.
    """
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    written = _json.dumps(value)
    assert _json.loads_object(written, "payload") == value
    assert json.dumps(json.loads(written), separators=(",", ":"), ensure_ascii=False) == (
        expected.decode("utf-8")
    )


@pytest.mark.parametrize(
    "value",
    [
        {"x": float("nan")},
        {"x": [None, float("inf")]},  # a real null beside it must not hide the infinity
        {"x": {"y": None, "z": -float("inf")}},
        {"x": (1, float("nan"))},
        {"big": 2**70, "x": float("nan")},  # the standard encoder's path
    ],
)
def test_dumps_refuses_nan_and_infinity(value: dict[str, Any]) -> None:
    """orjson writes NaN as null; we refuse to emit what we would reject on the way in."""
    with pytest.raises(MalformedTokenError, match=r"NaN and Infinity|float values are not JSON"):
        _json.dumps(value)


def test_dumps_writes_null_when_it_is_a_real_null() -> None:
    """A None is a null, with or without values that go to the standard encoder."""
    assert _json.dumps({"x": None, "y": [None]}) == b'{"x":null,"y":[null]}'
    assert _json.dumps({"x": None, "n": 2**70}) == b'{"x":null,"n":1180591620717411303424}'


class Colour(enum.Enum):
    RED = "red"


class Name(str):
    pass


@dataclasses.dataclass
class Point:
    x: int


def test_dumps_gives_one_answer_whichever_encoder_runs() -> None:
    """UUIDs, enums and str subclasses serialize alike on both paths; other objects are refused."""
    ident = uuid.UUID(int=7)
    fast = {"u": ident, "c": Colour.RED, "s": Name("n")}
    slow = {**fast, "big": 2**70}  # an integer orjson refuses sends it to the standard encoder
    assert _json.dumps(fast) == b'{"u":"%s","c":"red","s":"n"}' % str(ident).encode()
    assert _json.dumps(slow) == _json.dumps(fast)[:-1] + b',"big":1180591620717411303424}'
    for refused in (datetime.now(UTC), Point(1), object(), {1, 2}):
        with pytest.raises(MalformedTokenError, match="not JSON serializable"):
            _json.dumps({"x": refused})
        with pytest.raises(MalformedTokenError, match="not JSON serializable"):
            _json.dumps({"x": refused, "big": 2**70})


def test_dumps_of_a_cycle_is_a_clear_error() -> None:
    """A value that contains itself cannot be written, whichever encoder tries."""
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(MalformedTokenError, match=r"nested too deeply, or it contains itself"):
        _json.dumps(cycle)


def test_surrogate_pairs_and_escaped_backslashes_are_characters() -> None:
    """A pair of escapes is one character, and an escaped backslash before "ud800" is text."""
    assert _json.loads_object(b'{"s":"\\ud83d\\ude00"}', "payload") == {"s": "\U0001f600"}
    assert _json.loads_object(b'{"s":"\\\\ud800"}', "payload") == {"s": "\\ud800"}


def test_lone_surrogate_error_says_what_is_wrong() -> None:
    """The message names the problem, not just "invalid JSON"."""
    with pytest.raises(MalformedTokenError, match="half a surrogate pair"):
        _json.loads_object(b'{"sub": "\\ud800"}', "payload")
