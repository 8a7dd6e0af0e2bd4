"""POST /oauth/token as standard OAuth 2.0 clients use it (RFC 6749, form encoding)."""

from typing import Any

import httpx
import pytest

from jotauth import jose

pytestmark = pytest.mark.anyio


async def test_password_grant(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """grant_type=password answers an RFC 6749 5.1 response; the registered client_id lands
    in the token."""
    from jotauth.issuer.services.clients import ClientSpec

    await kit.add_user(app)
    spec = ClientSpec("SPA", type="public", grant_types=("password", "refresh_token"))
    await app.state.clients.register(spec, client_id="spa")
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "john",
            "password": "password123",
            "client_id": "spa",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    assert jose.peek_claims(body["access_token"])["client_id"] == "spa"


async def test_password_grant_refuses_a_scope_the_user_does_not_hold(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A requested scope the user does not hold is invalid_scope (RFC 6749 5.2), not dropped."""
    await kit.add_user(app)
    for scope in ("articles:read admin:write", "admin:write", "openid"):
        refused = await client.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "john", "password": "password123",
                  "scope": scope},
        )  # fmt: skip
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_scope"
        assert "scope" in refused.json()["error_description"]


async def _narrowed(client: httpx.AsyncClient, username: str, password: str, scope: str) -> Any:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": username, "password": password,
              "scope": scope},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_narrowed_scope_narrows_the_whole_token(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """An admin's scope=audit:read token still held {"admin": ["*"]} and opened /admin/users;
    now permissions and roles match the scope, at login and at every refresh."""
    await kit.add_user(
        app, "root", "root-password", roles=["admin"],
        permissions={"admin": ["*"], "audit": ["read"], "articles": ["*"]},
    )  # fmt: skip
    body = await _narrowed(client, "root", "root-password", "audit:read")
    claims = jose.peek_claims(body["access_token"])
    assert body["scope"] == claims["scope"] == "audit:read"
    assert claims["permissions"] == {"audit": ["read"]}
    assert claims["roles"] == []
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/admin/users", headers=headers)).status_code == 403
    assert (await client.get("/admin/audit", headers=headers)).status_code == 403
    me = (await client.get("/me", headers=headers)).json()
    assert me["permissions"] == {"audit": ["read"]}
    refreshed = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    )
    again = jose.peek_claims(refreshed.json()["access_token"])
    assert again["scope"] == "audit:read"
    assert again["permissions"] == {"audit": ["read"]}
    assert again["roles"] == []
    wildcard = await _narrowed(
        client, "root", "root-password", "articles:read articles.comments:delete"
    )
    assert jose.peek_claims(wildcard["access_token"])["permissions"] == {
        "articles": ["read"], "articles.comments": ["delete"]
    }  # fmt: skip


async def test_john_narrowed_to_read_cannot_create_at_a_guard(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """john's scope=articles:read token passes a guard's articles:read and not articles:create."""
    from jotauth.guard import Guard, InsufficientScopeError

    await kit.add_user(app)
    body = await _narrowed(client, "john", "password123", "articles:read")
    keys = jose.KeySet.from_jwks((await client.get("/.well-known/jwks.json")).json())
    guard = Guard(keys=keys, issuer="http://testserver", audience="jotauth",
                  clock=app.state.auth.clock)  # fmt: skip
    principal = guard.authenticate_sync(body["access_token"])
    guard.authorize(principal, ["articles:read"])
    with pytest.raises(InsufficientScopeError):
        guard.authorize(principal, ["articles:create"])


async def test_refresh_grant(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """grant_type=refresh_token rotates like /refresh."""
    await kit.add_user(app)
    pair = await kit.login(client)
    response = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    )
    assert response.status_code == 200
    assert response.json()["refresh_token"] != pair["refresh_token"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password", "username": "john", "password": "bad"}, 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "x" * 43}, 400, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "code": "x"}, 401, "invalid_client"),
        ({"username": "john"}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "john"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
    ],
)
async def test_oauth_errors(
    app: Any,
    client: httpx.AsyncClient,
    kit: Any,
    form: dict[str, str],
    status: int,
    error: str,
) -> None:
    """RFC 6749 5.2 error codes with status 400."""
    await kit.add_user(app)
    response = await client.post("/oauth/token", data=form)
    assert response.status_code == status
    assert response.json()["error"] == error


async def test_oauth_wants_form_encoding(client: httpx.AsyncClient) -> None:
    """JSON to the token endpoint is 415 invalid_request."""
    response = await client.post("/oauth/token", json={"grant_type": "password"})
    assert response.status_code == 415
    assert response.json()["error"] == "invalid_request"


async def test_oauth_repeated_parameter(client: httpx.AsyncClient) -> None:
    """A repeated parameter is invalid_request (RFC 6749 3.2)."""
    response = await client.post(
        "/oauth/token",
        content=b"grant_type=password&grant_type=refresh_token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
