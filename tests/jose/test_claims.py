"""JWT claims validation (RFC 7519 4.1, RFC 8725, RFC 9068 ``typ``) and its error messages.

Every check is run through ``jose.decode`` with an injected ``now``, on tokens signed for real,
so the tests exercise the same path as production. Boundaries are tested on both sides.
"""

from typing import Any

import pytest
from tests.jose.forge import NOW, forge

from jotauth import jose


@pytest.fixture(scope="module")
def key() -> jose.Key:
    """An HMAC key: the claims checks do not depend on the algorithm."""
    return jose.Key.generate("HS256", kid="claims")


def _token(key: jose.Key, claims: dict[str, Any], **headers: Any) -> str:
    return jose.encode(claims, key, headers=headers or None)


# -- exp -----------------------------------------------------------------------------------


def test_exp_boundary(key: jose.Key) -> None:
    """A token is valid strictly before ``exp`` and expired from ``exp`` on."""
    token = _token(key, {"exp": NOW})
    assert jose.decode(token, key, now=NOW - 1) == {"exp": NOW}
    with pytest.raises(jose.ExpiredTokenError):
        jose.decode(token, key, now=NOW)


def test_exp_leeway(key: jose.Key) -> None:
    """``leeway`` extends ``exp`` by exactly that many seconds (the tutorial's clock-skew grace)."""
    token = _token(key, {"exp": NOW})
    assert jose.decode(token, key, leeway=30, now=NOW + 29)
    with pytest.raises(jose.ExpiredTokenError):
        jose.decode(token, key, leeway=30, now=NOW + 30)


def test_expired_message_shows_expiry_now_and_leeway(key: jose.Key) -> None:
    """The expiry error says when the token expired, how long ago, the current time and leeway."""
    token = _token(key, {"exp": NOW})
    with pytest.raises(jose.ExpiredTokenError) as info:
        jose.decode(token, key, leeway=5, now=NOW + 65)
    error = info.value
    assert (error.expired_at, error.now, error.leeway) == (NOW, NOW + 65, 5)
    assert (error.claim, error.reason, error.code) == ("exp", "check_failed", "expired_token")
    message = str(error)
    assert "2030-03-17T17:46:40Z" in message  # NOW as ISO 8601 UTC
    assert "2030-03-17T17:47:45Z" in message  # now
    assert "65s ago" in message
    assert "leeway 5s" in message
    assert token not in message
    assert isinstance(error, jose.ClaimError)


def test_missing_claim_named_in_the_callers_order(key: jose.Key) -> None:
    """With several required claims absent, the first one the caller listed is reported."""
    token = _token(key, {"exp": NOW + 60})
    for require in (("exp", "iat", "sub"), ("exp", "sub", "iat")):
        with pytest.raises(jose.MissingClaimError) as info:
            jose.decode(token, key, require=require, now=NOW)
        assert info.value.claim == require[1]


def test_exp_required_by_default(key: jose.Key) -> None:
    """Without ``exp`` a token is refused unless the caller explicitly requires nothing."""
    token = _token(key, {"sub": "1"})
    with pytest.raises(jose.MissingClaimError) as info:
        jose.decode(token, key, now=NOW)
    assert info.value.claim == "exp"
    assert info.value.code == "missing_claim"
    assert '"exp"' in str(info.value)
    assert jose.decode(token, key, require=(), now=NOW) == {"sub": "1"}


def test_float_dates_accepted(key: jose.Key) -> None:
    """NumericDate may be fractional (RFC 7519 2)."""
    token = _token(key, {"exp": NOW + 0.5, "iat": NOW - 0.5})
    assert jose.decode(token, key, now=NOW)["exp"] == NOW + 0.5
    with pytest.raises(jose.ExpiredTokenError):
        jose.decode(token, key, now=NOW + 0.5)


def test_huge_and_negative_dates(key: jose.Key) -> None:
    """Huge integer dates compare correctly and do not overflow; negative ones are just past."""
    far = _token(key, {"exp": 10**30})
    assert jose.decode(far, key, now=NOW)["exp"] == 10**30
    past = _token(key, {"exp": -1})
    with pytest.raises(jose.ExpiredTokenError) as info:
        jose.decode(past, key, now=NOW)
    assert "1969-12-31T23:59:59Z" in str(info.value)


# -- nbf and iat -------------------------------------------------------------------------------


def test_nbf_boundary_and_leeway(key: jose.Key) -> None:
    """A token is valid from ``nbf`` on; leeway lets it in that many seconds early."""
    token = _token(key, {"nbf": NOW, "exp": NOW + 60})
    assert jose.decode(token, key, now=NOW)
    with pytest.raises(jose.ImmatureTokenError) as info:
        jose.decode(token, key, now=NOW - 1)
    assert (info.value.claim, info.value.code) == ("nbf", "immature_token")
    assert "2030-03-17T17:46:40Z" in str(info.value)
    assert "leeway 0s" in str(info.value)
    assert jose.decode(token, key, leeway=10, now=NOW - 10)
    with pytest.raises(jose.ImmatureTokenError):
        jose.decode(token, key, leeway=10, now=NOW - 11)


