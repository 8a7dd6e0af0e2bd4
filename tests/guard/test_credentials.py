"""Token extraction and the HTTP error mapping, without any framework."""

import re

import pytest
from hypothesis import given, settings, strategies as st

from jotauth import jose
from jotauth.guard import (
    CSRFError,
    GuardError,
    InsufficientScopeError,
    InvalidRequestError,
    KeySourceError,
    MissingTokenError,
    error_response,
)
from jotauth.guard.credentials import CookieSettings, check_csrf, extract_token, parse_cookie

COOKIE = CookieSettings("access_token", "csrf_token", "X-CSRF-Token")


def test_bearer_forms() -> None:
    """Bearer in any case, with surrounding spaces and base64 padding, yields the token."""
    assert extract_token(["Bearer a.b.c"], None, "GET", None, None) == "a.b.c"
    assert extract_token(["BEARER   a.b.c  "], None, "GET", None, None) == "a.b.c"
    assert extract_token(["bearer abc=="], None, "GET", None, None) == "abc=="


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        'Bearer "a.b.c"',
        "Bearer a,b",
        "Bearer é",
        "Bearer ==",
        "Bearer a=b",
        "Bearer a.b\x00",
    ],
)
def test_malformed_bearer_is_invalid_request(header: str) -> None:
    """A Bearer header that is not exactly one b64token is a 400."""
    with pytest.raises(InvalidRequestError):
        extract_token([header], None, "GET", None, None)


def test_missing_and_other_schemes() -> None:
    """No header, or another scheme, is 'no token' and says what to send."""
    with pytest.raises(MissingTokenError, match="Bearer"):
        extract_token([], None, "GET", None, None)
    with pytest.raises(MissingTokenError, match='"Basic" scheme'):
        extract_token(["Basic abc"], None, "GET", None, None)
    with pytest.raises(MissingTokenError, match="cookie"):
        extract_token([], "other=1", "GET", None, COOKIE)


def test_cookie_is_ignored_unless_enabled() -> None:
    """Without cookie mode a token cookie is not a credential."""
    with pytest.raises(MissingTokenError):
        extract_token([], "access_token=a.b.c", "GET", None, None)


def test_cookie_and_csrf() -> None:
    """Safe methods take the cookie; unsafe ones need the matching CSRF header."""
    jar = "access_token=a.b.c; csrf_token=s3cret"
    assert extract_token([], jar, "GET", None, COOKIE) == "a.b.c"
    assert extract_token([], jar, "HEAD", None, COOKIE) == "a.b.c"
    assert extract_token([], jar, "post", "s3cret", COOKIE) == "a.b.c"
    with pytest.raises(CSRFError, match="needs"):
        extract_token([], jar, "POST", None, COOKIE)
    with pytest.raises(CSRFError, match="does not match"):
        extract_token([], jar, "DELETE", "other", COOKIE)
    with pytest.raises(CSRFError, match="needs"):
        extract_token([], "access_token=a.b.c", "PUT", "x", COOKIE)  # no csrf cookie at all
    with pytest.raises(InvalidRequestError, match="cookie"):
        extract_token([], "access_token=a b", "GET", None, COOKIE)


def test_header_wins_over_cookie() -> None:
    """With an Authorization header the cookie is not consulted (no CSRF needed)."""
    assert extract_token(["Bearer h.h.h"], "access_token=c.c.c", "POST", None, COOKIE) == "h.h.h"


def test_parse_cookie() -> None:
    """The first cookie of a name wins; quotes are removed; unwanted names ignored."""
    jar = parse_cookie(' a=1; b="2"; a=3; junk; c=4', ("a", "b"))
    assert jar == {"a": "1", "b": "2"}


