"""UserInfo, and a discovery document that advertises exactly what exists."""

from typing import Any

import httpx
import pytest
from tests.issuer.oidc_support import REDIRECT, auth_params, full_flow, query

pytestmark = pytest.mark.anyio


async def test_userinfo_needs_the_openid_scope(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """An access token from /login (no openid scope) is insufficient_scope; none is 401."""
    await kit.add_user(oidc_app)
    plain = await oidc.post("/login", json={"username": "john", "password": "password123"})
    response = await oidc.get("/oauth/userinfo", headers=kit.bearer(plain.json()["access_token"]))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert (await oidc.get("/oauth/userinfo")).status_code == 401
    bad = await oidc.get("/oauth/userinfo", headers=kit.bearer("not.a.token"))
    assert bad.status_code == 401


async def test_userinfo_releases_claims_by_scope(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """openid alone: sub only; profile adds preferred_username (never ``username``)."""
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc, scope="openid")
    only = await oidc.post("/oauth/userinfo", headers=kit.bearer(body["access_token"]))
    assert only.json() == {"sub": "1"}
    assert only.headers["cache-control"] == "no-store"


async def test_an_id_token_is_no_access_token(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """The guard refuses an ID token as a bearer token (other keys, other typ)."""
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc)
    assert (
        await oidc.get("/oauth/userinfo", headers=kit.bearer(body["id_token"]))
    ).status_code == 401
    assert (await oidc.get("/me", headers=kit.bearer(body["id_token"]))).status_code == 401


async def test_discovery_advertises_exactly_what_exists(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """Every advertised endpoint answers as advertised; every advertised response type,
    PKCE method, grant and signing algorithm works."""
    await kit.add_user(oidc_app)
    doc = (await oidc.get("/.well-known/openid-configuration")).json()
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "username" not in doc["claims_supported"]
    assert "preferred_username" in doc["claims_supported"]
    base = "http://testserver"

    def path(name: str) -> str:
        assert doc[name].startswith(base)
        return str(doc[name][len(base) :])

    tokens, _ = await full_flow(oidc)  # authorization_endpoint + token_endpoint, code + S256
    from jotauth import jose

    assert (
        jose.peek_header(tokens["id_token"])["alg"] in doc["id_token_signing_alg_values_supported"]
    )
    jwks = await oidc.get(path("jwks_uri"))
    assert jose.peek_header(tokens["id_token"])["kid"] in {k["kid"] for k in jwks.json()["keys"]}
    for method in ("GET", "POST"):
        info = await oidc.request(
            method, path("userinfo_endpoint"), headers=kit.bearer(tokens["access_token"])
        )
        assert info.status_code == 200
    feed = await oidc.get(
        path("jotauth_revocations_endpoint"), headers=kit.bearer("feed-secret-0123456789")
    )
    assert feed.status_code == 200
    for grant in doc["grant_types_supported"]:
        data = {"grant_type": grant}
        if grant == "refresh_token":
            data["refresh_token"] = tokens["refresh_token"]
        elif grant == "password":
            data.update(username="john", password="password123")
        else:
            continue  # authorization_code: exercised by full_flow above
        assert (await oidc.post(path("token_endpoint"), data=data)).status_code == 200, grant
    me = await oidc.get(path("jotauth_me_endpoint"), headers=kit.bearer(tokens["access_token"]))
    assert me.status_code == 200
    login = await oidc.post(
        path("jotauth_login_endpoint"), json={"username": "john", "password": "password123"}
    )
    assert login.status_code == 200
    refreshed = await oidc.post(
        path("jotauth_refresh_endpoint"), json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    params = auth_params()
    assert (await oidc.get(path("authorization_endpoint"), params=params)).status_code == 302
    out = await oidc.get(path("end_session_endpoint"), params={"id_token_hint": tokens["id_token"]})
    assert out.status_code == 200
    assert "signed out" in out.text
    silent = await oidc.get(path("authorization_endpoint"), params={**params, "prompt": "none"})
    assert silent.headers["location"].startswith(REDIRECT)
    assert query(silent.headers["location"])["error"] == "login_required"


async def test_without_a_client_registry_nobody_is_redirected(client: httpx.AsyncClient) -> None:
    """The default app (no registry wired) knows no client: the error page."""
    response = await client.get("/oauth/authorize", params=auth_params())
    assert response.status_code == 400
    assert "location" not in response.headers
    token = await client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": "c",
            "redirect_uri": REDIRECT,
            "code_verifier": "v" * 43,
            "client_id": "app-a",
        },
    )
    assert token.status_code == 401
    assert token.json()["error"] == "invalid_client"
