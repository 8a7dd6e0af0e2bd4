"""Authlib's OAuth 2.0 client, which nobody here wrote, signs in through the provider:
discovery, authorization code + PKCE (S256) with its own state handling, the token request,
the ID token checked with joserfc against the published JWKS, userinfo, refresh.
"""

import secrets
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from tests.issuer.oidc_support import REDIRECT, form_fields, query

from jotauth.issuer.app import create_app

pytestmark = pytest.mark.anyio

with warnings.catch_warnings():  # Authlib 1.9 warns about its own httpx module's future
    warnings.simplefilter("ignore", DeprecationWarning)
    authlib_client = pytest.importorskip("authlib.integrations.httpx_client")


@pytest.fixture
async def provider(sqlite_url: str, kit: Any, clock: Any, clients: Any) -> AsyncIterator[Any]:
    """The provider at https://testserver (the SSO cookie is Secure)."""
    settings = kit.make_settings(sqlite_url, issuer="https://testserver")
    app = clients.bind(create_app(settings, clock=clock, sleep=clock.advance))
    await kit.add_user(app)
    yield app
    app.state.store.close()


async def test_authlib_discovery_code_pkce_userinfo_refresh(provider: Any, kit: Any) -> None:
    """The whole sign-in as a Python web app would run it with Authlib."""
    transport = httpx.ASGITransport(app=provider)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as browser,
        authlib_client.AsyncOAuth2Client(
            client_id="app-a",
            redirect_uri=REDIRECT,
            scope="openid profile",
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
            transport=transport,
        ) as rp,
    ):
        metadata = (
            await rp.request(
                "GET", "https://testserver/.well-known/openid-configuration", withhold_token=True
            )
        ).json()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(12)
        url, state = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        page = await browser.get(url)
        fields = form_fields(page.text)
        fields.update(username="john", password="password123")
        answer = await browser.post("/oauth/authorize", data=fields)
        location = answer.headers["location"]
        assert query(location)["iss"] == metadata["issuer"]  # RFC 9207, checked by the app
        token = await rp.fetch_token(
            metadata["token_endpoint"],
            authorization_response=location,
            code_verifier=verifier,
            state=state,
        )
        jwks = (await rp.request("GET", metadata["jwks_uri"], withhold_token=True)).json()
        decoded = joserfc_jwt.decode(
            token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"]
        )
        registry = joserfc_jwt.JWTClaimsRegistry(
            now=int(kit.start),
            iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": "app-a"},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(decoded.claims)
        info = await rp.get(metadata["userinfo_endpoint"])
        assert info.json() == {"sub": decoded.claims["sub"], "preferred_username": "john"}
        refreshed = await rp.refresh_token(metadata["token_endpoint"])
        assert refreshed["access_token"] != token["access_token"]
