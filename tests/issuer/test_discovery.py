"""RFC 8414 metadata advertises exactly what exists: a test uses every advertised endpoint,
grant and client authentication method, and finds nothing advertised that is missing."""

import base64
import secrets
from typing import Any

import httpx
import pytest

from jotauth import jose
from jotauth.issuer.services.client_auth import ASSERTION_TYPE
from jotauth.issuer.services.clients import ClientSpec

pytestmark = pytest.mark.anyio

KEY = jose.Key.generate("EdDSA")


async def _clients(app: Any) -> dict[str, tuple[str, str | None]]:
    """One client per authentication method, each allowed every grant it can have."""
    made: dict[str, tuple[str, str | None]] = {}
    for method in ("client_secret_basic", "client_secret_post", "private_key_jwt"):
        record, secret = await app.state.clients.register(ClientSpec(
            method, token_endpoint_auth_method=method,
            grant_types=("client_credentials", "password", "refresh_token"),
            scopes=("articles:read",), audiences=("jotauth", "api"),
            jwks={"keys": [KEY.public().to_jwk()]} if method == "private_key_jwt" else None,
        ))  # fmt: skip
        made[method] = (record.client_id, secret)
    public, _ = await app.state.clients.register(
        ClientSpec("spa", type="public", grant_types=("password", "refresh_token"))
    )
    made["none"] = (public.client_id, None)
    return made


def _auth(method: str, client_id: str, secret: str | None, now: float) -> dict[str, Any]:
    """Request keyword arguments that authenticate ``client_id`` with ``method``."""
    if method == "client_secret_basic":
        raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return {"headers": {"Authorization": f"Basic {raw}"}, "data": {}}
    if method == "client_secret_post":
        return {"data": {"client_id": client_id, "client_secret": secret}}
    if method == "private_key_jwt":
        assertion = jose.encode(
            {"iss": client_id, "sub": client_id, "aud": "http://testserver/oauth/token",
             "exp": int(now) + 60, "jti": secrets.token_urlsafe(8)}, KEY,
        )  # fmt: skip
        return {"data": {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}}
    return {"data": {"client_id": client_id}}


async def _post(client: httpx.AsyncClient, url: str, auth: dict[str, Any], **form: str) -> Any:
    response = await client.post(
        url, data={**auth["data"], **form}, headers=auth.get("headers", {})
    )
    assert response.status_code == 200, (url, form, response.text)
    return response.json()


async def test_every_advertised_endpoint_grant_and_method_works(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Both metadata documents agree; each grant succeeds with each method that may use it;
    introspection and revocation answer with each method; the JWKS and feed answer."""
    await kit.add_user(app, permissions={"articles": ["read"]})
    clients = await _clients(app)
    now = app.state.auth.clock()
    rfc8414 = (await client.get("/.well-known/oauth-authorization-server")).json()
    oidc = (await client.get("/.well-known/openid-configuration")).json()
    assert rfc8414 == oidc
    assert rfc8414["issuer"] == "http://testserver"
    # The clients' scopes and OpenID Connect's own (the client here may ask articles:read).
    assert rfc8414["scopes_supported"] == ["articles:read", "email", "openid", "profile"]
    assert rfc8414["response_types_supported"] == ["code"]
    assert set(rfc8414["grant_types_supported"]) == {"authorization_code", "client_credentials",
                                                     "refresh_token", "password"}  # fmt: skip
    methods = rfc8414["token_endpoint_auth_methods_supported"]
    assert set(methods) == set(clients)
    token_url = rfc8414["token_endpoint"]
    used: set[tuple[str, str]] = set()
    for method in methods:
        client_id, secret = clients[method]
        refresh_token = None
        # refresh_token last: it needs the refresh token the password grant gave
        for grant in sorted(rfc8414["grant_types_supported"], key="refresh_token".__eq__):
            if grant == "client_credentials" and method == "none":
                continue  # a public client has no credentials (registration refuses it)
            if grant == "authorization_code":
                # needs a browser at the authorization endpoint: test_userinfo_discovery.py
                # and test_authorization_code.py run it, with PKCE, end to end
                continue
            auth = _auth(method, client_id, secret, now)
            if grant == "client_credentials":
                body = await _post(client, token_url, auth, grant_type=grant)
            elif grant == "password":
                body = await _post(client, token_url, auth, grant_type=grant, username="john",
                                   password="password123")  # fmt: skip
                refresh_token = body["refresh_token"]
            else:
                assert refresh_token is not None
                body = await _post(client, token_url, auth, grant_type=grant,
                                   refresh_token=refresh_token)  # fmt: skip
            assert body["access_token"]
            used.add((grant, method))
        for endpoint in ("introspection_endpoint", "revocation_endpoint"):
            assert (
                method in rfc8414[endpoint.replace("endpoint", "endpoint_auth_methods_supported")]
            )
            auth = _auth(method, client_id, secret, now)
            await _post(client, rfc8414[endpoint], auth, token="unknown-token-" + "x" * 30)
    assert len(used) == 11  # 3 grants x 4 methods, less client_credentials for "none"
    assert (await client.get(rfc8414["jwks_uri"])).json()["keys"]
    feed = await client.get(rfc8414["jotauth_revocations_endpoint"],
                            headers={"Authorization": "Bearer feed-secret-0123456789"})  # fmt: skip
    assert feed.status_code == 200
