"""The authorization code flow with PKCE: codes, their bindings and their replay."""

from typing import Any

import httpx
import pytest
from tests.issuer.oidc_support import (
    REDIRECT,
    auth_params,
    exchange,
    full_flow,
    pkce,
    query,
    sign_in,
)

from jotauth import jose

pytestmark = pytest.mark.anyio


async def _code(oidc: httpx.AsyncClient, **extra: str) -> tuple[str, str, dict[str, str]]:
    verifier, challenge = pkce()
    params = auth_params(challenge=challenge, **extra)
    response = await sign_in(oidc, params)
    assert response.status_code == 303, response.text
    return query(response.headers["location"])["code"], verifier, params


async def test_code_flow_issues_tokens_and_an_id_token(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """Sign in, exchange the code with its verifier: access, refresh and RS256 ID token."""
    await kit.add_user(oidc_app)
    body, params = await full_flow(oidc)
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile"
    header = jose.peek_header(body["id_token"])
    assert header["alg"] == "RS256"
    keys = jose.KeySet.from_jwks((await oidc.get("/.well-known/jwks.json")).json())
    claims = jose.decode(
        body["id_token"],
        keys,
        algorithms=["RS256"],
        issuer="http://testserver",
        audience="app-a",
        now=kit.start,
    )
    assert claims["nonce"] == params["nonce"]
    assert claims["azp"] == "app-a"
    assert claims["preferred_username"] == "john"
    assert claims["auth_time"] == int(kit.start)
    assert claims["sid"]
    from jotauth.issuer.services.id_tokens import at_hash

    assert claims["at_hash"] == at_hash(body["access_token"])
    access = jose.peek_claims(body["access_token"])
    assert access["client_id"] == "app-a"
    assert access["permissions"] == {}  # openid/profile are no permissions


async def test_redirect_carries_state_and_iss(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """RFC 9207: the code comes with the issuer's identifier and the client's state."""
    await kit.add_user(oidc_app)
    _verifier, challenge = pkce()
    params = auth_params(challenge=challenge)
    response = await sign_in(oidc, params)
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    values = query(location)
    assert values["state"] == params["state"]
    assert values["iss"] == "http://testserver"


async def test_code_replay_revokes_what_it_issued(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """A code used twice: the second answer is invalid_grant and the first tokens die."""
    await kit.add_user(oidc_app)
    code, verifier, _ = await _code(oidc)
    first = await exchange(oidc, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert (
        await oidc.get("/oauth/userinfo", headers=kit.bearer(tokens["access_token"]))
    ).status_code == 200
    again = await exchange(oidc, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert (
        await oidc.get("/oauth/userinfo", headers=kit.bearer(tokens["access_token"]))
    ).status_code == 401
    refreshed = await oidc.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_replay_during_the_first_exchange_revokes_it(
    oidc_app: Any, kit: Any, oidc: httpx.AsyncClient
) -> None:
    """A replay that lands while the first exchange is still issuing still kills its tokens."""
    await kit.add_user(oidc_app)
    code, verifier, _ = await _code(oidc)
    store = oidc_app.state.store
    real = store.attach_family

    def attach_after_replay(code_hash: str, family_id: str) -> bool:
        store.spend_code(code_hash, now=kit.start)  # the replay arrives now
        return bool(real(code_hash, family_id))

    store.attach_family = attach_after_replay
    response = await exchange(oidc, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    families = store.list_families()
    assert families
    assert all(f.revoked_at is not None for f in families)


async def test_code_expires_after_60_seconds(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """A code older than a minute is refused."""
    await kit.add_user(oidc_app)
    code, verifier, _ = await _code(oidc)
    clock.advance(61)
    response = await exchange(oidc, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_code_is_stored_hashed(oidc_app: Any, oidc: httpx.AsyncClient, kit: Any) -> None:
    """The database never holds the code itself."""
    await kit.add_user(oidc_app)
    code, _, _ = await _code(oidc)
    with oidc_app.state.store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT code_hash FROM authorization_codes").all()
    assert len(rows) == 1
    assert code not in rows[0][0]
    import hashlib

    assert rows[0][0] == hashlib.sha256(code.encode()).hexdigest()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),  # wrong verifier
        ({"code_verifier": ""}, "invalid_grant"),  # PKCE downgrade: no verifier
        ({"code_verifier": "short"}, "invalid_request"),
        ({"redirect_uri": "https://app-a.example/other"}, "invalid_grant"),
        ({"client_id": "app-b"}, "invalid_grant"),  # the code is bound to app-a
        ({"code": "not-a-code"}, "invalid_grant"),
    ],
)
async def test_code_is_bound_to_client_redirect_and_verifier(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any, change: dict[str, str], error: str
) -> None:
    """Each binding of the code is checked; a refusal never issues a token."""
    await kit.add_user(oidc_app)
    code, verifier, _ = await _code(oidc)
    data = {"code": code, "code_verifier": verifier, "client_id": "app-a", "redirect_uri": REDIRECT}
    data.update(change)
    response = await exchange(
        oidc, data["code"], data["code_verifier"], data["client_id"], data["redirect_uri"]
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert "access_token" not in response.json()
    assert oidc_app.state.store.list_families() == []


async def test_a_failed_exchange_spends_the_code(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """A wrong verifier burns the code: a stolen code cannot be tried until one guess works."""
    await kit.add_user(oidc_app)
    code, verifier, _ = await _code(oidc)
    assert (await exchange(oidc, code, "y" * 43)).status_code == 400
    assert (await exchange(oidc, code, verifier)).json()["error"] == "invalid_grant"


async def test_public_client_posing_as_confidential_is_refused(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """A public client that sends a secret, or a confidential client without one: invalid_client."""
    await kit.add_user(oidc_app)
    code, verifier, _ = await _code(oidc)
    response = await exchange(oidc, code, verifier, client_secret="made-up")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    response = await exchange(
        oidc, code, verifier, client_id="third", redirect_uri="https://third.example/cb"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_refresh_keeps_the_openid_scope(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """A refreshed token of the code flow still reaches userinfo."""
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc)
    refreshed = await oidc.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["scope"] == "openid profile"
    info = await oidc.get("/oauth/userinfo", headers=kit.bearer(refreshed.json()["access_token"]))
    assert info.json() == {"sub": "1", "preferred_username": "john"}


async def test_permission_scope_granted_only_when_the_user_holds_it(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """A permission scope the user holds lands in the token; one they lack is invalid_scope."""
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc, scope="openid articles:read")
    assert jose.peek_claims(body["access_token"])["permissions"] == {"articles": ["read"]}
    await kit.add_user(oidc_app, "mary", "password456", permissions={"profile": ["read"]})
    oidc.cookies.clear()
    params = auth_params(scope="openid articles:read")
    response = await sign_in(oidc, params, "mary", "password456")
    assert response.status_code == 303
    assert query(response.headers["location"])["error"] == "invalid_scope"
