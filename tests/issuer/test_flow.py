"""The tutorial's workflow over HTTP (in-process): login, protected routes, refresh, logout."""

from typing import Any

import httpx
import pytest

from jotauth import jose

pytestmark = pytest.mark.anyio


async def test_tutorial_login_then_profile(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """POST /login with JSON credentials, then GET /profile with the Bearer token greets john."""
    await kit.add_user(app)
    response = await client.post(
        "/login",
        content=b'{"username": "john", "password": "password123"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_expires_in"] == 7 * 86400
    assert response.headers["cache-control"] == "no-store"
    profile = await client.get("/profile", headers=kit.bearer(body["access_token"]))
    assert profile.status_code == 200
    assert profile.json() == {"message": "Welcome, john!"}


async def test_access_token_follows_the_contract(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Header typ at+jwt with kid and EdDSA; RFC 9068 claims plus roles, permissions, sid."""
    await kit.add_user(app)
    body = await kit.login(client)
    token = body["access_token"]
    header = jose.peek_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "EdDSA"
    jwks = (await client.get("/.well-known/jwks.json")).json()
    keys = jose.KeySet.from_jwks(jwks)
    claims = jose.decode(
        token, keys, issuer="http://testserver", audience="jotauth", typ="at+jwt", now=kit.start
    )
    assert claims["sub"] == "1"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["scope"] == "articles:create articles:read"
    assert claims["permissions"] == {"articles": ["create", "read"]}
    assert claims["roles"] == ["user"]
    assert claims["preferred_username"] == "john"
    assert claims["client_id"] == "jotauth"
    assert isinstance(claims["jti"], str)
    assert isinstance(claims["sid"], str)


async def test_wrong_password_and_unknown_user_answer_alike(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Both are 401 invalid_grant with the same body, and both are recorded as failures."""
    await kit.add_user(app)
    wrong = await client.post("/login", json={"username": "john", "password": "nope-nope"})
    unknown = await client.post("/login", json={"username": "mallory", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_grant"
    failures = store.list_audit_events(type="login_failed")
    assert {e.detail["reason"] for e in failures} == {"bad_password", "unknown_user"}
    assert all(e.outcome == "failure" and e.ip for e in failures)


async def test_me_shows_roles_and_permissions(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """GET /me reports what the token says about the caller."""
    await kit.add_user(app, roles=["editor", "user"], permissions={"articles": ["read"]})
    token = (await kit.login(client))["access_token"]
    me = (await client.get("/me", headers=kit.bearer(token))).json()
    assert me["sub"] == "1"
    assert me["username"] == "john"
    assert me["roles"] == ["editor", "user"]
    assert me["permissions"] == {"articles": ["read"]}
    assert me["scope"] == "articles:read"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic am9objpwYXNzd29yZDEyMw=="},
    ],
)
async def test_protected_route_refuses_missing_or_bad_tokens(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No token, garbage or another scheme: 401 with an error body and a Bearer challenge."""
    response = await client.get("/profile", headers=headers)
    assert response.status_code in (400, 401)
    assert "error" in response.json()
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_access_token_is_refused(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """After 15 minutes (plus the guard's 30 s leeway) the access token stops working."""
    await kit.add_user(app)
    token = (await kit.login(client))["access_token"]
    clock.advance(900 + 31)
    response = await client.get("/profile", headers=kit.bearer(token))
    assert response.status_code == 401
    assert response.json()["jotauth_code"] == "expired_token"


async def test_token_signed_by_another_key_is_refused(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A token with the right claims but a foreign key fails (no key confusion)."""
    await kit.add_user(app)
    real = (await kit.login(client))["access_token"]
    claims = jose.peek_claims(real)
    forged = jose.encode(claims, jose.Key.generate("EdDSA"), headers={"typ": "at+jwt"})
    response = await client.get("/profile", headers=kit.bearer(forged))
    assert response.status_code == 401


async def test_healthz_and_docs(client: httpx.AsyncClient) -> None:
    """/healthz says ok; /docs and the OpenAPI schema list the auth routes."""
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert (await client.get("/docs")).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/login", "/refresh", "/logout", "/oauth/token", "/.well-known/jwks.json"):
        assert path in paths


async def test_discovery_document(client: httpx.AsyncClient) -> None:
    """Discovery names the issuer, JWKS, token endpoint and revocation feed, with caching."""
    response = await client.get("/.well-known/openid-configuration")
    doc = response.json()
    assert doc["issuer"] == "http://testserver"
    assert doc["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert doc["token_endpoint"] == "http://testserver/oauth/token"
    assert doc["jotauth_revocations_endpoint"] == "http://testserver/revocations"
    # RS256 first (OIDC Core 15.1); EdDSA by the access ring, ES256 by a ring of its own.
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256", "EdDSA"]
    assert doc["jotauth_access_token_signing_alg_values_supported"] == ["EdDSA"]
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_password_hashes_are_argon2id_and_bcrypt_upgrades(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """New hashes are Argon2id; a tutorial-style bcrypt hash logs in and is rehashed."""
    import bcrypt

    legacy = bcrypt.hashpw(b"password123", bcrypt.gensalt(rounds=4)).decode()
    assert legacy.startswith("$2b$")
    await app.state.auth.create_user("legacy", None, password_hash=legacy)
    await kit.add_user(app, "fresh")
    assert store.find_user_any(["fresh"]).password_hash.startswith("$argon2id$")
    await kit.login(client, "legacy")
    assert store.find_user_any(["legacy"]).password_hash.startswith("$argon2id$")
    await kit.login(client, "legacy")  # and the upgraded hash verifies


async def test_usernames_compare_normalized(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """John logs in as john; a full-width twin cannot be registered as a second account."""
    await kit.add_user(app)
    await kit.login(client, "John")
    twin = await client.post(
        "/register", json={"username": "\uff4a\uff4f\uff48\uff4e", "password": "password1234"}
    )
    assert twin.status_code == 409
    assert twin.json()["error"] == "conflict"


async def test_disabled_user_cannot_log_in(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Disabling kills existing tokens and refuses new logins."""
    user = await kit.add_user(app)
    body = await kit.login(client)
    await app.state.auth.set_disabled(user.id, True, _cli(), "test")
    assert (
        await client.get("/profile", headers=kit.bearer(body["access_token"]))
    ).status_code == 401
    refused = await client.post("/login", json={"username": "john", "password": "password123"})
    assert refused.status_code == 401
    again = await client.post("/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 401
    assert [e.type for e in store.list_audit_events(type="user_disabled")] == ["user_disabled"]


def _cli() -> Any:
    from jotauth.issuer.services.auth import Client

    return Client(ip="10.0.0.1", user_agent="tests")


async def test_a_password_typed_as_username_leaves_no_trace_in_logs_or_audit(
    sqlite_url: str,
    kit: Any,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Failed logins logged the typed username verbatim, so a password typed into the username
    field reached the logs and the audit table. An unknown name is now a keyed hash of it; a
    known account is named by its id (and its own name)."""
    import logging

    from jotauth.issuer.app import create_app

    caplog.set_level(logging.DEBUG)
    settings = kit.make_settings(sqlite_url, audit_log=True, ratelimit_enabled=True)
    app = create_app(settings, clock=clock, sleep=clock.advance)
    secret = "Tr0ub4dor&3-Correct-Horse"
    try:
        user = await kit.add_user(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for _ in range(2):
                response = await c.post("/login", json={"username": secret, "password": "x"})
                assert response.status_code == 401
            wrong = await c.post("/login", json={"username": "john", "password": secret})
            assert wrong.status_code == 401
            form = {"grant_type": "password", "username": secret, "password": "y"}
            assert (await c.post("/oauth/token", data=form)).status_code == 400
        rows = app.state.store.list_audit_events(type="login_failed")
    finally:
        await app.state.observability.aclose()
        app.state.store.close()
    assert len(rows) == 4
    everything = caplog.text + "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    everything += repr(rows)
    for form_of_it in (secret, secret.lower(), secret.casefold(), secret[:12]):
        assert form_of_it not in everything
    unknown = [r for r in rows if r.user_id is None]
    assert len(unknown) == 3
    assert len({r.username for r in unknown}) == 1  # one name, one tag: bursts still show
    assert unknown[0].username.startswith("unknown:")
    known = [r for r in rows if r.user_id is not None]
    assert [(r.user_id, r.username) for r in known] == [(user.sub, "john")]
    assert '"username": "unknown:' in caplog.text  # the JSON audit line was written
