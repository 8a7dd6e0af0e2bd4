"""The answers to DPoP requests (RFC 9449 7.1): the DPoP challenge with ``algs``, every error."""

import pytest

from jotauth import jose
from jotauth.errors import JotauthError
from jotauth.guard import (
    ClientNotAllowedError,
    DPoPRequest,
    Guard,
    InsufficientScopeError,
    InvalidRequestError,
    KeySourceError,
    MissingTokenError,
    ReplayCheckError,
    RevokedTokenError,
    TokenBindingError,
    error_response,
)
from jotauth.guard.dpop import DPoPPolicy, decoded_path, raw_path

ALGS = ("ES256", "EdDSA")


@pytest.mark.parametrize(
    ("exc", "status", "challenge"),
    [
        (jose.DPoPProofError("htu", "bad htu"), 401,
         'DPoP realm="api", error="invalid_dpop_proof", error_description="bad htu", '
         'algs="ES256 EdDSA"'),
        (jose.DPoPNonceError("need a nonce", nonce="n-1"), 401,
         'DPoP realm="api", error="use_dpop_nonce", error_description="need a nonce", '
         'algs="ES256 EdDSA"'),
        (TokenBindingError("key", "other key"), 401,
         'DPoP realm="api", error="invalid_token", error_description="other key", '
         'algs="ES256 EdDSA"'),
        (jose.ExpiredTokenError(1, 100, 0), 401, 'DPoP realm="api", error="invalid_token"'),
        (RevokedTokenError("token", "revoked"), 401, 'DPoP realm="api", error="invalid_token"'),
        (InvalidRequestError("two words"), 400, 'DPoP realm="api", error="invalid_request"'),
        (MissingTokenError("none"), 401, 'DPoP realm="api", algs="ES256 EdDSA"'),
        (InsufficientScopeError(["articles:write"]), 403,
         'DPoP realm="api", error="insufficient_scope"'),
        (ReplayCheckError("down"), 503, None),
        (KeySourceError("down"), 503, None),
        (ClientNotAllowedError("no"), 403, None),
    ],
)  # fmt: skip
def test_dpop_requests_get_the_dpop_challenge(
    exc: JotauthError, status: int, challenge: str | None
) -> None:
    """A request that used the DPoP scheme is answered with the DPoP challenge, naming algs."""
    answer = error_response(exc, "api", dpop=True, dpop_algs=ALGS)
    assert answer.status == status
    headers = dict(answer.headers)
    got = headers.get("WWW-Authenticate")
    if challenge is None:
        assert got is None
    else:
        assert got is not None
        assert got.startswith(challenge), got
        assert got.endswith('algs="ES256 EdDSA"'), got
    if isinstance(exc, InsufficientScopeError):
        assert 'scope="articles:write"' in str(got)
    if isinstance(exc, jose.DPoPNonceError):
        assert headers["DPoP-Nonce"] == "n-1"
    if isinstance(exc, ReplayCheckError):
        assert headers["Retry-After"] == "5"
        assert answer.body["jotauth_code"] == "dpop_replay_unavailable"


