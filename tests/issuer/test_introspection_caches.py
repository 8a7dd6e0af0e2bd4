"""The client cache and the revocation view behind introspection: what is at once, what lags.

"Another process" is a second ``SQLStore`` on the same database: its changes reach this
server only through the database, as another worker's or the CLI's do.
"""

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jotauth.issuer.app import create_app
from jotauth.issuer.services.client_cache import ClientCache
from jotauth.issuer.services.clients import ClientSpec
from jotauth.store.records import ClientRecord
from jotauth.store.sql import SQLStore

pytestmark = pytest.mark.anyio


def _basic(client_id: str, secret: str | None) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def _register(app: Any, name: str = "svc") -> tuple[str, dict[str, str]]:
    record, secret = await app.state.clients.register(
        ClientSpec(name, scopes=("a:read",), audiences=("billing-api",))
    )
    return record.client_id, _basic(record.client_id, secret)


async def _token(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )


async def _active(client: httpx.AsyncClient, headers: dict[str, str], token: str) -> bool:
    response = await client.post("/oauth/introspect", data={"token": token}, headers=headers)
    assert response.status_code == 200, response.text
    active: bool = response.json()["active"]
    return active


@pytest.fixture
def other(app: Any) -> Iterator[SQLStore]:
    """Another process's store on the app's database."""
    store = SQLStore.from_url(app.state.settings.database_url, migrate_now=False)
    yield store
    store.close()


async def test_a_client_disabled_in_this_process_is_refused_at_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Cached a moment ago, disabled through the registry: the next request is refused."""
    client_id, headers = await _register(app)
    assert (await _token(client, headers)).status_code == 200  # now in the cache
    await app.state.clients.set_disabled(client_id, True)
    assert (await _token(client, headers)).status_code == 401
    await app.state.clients.set_disabled(client_id, False)
    assert (await _token(client, headers)).status_code == 200


async def test_a_secret_rotated_in_this_process_stops_the_old_one_at_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    """After rotate-secret the cached old secret no longer authenticates; the new one does."""
    client_id, old = await _register(app)
    assert (await _token(client, old)).status_code == 200
    _, secret = await app.state.clients.rotate_secret(client_id)
    assert (await _token(client, old)).status_code == 401
    assert (await _token(client, _basic(client_id, secret))).status_code == 200


async def test_another_processs_disabling_lags_by_the_cache_seconds_at_most(
    app: Any, client: httpx.AsyncClient, clock: Any, other: SQLStore
) -> None:
    """Disabled elsewhere: this worker's copy still authenticates the client until it is
    JOTAUTH_CLIENT_CACHE_SECONDS old, then refuses it; its tokens die with the revocation
    view's lag (JOTAUTH_REVOCATION_CACHE_SECONDS), the shorter of the two."""
    settings = app.state.settings
    assert settings.revocation_cache_seconds < settings.client_cache_seconds
    _, resource = await _register(app, "resource")
    client_id, headers = await _register(app)
    token = (await _token(client, headers)).json()["access_token"]
    assert await _active(client, resource, token)
    other.set_client_disabled(client_id, True, now=clock(), ahead=settings.client_cache_seconds)
    assert (await _token(client, headers)).status_code == 200  # the copy, not yet stale
    assert await _active(client, resource, token)  # the view, not yet read again
    clock.advance(settings.revocation_cache_seconds)
    assert not await _active(client, resource, token)
    assert (await _token(client, headers)).status_code == 200
    clock.advance(settings.client_cache_seconds - settings.revocation_cache_seconds)
    assert (await _token(client, headers)).status_code == 401


async def test_a_token_revoked_in_this_process_is_inactive_at_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    """RFC 7009 revocation, then introspection a moment later: inactive, not up to 2 s later."""
    _, headers = await _register(app)
    token = (await _token(client, headers)).json()["access_token"]
    assert await _active(client, headers, token)  # the view is fresh now
    revoked = await client.post("/oauth/revoke", data={"token": token}, headers=headers)
    assert revoked.status_code == 200
    assert not await _active(client, headers, token)


async def test_a_key_revoked_in_this_process_ends_its_tokens_at_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    """An emergency key revocation reaches the view before the next introspection."""
    from jotauth import jose

    _, headers = await _register(app)
    token = (await _token(client, headers)).json()["access_token"]
    assert await _active(client, headers, token)
    app.state.auth.ring.revoke(jose.peek_header(token)["kid"])
    assert not await _active(client, headers, token)


