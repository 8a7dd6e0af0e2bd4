"""The password grant is off by default (RFC 9700 2.4), on in demo mode or when turned on;
refresh tokens stay bound to the client that got them."""

import base64
from typing import Any

import httpx
import pytest

from jotauth.issuer.app import create_app
from jotauth.issuer.services.clients import ClientSpec
from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio

PASSWORD = {"grant_type": "password", "username": "john", "password": "password123"}


@pytest.mark.parametrize(("mode", "value", "enabled"), [
    ("production", None, False), ("dev", None, False), ("demo", None, True),
    ("production", True, True), ("demo", False, False),
])  # fmt: skip
def test_the_setting(mode: str, value: bool | None, enabled: bool) -> None:
    """None means: on in demo mode only; an explicit value wins."""
    assert Settings(mode=mode, password_grant=value).password_grant_enabled is enabled


def test_the_environment_variable() -> None:
    """JOTAUTH_PASSWORD_GRANT takes true/false strictly; empty means the default."""
    from jotauth.issuer.errors import ConfigurationError

    assert Settings.from_env({"JOTAUTH_PASSWORD_GRANT": "true"}).password_grant is True
    assert Settings.from_env({"JOTAUTH_PASSWORD_GRANT": "0"}).password_grant is False
    assert Settings.from_env({"JOTAUTH_PASSWORD_GRANT": ""}).password_grant is None
    with pytest.raises(ConfigurationError, match="JOTAUTH_PASSWORD_GRANT"):
        Settings.from_env({"JOTAUTH_PASSWORD_GRANT": "maybe"})


async def test_off_by_default(sqlite_url: str, kit: Any, clock: Any) -> None:
    """Production default: unsupported_grant_type saying how to turn it on; /login works."""
    app = create_app(kit.make_settings(sqlite_url, password_grant=None), clock=clock)
    try:
        await kit.add_user(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            refused = await c.post("/oauth/token", data=PASSWORD)
            assert refused.status_code == 400
            assert refused.json()["error"] == "unsupported_grant_type"
            assert "JOTAUTH_PASSWORD_GRANT=true" in refused.json()["error_description"]
            incomplete = await c.post("/oauth/token", data={"grant_type": "password"})
            assert incomplete.json()["error"] == "unsupported_grant_type"
            assert (await kit.login(c))["access_token"]
            doc = (await c.get("/.well-known/oauth-authorization-server")).json()
            assert "password" not in doc["grant_types_supported"]
    finally:
        app.state.store.close()


async def test_a_confidential_clients_refresh_token_needs_the_client(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """RFC 6749 6: a confidential client's refresh token without its credentials (at
    /oauth/token or at /refresh) is invalid_client and spends nothing; with another client's
    credentials invalid_grant; with its own, rotated."""
    await kit.add_user(app)
    record, secret = await app.state.clients.register(
        ClientSpec("web", grant_types=("password", "refresh_token"))
    )
    other, other_secret = await app.state.clients.register(
        ClientSpec("other", grant_types=("password", "refresh_token"))
    )

    def basic(client_id: str, value: str | None) -> dict[str, str]:
        raw = base64.b64encode(f"{client_id}:{value}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    pair = await client.post("/oauth/token", data=PASSWORD,
                             headers=basic(record.client_id, secret))  # fmt: skip
    assert pair.status_code == 200, pair.text
    refresh = {"grant_type": "refresh_token", "refresh_token": pair.json()["refresh_token"]}
    bare = await client.post("/oauth/token", data=refresh)
    assert (bare.status_code, bare.json()["error"]) == (401, "invalid_client")
    # The tutorial's /refresh takes no client credentials: not a way around them either.
    tutorial = await client.post("/refresh", json={"refresh_token": refresh["refresh_token"]})
    assert (tutorial.status_code, tutorial.json()["error"]) == (401, "invalid_client")
    stolen = await client.post("/oauth/token", data=refresh,
                               headers=basic(other.client_id, other_secret))  # fmt: skip
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    own = await client.post("/oauth/token", data=refresh, headers=basic(record.client_id, secret))
    assert own.status_code == 200, own.text


async def test_client_scopes_bound_the_password_grant(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A client registered with scopes may not ask for more than them."""
    await kit.add_user(app)
    spa, _ = await app.state.clients.register(
        ClientSpec("spa", type="public", grant_types=("password",), scopes=("articles:read",))
    )
    form = {**PASSWORD, "client_id": spa.client_id}
    wide = await client.post("/oauth/token", data={**form, "scope": "articles:create"})
    assert (wide.status_code, wide.json()["error"]) == (400, "invalid_scope")
    ok = await client.post("/oauth/token", data={**form, "scope": "articles:read"})
    assert ok.status_code == 200
