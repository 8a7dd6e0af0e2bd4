"""What a client registers for its tokens: its ID tokens' algorithm, its access lifetime."""

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from click.testing import CliRunner
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet as JoserfcKeySet
from tests.issuer.oidc_support import Client, full_flow

from jotauth import jose
from jotauth.cli.main import main
from jotauth.issuer.errors import InvalidRequestError
from jotauth.issuer.services.clients import ClientSpec, validate_spec

pytestmark = pytest.mark.anyio

ADMIN = {"admin": ["*"]}


async def _jwks(oidc: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await oidc.get("/.well-known/jwks.json")).json()
    return body


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")  # joserfc's; the name stays
async def test_an_eddsa_client_gets_eddsa_id_tokens_that_joserfc_verifies(
    oidc_app: Any, oidc: httpx.AsyncClient, clients: Any, kit: Any
) -> None:
    """An ID token for an EdDSA client is EdDSA, and verifies with joserfc against the JWKS."""
    clients.add(Client("ed-app", id_token_signed_response_alg="EdDSA"))
    await kit.add_user(oidc_app)
    body, params = await full_flow(oidc, "ed-app")
    assert jose.peek_header(body["id_token"])["alg"] == "EdDSA"
    keys = JoserfcKeySet.import_key_set(await _jwks(oidc))
    token = joserfc_jwt.decode(body["id_token"], keys, algorithms=["EdDSA"])
    joserfc_jwt.JWTClaimsRegistry(
        now=int(kit.start),
        iss={"essential": True, "value": "http://testserver"},
        aud={"essential": True, "value": "ed-app"},
        nonce={"essential": True, "value": params["nonce"]},
    ).validate(token.claims)


async def test_an_es256_client_gets_es256_id_tokens_that_pyjwt_verifies(
    oidc_app: Any, oidc: httpx.AsyncClient, clients: Any, kit: Any
) -> None:
    """An ES256 client's ID token is signed by the ES256 ring, found by kid in the JWKS."""
    clients.add(Client("ec-app", id_token_signed_response_alg="ES256"))
    await kit.add_user(oidc_app)
    body, params = await full_flow(oidc, "ec-app")
    header = jose.peek_header(body["id_token"])
    assert header["alg"] == "ES256"
    (jwk,) = [k for k in (await _jwks(oidc))["keys"] if k["kid"] == header["kid"]]
    claims = pyjwt.decode(
        body["id_token"],
        pyjwt.PyJWK(jwk).key,
        algorithms=["ES256"],
        audience="ec-app",
        issuer="http://testserver",
        options={"verify_exp": False, "verify_iat": False},  # the test clock is not now
    )
    assert claims["nonce"] == params["nonce"]


async def test_a_default_client_keeps_rs256_and_discovery_lists_what_can_be_signed(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """No choice is RS256; discovery names every algorithm a client can be given."""
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc)
    assert jose.peek_header(body["id_token"])["alg"] == "RS256"
    doc = (await oidc.get("/.well-known/openid-configuration")).json()
    published = {k["alg"] for k in (await _jwks(oidc))["keys"]}
    assert set(doc["id_token_signing_alg_values_supported"]) <= published
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256", "EdDSA"]


def test_an_unknown_algorithm_is_refused_at_registration() -> None:
    """HS256 (a shared secret), none or a typo: a clear error naming what may be chosen."""
    for alg in ("HS256", "none", "RS257"):
        spec = ClientSpec("app", audiences=("api",), id_token_signed_response_alg=alg)
        with pytest.raises(InvalidRequestError) as caught:
            validate_spec(spec)
        assert "id_token_signed_response_alg must be one of RS256, ES256, EdDSA" in str(
            caught.value
        )


