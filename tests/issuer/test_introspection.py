"""RFC 7662 introspection and RFC 7009 revocation, client-authenticated."""

import base64
from typing import Any

import httpx
import pytest

from jotauth.issuer.services.clients import ClientSpec

pytestmark = pytest.mark.anyio


def basic(client_id: str, secret: str | None) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def _service(app: Any, audiences: tuple[str, ...] = ("billing-api",)) -> dict[str, str]:
    record, secret = await app.state.clients.register(
        ClientSpec("svc", scopes=("a:read",), audiences=audiences, tier="gold", rate_limit=5)
    )
    return basic(record.client_id, secret)


async def _token(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def _introspect(client: httpx.AsyncClient, headers: dict[str, str], token: str) -> Any:
    response = await client.post("/oauth/introspect", data={"token": token}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def test_introspect_an_active_service_token(app: Any, client: httpx.AsyncClient) -> None:
    """RFC 7662 2.2 fields for a live token of the asking client's audience."""
    headers = await _service(app)
    token = await _token(client, headers)
    body = await _introspect(client, headers, token)
    assert body["active"] is True
    assert body["scope"] == "a:read"
    assert body["aud"] == "billing-api"
    assert body["sub"] == body["client_id"]
    assert body["token_type"] == "Bearer"
    assert body["tier"] == "gold"
    assert body["rate_limit"] == {"requests": 5, "window": 60}
    assert {"exp", "iat", "iss", "jti"} <= set(body)


async def test_inactive_answers_say_nothing_else(
    app: Any, client: httpx.AsyncClient, clock: Any
) -> None:
    """Unknown, malformed, other-audience, expired and revoked tokens: {"active": false}."""
    headers = await _service(app)
    other = await _service(app, ("payroll-api",))
    token = await _token(client, headers)
    assert await _introspect(client, other, token) == {"active": False}
    assert await _introspect(client, headers, "x" * 43) == {"active": False}
    assert await _introspect(client, headers, "a.b.c") == {"active": False}
    assert await _introspect(client, headers, "é") == {"active": False}
    revoked = await _token(client, headers)
    assert (await client.post("/oauth/revoke", data={"token": revoked},
                              headers=headers)).status_code == 200  # fmt: skip
    assert await _introspect(client, headers, revoked) == {"active": False}
    assert (await _introspect(client, headers, token))["active"] is True
    clock.advance(app.state.settings.access_ttl + 1)
    assert await _introspect(client, headers, token) == {"active": False}


async def test_introspection_needs_client_authentication(
    app: Any, client: httpx.AsyncClient
) -> None:
    """No client, a wrong secret: 401 invalid_client; no token parameter: 400."""
    headers = await _service(app)
    token = await _token(client, headers)
    for path in ("/oauth/introspect", "/oauth/revoke"):
        anonymous = await client.post(path, data={"token": token})
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "invalid_client"
        wrong = await client.post(path, data={"token": token}, headers=basic("someone", "nope"))
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Basic ")
        missing = await client.post(path, data={"token": ""}, headers=headers)
        assert missing.status_code == 400
        assert missing.json()["error"] == "invalid_request"


async def test_user_tokens_and_their_refresh_tokens(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A resource server of audience "jotauth" sees user access tokens; a refresh token is
    active only to the client it was issued to, and a revoked refresh token ends its family."""
    await kit.add_user(app)
    resource = await _service(app, ("jotauth",))
    spa, _ = await app.state.clients.register(
        ClientSpec("SPA", type="public", grant_types=("password", "refresh_token"))
    )
    pair = (await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "john", "password": "password123",
              "client_id": spa.client_id},
    )).json()  # fmt: skip
    access = await _introspect(client, resource, pair["access_token"])
    assert access["active"] is True
    assert access["username"] == "john"
    assert access["client_id"] == spa.client_id
    public = {"client_id": spa.client_id}
    as_spa = await client.post("/oauth/introspect",
                               data={"token": pair["refresh_token"], **public})  # fmt: skip
    body = as_spa.json()
    assert body["active"] is True
    assert body["client_id"] == spa.client_id
    assert body["username"] == "john"
    assert await _introspect(client, resource, pair["refresh_token"]) == {"active": False}
    # another client's revocation of it is ignored (still 200)
    ignored = await client.post("/oauth/revoke", data={"token": pair["refresh_token"]},
                                headers=resource)  # fmt: skip
    assert ignored.status_code == 200
    assert (await client.post("/oauth/introspect", data={"token": pair["refresh_token"],
                                                         **public})).json()["active"]  # fmt: skip
    revoked = await client.post(
        "/oauth/revoke",
        data={"token": pair["refresh_token"], "token_type_hint": "refresh_token", **public},
    )
    assert revoked.status_code == 200
    assert revoked.json() == {}
    gone = await client.post("/oauth/introspect", data={"token": pair["refresh_token"], **public})
    assert gone.json() == {"active": False}
    # the family's access token died with it (a session event in the feed)
    assert await _introspect(client, resource, pair["access_token"]) == {"active": False}
    refresh = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"], **public},
    )
    assert refresh.status_code == 400


async def test_revoking_an_access_token_is_published(app: Any, client: httpx.AsyncClient) -> None:
    """RFC 7009 for an access token: its jti goes into the feed; unknown tokens are 200 too."""
    headers = await _service(app)
    token = await _token(client, headers)
    from jotauth import jose

    jti = jose.peek_claims(token)["jti"]
    assert (await client.post("/oauth/revoke", data={"token": token},
                              headers=headers)).status_code == 200  # fmt: skip
    events = app.state.store.revocations_after(0, now=app.state.auth.clock())
    assert [(e.type, e.jti) for e in events] == [("token", jti)]
    for junk in ("unknown-refresh-token-xxxxxxxxxxxxxxxx", "a.b.c", "x"):
        answer = await client.post("/oauth/revoke", data={"token": junk}, headers=headers)
        assert answer.status_code == 200
    assert len(app.state.store.revocations_after(0, now=app.state.auth.clock())) == 1
    feed = await client.get(
        "/revocations", headers={"Authorization": "Bearer feed-secret-0123456789"}
    )
    assert {"type": "token", "jti": jti, "exp": jose.peek_claims(token)["exp"]} in feed.json()[
        "events"
    ]


async def test_another_clients_access_token_is_not_revoked(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Client B cannot revoke client A's token (200, nothing happens)."""
    one = await _service(app)
    two = await _service(app)
    token = await _token(client, one)
    assert (await client.post("/oauth/revoke", data={"token": token},
                              headers=two)).status_code == 200  # fmt: skip
    assert (await _introspect(client, one, token))["active"] is True


async def test_a_disabled_clients_tokens_stay_dead_after_it_is_enabled(
    app: Any, client: httpx.AsyncClient, clock: Any
) -> None:
    """Disabling revokes the client's tokens for good; after enabling, new tokens are active
    once the other workers' copies of the client have expired (JOTAUTH_CLIENT_CACHE_SECONDS:
    tokens issued in that window die with the disabling, since a worker with an old copy
    could have issued them)."""
    resource = await _service(app, ("billing-api",))
    record, secret = await app.state.clients.register(
        ClientSpec("svc", scopes=("a:read",), audiences=("billing-api",))
    )
    headers = basic(record.client_id, secret)
    old = await _token(client, headers)
    await app.state.clients.set_disabled(record.client_id, True)
    assert await _introspect(client, resource, old) == {"active": False}
    await app.state.clients.set_disabled(record.client_id, False)
    too_soon = await _token(client, headers)
    assert await _introspect(client, resource, too_soon) == {"active": False}
    clock.advance(app.state.settings.client_cache_seconds + 2)
    assert await _introspect(client, resource, old) == {"active": False}
    new = await _token(client, headers)
    assert (await _introspect(client, resource, new))["active"] is True