def test_iat_in_the_future_rejected(key: jose.Key) -> None:
    """A token issued in the future (beyond leeway) is rejected; iat in the past is fine."""
    token = _token(key, {"iat": NOW + 5, "exp": NOW + 60})
    with pytest.raises(jose.ImmatureTokenError) as info:
        jose.decode(token, key, now=NOW)
    assert info.value.claim == "iat"
    assert "future" in str(info.value)
    assert jose.decode(token, key, leeway=5, now=NOW)
    assert jose.decode(_token(key, {"iat": NOW - 3600, "exp": NOW + 60}), key, now=NOW)


def test_max_age_from_iat(key: jose.Key) -> None:
    """``max_age`` rejects tokens issued longer ago than allowed, and needs ``iat``."""
    token = _token(key, {"iat": NOW - 100, "exp": NOW + 3600})
    assert jose.decode(token, key, max_age=101, now=NOW)
    with pytest.raises(jose.ExpiredTokenError) as info:
        jose.decode(token, key, max_age=100, now=NOW)
    assert info.value.expired_at == NOW
    assert jose.decode(token, key, max_age=90, leeway=11, now=NOW)
    with pytest.raises(jose.MissingClaimError) as missing:
        jose.decode(_token(key, {"exp": NOW + 60}), key, max_age=100, now=NOW)
    assert missing.value.claim == "iat"


# -- iss, sub, jti, aud ------------------------------------------------------------------------


def test_issuer(key: jose.Key) -> None:
    """``issuer`` must match exactly (one of several allowed); a missing iss is its own error."""
    token = _token(key, {"iss": "https://a.example", "exp": NOW + 60})
    assert jose.decode(token, key, issuer="https://a.example", now=NOW)
    assert jose.decode(token, key, issuer=["https://b.example", "https://a.example"], now=NOW)
    with pytest.raises(jose.InvalidClaimError) as info:
        jose.decode(token, key, issuer="https://a.example/", now=NOW)
    assert info.value.claim == "iss"
    assert "'https://a.example'" in str(info.value)  # found
    assert "'https://a.example/'" in str(info.value)  # expected
    with pytest.raises(jose.MissingClaimError):
        jose.decode(_token(key, {"exp": NOW + 60}), key, issuer="https://a.example", now=NOW)
    with pytest.raises(jose.InvalidClaimError):
        jose.decode(_token(key, {"iss": ["x"], "exp": NOW + 60}), key, now=NOW)


def test_audience_string_and_list(key: jose.Key) -> None:
    """``aud`` may be a string or a list; one match with the expected audience(s) is enough."""
    single = _token(key, {"aud": "api", "exp": NOW + 60})
    several = _token(key, {"aud": ["web", "api"], "exp": NOW + 60})
    for token in (single, several):
        assert jose.decode(token, key, audience="api", now=NOW)
        assert jose.decode(token, key, audience=["admin", "api"], now=NOW)
    with pytest.raises(jose.InvalidClaimError) as info:
        jose.decode(several, key, audience="admin", now=NOW)
    message = str(info.value)
    assert info.value.claim == "aud"
    assert "'web', 'api'" in message  # found
    assert "expected 'admin'" in message


def test_audience_present_but_not_expected_rejected(key: jose.Key) -> None:
    """A token meant for an audience is refused by a verifier that names none."""
    token = _token(key, {"aud": "api", "exp": NOW + 60})
    with pytest.raises(jose.InvalidClaimError) as info:
        jose.decode(token, key, now=NOW)
    assert info.value.reason == "unexpected"
    assert "audience=" in str(info.value)


def test_audience_expected_but_missing_or_malformed(key: jose.Key) -> None:
    """An expected audience needs an ``aud``; an empty list or non-strings are invalid."""
    with pytest.raises(jose.MissingClaimError):
        jose.decode(_token(key, {"exp": NOW + 60}), key, audience="api", now=NOW)
    for bad in ([], [1], {"api": True}, 5, ["api", None]):
        with pytest.raises(jose.InvalidClaimError):
            jose.decode(_token(key, {"aud": bad, "exp": NOW + 60}), key, audience="api", now=NOW)


