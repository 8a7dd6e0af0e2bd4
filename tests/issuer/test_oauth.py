"""POST /oauth/token as standard OAuth 2.0 clients use it (RFC 6749, form encoding)."""

from typing import Any

import httpx
import pytest

from jotauth import jose

pytestmark = pytest.mark.anyio


async def test_password_grant(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """grant_type=password answers an RFC 6749 5.1 response; client_id lands in the token."""
    await kit.add_user(app)
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


async def test_password_grant_narrows_scope(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """A requested scope is granted only as far as the user holds it."""
    await kit.add_user(app)
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "john",
            "password": "password123",
            "scope": "articles:read admin:write",
        },
    )
    assert response.json()["scope"] == "articles:read"
    refused = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "john", "password": "password123",
              "scope": "admin:write"},
    )  # fmt: skip
    assert refused.status_code == 400


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
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
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