async def test_the_admin_api_takes_and_shows_the_algorithm(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """POST /admin/clients keeps the choice, shows RS256 by default, refuses an unknown one."""
    await kit.add_user(app, "root", "root-password", roles=["admin"], permissions=ADMIN)
    admin = kit.bearer((await kit.login(client, "root", "root-password"))["access_token"])
    base = {"name": "web", "grant_types": ["authorization_code"],
            "redirect_uris": ["https://web.example/cb"]}  # fmt: skip
    made = await client.post(
        "/admin/clients", json={**base, "id_token_signed_response_alg": "EdDSA"}, headers=admin
    )
    assert made.status_code == 201, made.text
    assert made.json()["id_token_signed_response_alg"] == "EdDSA"
    assert app.state.store.get_client(made.json()["client_id"]).id_token_signed_response_alg == (
        "EdDSA"
    )
    default = await client.post("/admin/clients", json=base, headers=admin)
    assert default.json()["id_token_signed_response_alg"] == "RS256"
    refused = await client.post(
        "/admin/clients", json={**base, "id_token_signed_response_alg": "HS256"}, headers=admin
    )
    assert refused.status_code in (400, 422)
    assert "id_token_signed_response_alg" in refused.text
    assert "EdDSA" in refused.text


def test_the_cli_takes_the_algorithm_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    """``jotauth client add --id-token-alg ES256`` keeps it; an unknown one is exit 2."""
    env = {
        "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "JOTAUTH_MASTER_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
    }
    web = ["client", "add", "web", "--grant", "authorization_code",
           "--redirect-uri", "https://web.example/cb", "--json"]  # fmt: skip
    runner = CliRunner()
    added = runner.invoke(main, [*web, "--id-token-alg", "ES256"], env=env)
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["id_token_signed_response_alg"] == "ES256"
    refused = runner.invoke(main, [*web, "--id-token-alg", "HS256"], env=env)
    assert refused.exit_code == 2
    assert "'HS256' is not one of 'RS256', 'ES256', 'EdDSA'" in refused.output


# -- access_ttl in the code flow -----------------------------------------------------------


async def test_the_code_flow_and_its_refresh_keep_the_clients_access_ttl(
    oidc_app: Any, oidc: httpx.AsyncClient, clients: Any, kit: Any
) -> None:
    """A client's access_ttl (here 120 s, the server's is longer) sets the lifetime of the code
    flow's access tokens and of every refresh of them, and the expires_in that says so."""
    assert oidc_app.state.settings.access_ttl != 120
    clients.add(Client("short", access_ttl=120))
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc, "short")
    claims = jose.peek_claims(body["access_token"])
    assert claims["exp"] - claims["iat"] == 120
    assert body["expires_in"] == 120
    refreshed = await oidc.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    again = jose.peek_claims(refreshed.json()["access_token"])
    assert again["exp"] - again["iat"] == 120
    assert refreshed.json()["expires_in"] == 120


async def test_revoking_a_long_lived_session_outlasts_its_last_token(
    oidc_app: Any, oidc: httpx.AsyncClient, clients: Any, kit: Any
) -> None:
    """A client whose tokens live longer than the server's (2 h): revoking its session
    publishes a session event until after its tokens' exp, so no token comes back to life
    when the server's own lifetime has passed."""
    ttl = 7200
    assert oidc_app.state.settings.access_ttl < ttl
    clients.add(Client("long", access_ttl=ttl))
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc, "long")
    claims = jose.peek_claims(body["access_token"])
    assert claims["exp"] - claims["iat"] == ttl
    oidc_app.state.auth.tokens.revoke_session(claims["sid"], reason="admin")
    events = oidc_app.state.store.revocations_after(0, now=kit.start)
    (session,) = [e for e in events if e.type == "session" and e.sid == claims["sid"]]
    assert session.exp is not None
    assert session.exp >= claims["exp"]


async def test_logging_out_of_a_long_lived_session_outlasts_its_last_token(
    oidc_app: Any, oidc: httpx.AsyncClient, clients: Any, kit: Any
) -> None:
    """Logout with one of the session's access tokens (and its refresh token) publishes a
    session event that lasts past the exp of the session's tokens (2 h here)."""
    clients.add(Client("long", access_ttl=7200))
    await kit.add_user(oidc_app)
    body, _ = await full_flow(oidc, "long")
    claims = jose.peek_claims(body["access_token"])
    oidc_app.state.auth.tokens.logout(claims, body["refresh_token"])
    events = oidc_app.state.store.revocations_after(0, now=kit.start)
    (session,) = [e for e in events if e.type == "session" and e.sid == claims["sid"]]
    assert session.exp is not None
    assert session.exp >= claims["exp"]