def test_subject_and_jti(key: jose.Key) -> None:
    """``subject`` must match; ``sub`` and ``jti`` must be strings when present."""
    token = _token(key, {"sub": "42", "jti": "abc", "exp": NOW + 60})
    assert jose.decode(token, key, subject="42", now=NOW)["jti"] == "abc"
    with pytest.raises(jose.InvalidClaimError) as info:
        jose.decode(token, key, subject="43", now=NOW)
    assert "'42'" in str(info.value)
    assert "'43'" in str(info.value)
    with pytest.raises(jose.MissingClaimError):
        jose.decode(_token(key, {"exp": NOW + 60}), key, subject="42", now=NOW)
    for claim in ("sub", "jti"):
        with pytest.raises(jose.InvalidClaimError) as bad:
            jose.decode(_token(key, {claim: 42, "exp": NOW + 60}), key, now=NOW)
        assert bad.value.claim == claim


def test_require_lists_claims(key: jose.Key) -> None:
    """Every claim named in ``require`` must be present."""
    token = _token(key, {"exp": NOW + 60, "sub": "1"})
    assert jose.decode(token, key, require=("exp", "sub"), now=NOW)
    with pytest.raises(jose.MissingClaimError) as info:
        jose.decode(token, key, require=("exp", "jti"), now=NOW)
    assert info.value.claim == "jti"


# -- typ ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header_typ", "expected", "ok"),
    [
        ("at+jwt", "at+jwt", True),
        ("application/at+jwt", "at+jwt", True),
        ("AT+JWT", "at+jwt", True),
        ("at+jwt", "application/at+jwt", True),
        ("Application/AT+JWT", "at+jwt", True),
        ("JWT", "at+jwt", False),
        ("at+jwt", "JWT", False),
        ("application/foo/at+jwt", "at+jwt", False),
        ("jwt", "JWT", True),
    ],
)
def test_typ(header_typ: str, expected: str, ok: bool, key: jose.Key) -> None:
    """``typ`` compares case-insensitively, with or without ``application/`` (RFC 7515 4.1.9)."""
    token = _token(key, {"exp": NOW + 60}, typ=header_typ)
    if ok:
        assert jose.decode(token, key, typ=expected, now=NOW)
        return
    with pytest.raises(jose.InvalidClaimError) as info:
        jose.decode(token, key, typ=expected, now=NOW)
    assert info.value.claim == "typ"


def test_typ_missing_when_required(key: jose.Key) -> None:
    """A verifier that requires a ``typ`` refuses a token without one (or with a non-string)."""
    for typ in (None, 1):
        token = forge(key, {"alg": "HS256", "typ": typ}, {"exp": NOW + 60})
        with pytest.raises(jose.InvalidClaimError) as info:
            jose.decode(token, key, typ="at+jwt", now=NOW)
        assert info.value.reason == "missing"
    no_typ = _token(key, {"exp": NOW + 60}, typ=None)
    assert "typ" not in jose.peek_header(no_typ)
    assert jose.decode(no_typ, key, now=NOW)


# -- policy arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"leeway": -1},
        {"leeway": 3600},
        {"leeway": "5"},
        {"max_age": -1},
        {"require": "exp"},
        {"audience": []},
        {"issuer": [1]},
        {"algorithms": []},
    ],
)
def test_bad_policy_arguments_refused(kwargs: dict[str, Any], key: jose.Key) -> None:
    """Nonsense policy arguments fail when the verifier is built, not silently at runtime."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        jose.Verifier(key, **kwargs)


def test_claims_returned_unchanged(key: jose.Key) -> None:
    """The verified claims come back exactly as signed, custom claims and unicode included."""
    claims = {
        "exp": NOW + 60,
        "scope": "articles:read articles:create",
        "roles": ["editor"],
        "permissions": {"articles": ["read", "create"]},
        "preferred_username": "zoë",
        "n": None,
    }
    assert jose.decode(_token(key, claims), key, now=NOW) == claims


HUGE = 10**400  # an integer beyond float range; 401 digits fit easily in an 8 KiB token


@pytest.mark.parametrize(
    ("payload", "kwargs", "expected"),
    [
        ({"exp": -HUGE}, {}, jose.ExpiredTokenError),
        ({"exp": HUGE, "nbf": HUGE}, {}, jose.ImmatureTokenError),
        ({"exp": HUGE, "iat": HUGE}, {}, jose.ImmatureTokenError),
        ({"exp": HUGE, "iat": -HUGE}, {"max_age": 10}, jose.ExpiredTokenError),
    ],
    ids=["exp-negative", "nbf", "iat", "max_age"],
)
def test_huge_integer_dates_end_in_claim_errors(
    payload: dict[str, Any], kwargs: dict[str, Any], expected: type[Exception], key: jose.Key
) -> None:
    """A date beyond float range still gives the right ClaimError, not an OverflowError."""
    token = forge(key, {"alg": "HS256"}, payload)
    with pytest.raises(expected):
        jose.decode(token, key, now=NOW, **kwargs)
