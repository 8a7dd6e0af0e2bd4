"""The core's two caches must never change an outcome.

``Verifier`` remembers, per header segment, the verify function that header resolved to;
``jws.sign`` remembers encoded headers per (alg, kid, extra members). Both are bounded and
cleared when full. These tests drive them past their bounds, mix outcomes, and check that
every token gets exactly the answer a fresh, uncached call would give.
"""

import pytest
from tests.jose.forge import NOW, claims, forge

from jotauth import jose


def test_verifier_memo_never_changes_an_outcome() -> None:
    """Past the memo bound, with failures interleaved, every token gets the uncached answer."""
    keys = [jose.Key.generate("HS256", kid=f"k{i}") for i in range(150)]
    verifier = jose.Verifier(jose.KeySet(keys))
    stranger = jose.Key.generate("HS256", kid="stranger")
    for _ in range(2):
        for i, key in enumerate(keys):
            good = jose.encode(claims(n=i), key)
            assert verifier.verify(good, now=NOW)["n"] == i
            # Same header segment (alg, typ, kid of key i), signed by another key.
            forged = forge(keys[(i + 1) % len(keys)], jose.peek_header(good), claims(n=-1))
            with pytest.raises(jose.BadSignatureError):
                verifier.verify(forged, now=NOW)
            with pytest.raises(jose.BadSignatureError):
                jose.decode(forged, jose.KeySet(keys), now=NOW)
        unknown = jose.encode(claims(), stranger)
        with pytest.raises(jose.NoMatchingKeyError):
            verifier.verify(unknown, now=NOW)


def test_verifier_memo_keeps_checking_the_header_policy() -> None:
    """A header refused once (typ, alg) is refused every time; a good one is accepted every time."""
    key = jose.Key.generate("ES256")
    verifier = jose.Verifier(key.public(), typ="at+jwt", algorithms=["ES256"])
    good = jose.encode(claims(), key, headers={"typ": "at+jwt"})
    plain = jose.encode(claims(), key)
    for _ in range(3):
        assert verifier.verify(good, now=NOW)["sub"] == "42"
        with pytest.raises(jose.InvalidClaimError):
            verifier.verify(plain, now=NOW)


def test_verifier_memo_still_validates_claims() -> None:
    """A remembered header does not skip the claims: an expired token with it is refused."""
    key = jose.Key.generate("EdDSA")
    verifier = jose.Verifier(key.public())
    assert verifier.verify(jose.encode(claims(), key), now=NOW)
    with pytest.raises(jose.ExpiredTokenError):
        verifier.verify(jose.encode(claims(exp=NOW - 1), key), now=NOW)


def test_header_memo_past_its_bound() -> None:
    """Hundreds of distinct headers each encode as asked, also after the memo is cleared."""
    key = jose.Key.generate("HS256")
    for i in range(600):
        token = jose.jws.sign(b"p", key, headers={"n": i})
        assert jose.peek_header(token)["n"] == i
    again = jose.jws.sign(b"p", key, headers={"n": 3})
    assert jose.peek_header(again)["n"] == 3


def test_header_memo_tells_json_types_apart() -> None:
    """1, 1.0 and true are different JSON values in a header, though equal as Python dict keys."""
    key = jose.Key.generate("HS256")
    for value in ("1", 1, True, 1.0, "true", 0, False):
        header = jose.peek_header(jose.jws.sign(b"p", key, headers={"v": value}))
        assert header["v"] == value
        assert type(header["v"]) is type(value)


def test_header_memo_with_unhashable_values() -> None:
    """List and dict header values (never memoized) still encode exactly."""
    key = jose.Key.generate("HS256")
    for value in ([1, True], {"a": [1.0]}, []):
        assert jose.peek_header(jose.jws.sign(b"p", key, headers={"v": value}))["v"] == value


def test_header_memo_tells_json_types_apart_inside_tuples() -> None:
    """A tuple header value is signed with its own element types, whatever was signed before."""
    key = jose.Key.generate("HS256")
    for value in ((1,), (True,), (1.0,)):
        header = jose.peek_header(jose.jws.sign(b"p", key, headers={"v": value}))
        assert [type(v) for v in header["v"]] == [type(v) for v in value]


def test_header_memo_tells_json_types_apart_in_member_names() -> None:
    """Non-string header names (1 and True collide as dict keys) are encoded as their own JSON."""
    key = jose.Key.generate("HS256")
    first = jose.peek_header(jose.jws.sign(b"p", key, headers={1: "a"}))  # type: ignore[dict-item]
    second = jose.peek_header(jose.jws.sign(b"p", key, headers={True: "a"}))  # type: ignore[dict-item]
    assert first["1"] == "a"
    assert second["true"] == "a"