def test_dpop_errors_get_the_dpop_challenge_on_bearer_requests() -> None:
    """A DPoP failure (a bound token sent as Bearer) answers with DPoP even without dpop=True;
    other errors of Bearer requests keep the Bearer challenge."""
    downgrade = error_response(TokenBindingError("bearer", "bound"))
    assert dict(downgrade.headers)["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    expired = error_response(jose.ExpiredTokenError(1, 100, 0))
    assert dict(expired.headers)["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_nonce_error_without_a_nonce_sends_no_header() -> None:
    """A DPoPNonceError raised by jose alone (no server nonce known) adds no DPoP-Nonce."""
    answer = error_response(jose.DPoPNonceError("need one"), dpop=True)
    assert "DPoP-Nonce" not in dict(answer.headers)


def test_guard_refusal_uses_its_realm_and_algorithms() -> None:
    """``guard.refusal`` answers with the guard's realm and its dpop_algorithms, in order."""
    guard = Guard(keys=jose.Key.generate("EdDSA").public(), realm="svc",
                  dpop_algorithms=["EdDSA", "ES256"])  # fmt: skip
    answer = guard.refusal(jose.DPoPProofError("jti", "replayed"), dpop=True)
    assert dict(answer.headers)["WWW-Authenticate"].endswith('algs="ES256 EdDSA"')
    assert 'realm="svc"' in dict(answer.headers)["WWW-Authenticate"]
    assert answer.body["dpop_check"] == "jti"


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"/articles", "/articles"),
        (b"/articles?x=1", "/articles"),
        (b"/caf\xc3\xa9", "/caf%C3%A9"),
        (b"/a b", "/a%20b"),
        (b"/a\x00", "/a%00"),
        (b"/files#/../secret", "/files%23/../secret"),
        (b"/a%3Fb%25c", "/a%3Fb%25c"),
    ],
)
def test_raw_path_is_uri_text_without_query(raw: bytes, path: str) -> None:
    """Received path bytes become ASCII URI text; the query is cut off, and a "#" (data in a
    received target, as h11 hands it over) is encoded rather than left to cut the URI."""
    assert raw_path(raw) == path


@pytest.mark.parametrize(
    ("decoded", "path"),
    [
        (b"/articles", "/articles"),
        (b"/files#/../secret", "/files%23/../secret"),
        (b"/files?x/secret", "/files%3Fx/secret"),
        (b"/a%b", "/a%25b"),
        (b"/caf\xc3\xa9 x", "/caf%C3%A9%20x"),
    ],
)
def test_decoded_path_loses_nothing_to_a_query_or_fragment(decoded: bytes, path: str) -> None:
    """A decoded path (PATH_INFO) gets its "%", "?" and "#" encoded again: /files%23/../secret
    reaches the app as /files#/../secret, which must not compare as /files."""
    assert decoded_path(decoded) == path


def test_request_uri_needs_a_host_or_external_url() -> None:
    """Without Host and without external_url the URI cannot be known: the proof is refused."""
    policy = DPoPPolicy()
    no_host = DPoPRequest("GET", "https", None, "/a", ())
    with pytest.raises(jose.DPoPProofError, match="external_url"):
        policy.request_uri(no_host)
    assert DPoPPolicy(external_url="https://api.example/").request_uri(no_host) == (
        "https://api.example/a"
    )
    assert policy.request_uri(DPoPRequest("GET", "wss", "h", "/ws", ())) == "https://h/ws"
    with pytest.raises(jose.DPoPProofError):
        policy.request_uri(DPoPRequest("GET", "ftp", "h", "/a", ()))


def test_wsgi_request_facts() -> None:
    """A WSGI environ gives method, scheme, host (SERVER_NAME without Host), the raw path
    (SCRIPT_NAME + PATH_INFO, latin-1 bytes re-escaped) and the DPoP headers."""
    from jotauth.guard.wsgi import environ_dpop_request

    environ = {
        "REQUEST_METHOD": "POST",
        "wsgi.url_scheme": "https",
        "SERVER_NAME": "h",
        "SCRIPT_NAME": "/app",
        "PATH_INFO": "/caf\xc3\xa9",
        "HTTP_DPOP": "a.b.c",
    }
    assert environ_dpop_request(environ) == DPoPRequest(
        "POST", "https", "h", "/app/caf%C3%A9", ("a.b.c",)
    )
    assert environ_dpop_request({"HTTP_HOST": "x:8080"}) == DPoPRequest(
        "GET", "http", "x:8080", "/", ()
    )
    raw = {**environ, "REQUEST_URI": "/app/a%3Fb?q=1", "PATH_INFO": "/a?b"}
    assert environ_dpop_request(raw).path == "/app/a%3Fb"  # the target as received
    assert environ_dpop_request({**raw, "RAW_URI": "/app/a%2Fb"}).path == "/app/a%2Fb"
