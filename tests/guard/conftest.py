"""Keys and issuers shared by the guard tests: made once per session (key generation is slow)."""

import json
from typing import Any, NamedTuple

import pytest

from jotauth import jose
from jotauth.guard import Guard
from jotauth.guard.testing import LocalIssuer, ManualClock, make_token

NOW = 1_900_000_000


@pytest.fixture(scope="session")
def ed_key() -> jose.Key:
    """An Ed25519 signing key."""
    return jose.Key.generate("EdDSA")


@pytest.fixture(scope="session")
def other_key() -> jose.Key:
    """A second Ed25519 key, unknown to the guards under test."""
    return jose.Key.generate("EdDSA")


@pytest.fixture
def issuer(ed_key: jose.Key) -> LocalIssuer:
    """A local issuer signing with ``ed_key``."""
    return LocalIssuer(key=ed_key, issuer="https://auth.test", audience="articles")


@pytest.fixture
def clock() -> ManualClock:
    """A clock at NOW that tests move by hand."""
    return ManualClock(NOW)


class Case(NamedTuple):
    """One request an adapter must answer, and the answer RFC 6750 prescribes."""

    name: str
    method: str
    headers: list[tuple[str, str]]
    status: int
    error: str | None  # body "error"
    challenge: str | None  # the error= in WWW-Authenticate; "" = challenge without error code
    code: str | None = None  # body "jotauth_code"


class Scenario(NamedTuple):
    """A guard (with cookie mode on) and every case its adapters must handle."""

    guard: Guard
    cases: list[Case]
    secrets: list[str]


@pytest.fixture
def scenario(issuer: LocalIssuer, other_key: jose.Key, guard_class: type[Guard]) -> Scenario:
    """Requests covering every success and error path, for a guard requiring articles:read."""
    guard = issuer.guard(cls=guard_class, cookie="access_token", realm="articles")
    good = issuer.make_token(sub="1", scope="articles:read")
    revoked = issuer.make_token(sub="2", scope="articles:read", jti="gone")
    guard.revocations.revoke_token("gone", 4_000_000_000)
    expired = issuer.make_token(scope="articles:read", now=1_000_000_000)
    forged = make_token(
        other_key, issuer=issuer.issuer, audience="articles", headers={"kid": issuer.key.kid}
    )
    unknown = make_token(other_key, issuer=issuer.issuer, audience="articles")
    other_aud = issuer.make_token(audience="billing", scope="articles:read")
    no_scope = issuer.make_token(scope="comments:read")
    bearer = [("Authorization", f"Bearer {good}")]
    cookie = [("Cookie", f"theme=dark; access_token={good}; csrf_token=c5rf")]
    cases = [
        Case("valid", "GET", bearer, 200, None, None),
        Case("scheme is case-insensitive", "GET", [("Authorization", f"bEaReR {good}")], 200,
             None, None),
        Case("no token", "GET", [], 401, "missing_token", ""),
        Case("other scheme", "GET", [("Authorization", "Basic dXNlcjpwdw==")], 401,
             "missing_token", ""),
        Case("bearer without token", "GET", [("Authorization", "Bearer")], 400,
             "invalid_request", "invalid_request"),
        Case("bearer with two words", "GET", [("Authorization", f"Bearer {good} extra")], 400,
             "invalid_request", "invalid_request"),
        Case("comma-joined headers", "GET", [("Authorization", f"Bearer {good}, Bearer x")],
             400, "invalid_request", "invalid_request"),
        Case("not a jwt", "GET", [("Authorization", "Bearer abc")], 401, "invalid_token",
             "invalid_token", "malformed_token"),
        Case("expired", "GET", [("Authorization", f"Bearer {expired}")], 401, "invalid_token",
             "invalid_token", "expired_token"),
        Case("bad signature", "GET", [("Authorization", f"Bearer {forged}")], 401,
             "invalid_token", "invalid_token", "bad_signature"),
        Case("unknown key", "GET", [("Authorization", f"Bearer {unknown}")], 401,
             "invalid_token", "invalid_token", "no_matching_key"),
        Case("wrong audience", "GET", [("Authorization", f"Bearer {other_aud}")], 401,
             "invalid_token", "invalid_token", "invalid_claim"),
        Case("revoked", "GET", [("Authorization", f"Bearer {revoked}")], 401, "invalid_token",
             "invalid_token", "token_revoked"),
        Case("insufficient scope", "GET", [("Authorization", f"Bearer {no_scope}")], 403,
             "insufficient_scope", "insufficient_scope"),
        Case("cookie on GET", "GET", cookie, 200, None, None),
        Case("cookie POST without csrf", "POST", cookie, 403, "csrf_failed", None),
        Case("cookie POST with csrf", "POST", [*cookie, ("X-CSRF-Token", "c5rf")], 200, None,
             None),
        Case("cookie POST wrong csrf", "POST", [*cookie, ("X-CSRF-Token", "nope")], 403,
             "csrf_failed", None),
        Case("bearer POST needs no csrf", "POST", bearer, 200, None, None),
    ]  # fmt: skip
    return Scenario(guard, cases, [good, expired, forged, revoked])


@pytest.fixture
def guard_class() -> type[Guard]:
    """The Guard class the scenario builds; adapter test modules override this fixture."""
    return Guard


def check_answer(case: Case, status: int, headers: Any, body: Any, secrets: list[str]) -> None:
    """Assert that an adapter answered ``case`` exactly as RFC 6750 and our contract say."""
    assert status == case.status, (case.name, body)
    if case.status == 200:
        return
    assert body["error"] == case.error, case.name
    assert body["error_description"]
    assert body["hint"]
    if case.code is not None:
        assert body["jotauth_code"] == case.code, case.name
    challenge = headers.get("www-authenticate")
    if case.challenge is None:
        assert challenge is None, case.name
    elif case.challenge == "":
        assert challenge == 'Bearer realm="articles"', case.name
    else:
        assert challenge.startswith(f'Bearer realm="articles", error="{case.challenge}"'), case.name
        assert 'error_description="' in challenge
    if case.error == "insufficient_scope":
        assert 'scope="articles:read"' in challenge
        assert body["required"] == ["articles:read"]
    if case.code == "expired_token":
        assert "expired at 2001-09-09T01:46:40Z" not in challenge  # exp is iat + 900
        assert "expired at 2001-09-09T02:01:40Z" in challenge
        assert body["expired_at"] == 1_000_000_900
    text = json.dumps(body) + str(challenge)
    for secret in secrets:
        assert secret not in text, case.name


@pytest.fixture
def check() -> Any:
    """``check_answer``, as a fixture so test modules need no import from conftest."""
    return check_answer