def test_error_response_mapping() -> None:
    """Each error maps to its status; descriptions are made header-safe."""
    assert error_response(MissingTokenError("x")).headers == [("WWW-Authenticate", "Bearer")]
    bad = error_response(jose.BadSignatureError(), realm='my "realm"\n')
    assert bad.status == 401
    assert bad.headers[0][1] == (
        'Bearer realm="my \'realm\'?", error="invalid_token", '
        'error_description="signature verification failed"'
    )
    quoted = error_response(InvalidRequestError('say "hi" \\ ünï'))
    assert "error_description=\"say 'hi' / ?n?\"" in quoted.headers[0][1]
    scope = error_response(InsufficientScopeError(["a:b", "c"]))
    assert (scope.status, scope.body["required"]) == (403, ["a:b", "c"])
    assert error_response(KeySourceError("url http://internal/jwks")).status == 503
    assert "internal" not in error_response(KeySourceError("http://internal")).body_bytes().decode()
    with pytest.raises(TypeError, match="not a guard error"):
        error_response(GuardError("?"))


_RFC6750_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@settings(max_examples=400, database=None, deadline=None)
@given(
    st.text(alphabet="AZaz09-._~+/=", max_size=12)
    | st.text(alphabet=st.sampled_from('Ab9.=_ ,"é\x00\t;'), max_size=12)
    | st.text(max_size=12)
)
def test_b64token_check_is_the_rfc_grammar(value: str) -> None:
    """The fast check accepts exactly what RFC 6750's b64token grammar (as a regex) accepts."""
    from jotauth.guard.credentials import _is_b64token

    assert _is_b64token(value) == (_RFC6750_B64TOKEN.fullmatch(value) is not None)


def test_origin_check_with_trusted_origins() -> None:
    """With origins set, an unsafe cookie request from a foreign Origin is refused; the
    request's own host, a listed origin or no Origin pass, and safe methods are not judged."""
    trusting = CookieSettings(
        "access_token", "csrf_token", "X-CSRF-Token", frozenset({"https://app.example"})
    )
    jar = "access_token=a.b.c; csrf_token=s3cret"

    def take(method: str, origin: str | None) -> str:
        return extract_token(
            [], jar, method, "s3cret", trusting, origin=origin, host="auth.example"
        )

    assert take("POST", None) == "a.b.c"
    assert take("POST", "https://auth.example") == "a.b.c"
    assert take("POST", "https://app.example/") == "a.b.c"
    assert take("GET", "https://evil.example") == "a.b.c"
    with pytest.raises(CSRFError, match="allowed origins"):
        take("POST", "https://evil.example")
    with pytest.raises(CSRFError, match="allowed origins"):
        take("POST", "https://auth.example.evil.example")
    # Without origins (the guard's default) only the double submit is judged.
    assert (
        extract_token([], jar, "POST", "s3cret", COOKIE, origin="https://evil.example", host="x")
        == "a.b.c"
    )


def test_check_csrf_is_the_same_rule_for_any_cookie() -> None:
    """check_csrf (the issuer's refresh cookie uses it) applies the double submit on its own."""
    refresh = CookieSettings("refresh_token", "csrf_token", "X-CSRF-Token", frozenset())
    check_csrf({"csrf_token": "s"}, "s", refresh, "POST")
    check_csrf({}, None, refresh, "GET")
    with pytest.raises(CSRFError, match="needs"):
        check_csrf({"csrf_token": "s"}, None, refresh, "POST")
    with pytest.raises(CSRFError, match="does not match"):
        check_csrf({"csrf_token": "s"}, "t", refresh, "POST")
    with pytest.raises(CSRFError, match="allowed origins"):
        check_csrf({"csrf_token": "s"}, "s", refresh, "POST", origin="https://e.x", host="a.x")


def test_guard_takes_csrf_origins() -> None:
    """Guard(csrf_origins=...) turns the Origin check on for its cookie, trailing slash or not."""
    from jotauth.guard import Guard

    key = jose.Key.generate("Ed25519")
    guard = Guard(keys=key, cookie="at", csrf_origins=["https://app.example/"])
    assert guard.cookie is not None
    assert guard.cookie.origins == frozenset({"https://app.example"})
    assert Guard(keys=key, cookie="at").cookie.origins is None  # type: ignore[union-attr]
    with pytest.raises(CSRFError):
        guard.extract(
            [], "at=a.b.c; csrf_token=s", "POST", "s", origin="https://evil.example", host="h"
        )