async def test_another_processs_revocation_lags_by_the_view_seconds_at_most(
    app: Any, client: httpx.AsyncClient, clock: Any, other: SQLStore
) -> None:
    """A jti revoked elsewhere is still active here until the view is
    JOTAUTH_REVOCATION_CACHE_SECONDS old, and inactive from then on."""
    from jotauth import jose

    _, headers = await _register(app)
    token = (await _token(client, headers)).json()["access_token"]
    assert await _active(client, headers, token)
    claims = jose.peek_claims(token)
    other.revoke_token(claims["jti"], claims["exp"], now=clock())
    assert await _active(client, headers, token)
    clock.advance(app.state.settings.revocation_cache_seconds)
    assert not await _active(client, headers, token)


async def test_with_both_caches_off_every_request_asks_the_database(
    kit: Any, sqlite_url: str, clock: Any
) -> None:
    """0 seconds: another process's disabling and revocation count at the next request."""
    settings = kit.make_settings(sqlite_url, client_cache_seconds=0, revocation_cache_seconds=0)
    app = create_app(settings, clock=clock, sleep=clock.advance)
    other = SQLStore.from_url(sqlite_url, migrate_now=False)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            _, resource = await _register(app, "resource")
            client_id, headers = await _register(app)
            token = (await _token(client, headers)).json()["access_token"]
            assert await _active(client, resource, token)
            from jotauth import jose

            claims = jose.peek_claims(token)
            other.revoke_token(claims["jti"], claims["exp"], now=clock())
            assert not await _active(client, resource, token)
            other.set_client_disabled(client_id, True, now=clock())
            assert (await _token(client, headers)).status_code == 401
    finally:
        other.close()
        app.state.store.close()


def _record(client_id: str) -> ClientRecord:
    return ClientRecord(
        client_id=client_id, name=client_id, type="confidential",
        token_endpoint_auth_method="client_secret_basic", audiences=["api"],
    )  # fmt: skip


def test_the_cache_is_bounded(store: SQLStore, clock: Any) -> None:
    """Past max_entries the least recently used client goes; unknown ids count too."""
    for name in ("a", "b"):
        store.create_client(_record(name))
    cache = ClientCache(store, seconds=60, max_entries=2, clock=clock)
    assert cache.get("a") is not None
    assert cache.get("b") is not None
    assert cache.get("made-up") is None
    assert len(cache) == 2
    assert cache.cached("a") == (False, None)  # evicted first
    assert cache.cached("made-up") == (True, None)  # remembered as unknown


def test_a_read_under_way_during_a_change_is_not_kept(store: SQLStore, clock: Any) -> None:
    """A row read before a change committed is answered once but never cached: the next
    read sees the change."""

    class Racing(SQLStore):
        def get_client(self, client_id: str) -> ClientRecord | None:
            found = super().get_client(client_id)
            if found is not None and not found.disabled:  # the change lands mid-read
                self.set_client_disabled(client_id, True, now=clock())
            return found

    racing = Racing(store.engine)
    racing.create_client(_record("a"))
    cache = ClientCache(racing, seconds=60, clock=clock)
    first = cache.get("a")
    assert first is not None
    assert not first.disabled  # what that read saw
    assert cache.cached("a") == (False, None)  # but not kept
    second = cache.get("a")
    assert second is not None
    assert second.disabled


def test_a_clock_set_back_does_not_stretch_the_staleness(store: SQLStore, clock: Any) -> None:
    """A copy from the future (the clock stepped back) is stale, not fresh for longer."""
    store.create_client(_record("a"))
    cache = ClientCache(store, seconds=5, clock=clock)
    cache.get("a")
    clock.advance(-10)
    assert cache.cached("a") == (False, None)


async def test_a_users_token_is_still_checked_in_the_database(
    app: Any, client: httpx.AsyncClient, clock: Any, kit: Any, other: SQLStore
) -> None:
    """A user's access token is no service token: its session ended by another process is
    inactive at the next introspection, with no lag (the user's row is not in the feed)."""
    from jotauth import jose

    record, secret = await app.state.clients.register(
        ClientSpec("resource", audiences=(app.state.settings.audience,))
    )
    resource = _basic(record.client_id, secret)
    await kit.add_user(app)
    token = (await kit.login(client))["access_token"]
    assert await _active(client, resource, token)
    sid = jose.peek_claims(token)["sid"]
    other.revoke_family(sid, now=clock(), reason="admin", until=int(clock()) + 3600)
    assert not await _active(client, resource, token)
