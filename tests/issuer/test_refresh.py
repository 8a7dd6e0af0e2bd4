"""Refresh tokens: rotation, reuse detection, the grace window, racing tabs, lifetimes."""

from typing import Any

import anyio
import httpx
import pytest
from tests.store_facts import live_tokens

from jotauth.issuer.app import create_app
from jotauth.issuer.services.tokens import hash_refresh

pytestmark = pytest.mark.anyio


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/refresh", json={"refresh_token": token})


async def test_refresh_rotates_the_token(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """A refresh answers a new pair; the new access token works; the refresh token changed."""
    await kit.add_user(app)
    first = await kit.login(client)
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    profile = await client.get("/profile", headers=kit.bearer(second["access_token"]))
    assert profile.json() == {"message": "Welcome, john!"}


async def test_refresh_tokens_are_stored_hashed(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """The database holds sha256 of the token, never the token."""
    await kit.add_user(app)
    token = (await kit.login(client))["refresh_token"]
    assert len(token) >= 43  # 256 bits in base64url
    with store.engine.connect() as connection:
        rows = [r[0] for r in connection.exec_driver_sql("SELECT token_hash FROM refresh_tokens")]
    assert rows == [hash_refresh(token)]
    assert token not in rows


async def test_reuse_after_grace_revokes_the_family(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any, store: Any
) -> None:
    """Presenting a rotated token after the grace window kills the whole session."""
    await kit.add_user(app)
    first = await kit.login(client)
    second = (await _refresh(client, first["refresh_token"])).json()
    clock.advance(11)
    reuse = await _refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.json()["error"] == "invalid_grant"
    # The legitimate successor is dead too: the family is revoked.
    assert (await _refresh(client, second["refresh_token"])).status_code == 401
    events = store.list_audit_events(type="refresh_reuse_detected")
    assert len(events) == 1
    assert events[0].user_id == "1"


async def test_reuse_inside_grace_returns_the_same_successor(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any, store: Any
) -> None:
    """A second use within 10 s converges on the successor already issued: no fork."""
    await kit.add_user(app)
    first = await kit.login(client)
    second = (await _refresh(client, first["refresh_token"])).json()
    clock.advance(5)
    racer = await _refresh(client, first["refresh_token"])
    assert racer.status_code == 200
    assert racer.json()["refresh_token"] == second["refresh_token"]
    sid = store.list_families()[0].id
    assert live_tokens(store, sid) == 1
    assert (await _refresh(client, second["refresh_token"])).status_code == 200


async def test_grace_follows_the_chain(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """If the successor was rotated too, the late racer gets the live end of the chain."""
    await kit.add_user(app)
    first = await kit.login(client)
    second = (await _refresh(client, first["refresh_token"])).json()
    third = (await _refresh(client, second["refresh_token"])).json()
    late = await _refresh(client, first["refresh_token"])
    assert late.status_code == 200
    assert late.json()["refresh_token"] == third["refresh_token"]


async def test_grace_zero_disables_the_window(sqlite_url: str, kit: Any, clock: Any) -> None:
    """With JOTAUTH_REFRESH_GRACE=0 any second use is reuse."""
    app = create_app(
        kit.make_settings(sqlite_url, refresh_grace=0), clock=clock, sleep=clock.advance
    )
    await kit.add_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        first = await kit.login(client)
        assert (await _refresh(client, first["refresh_token"])).status_code == 200
        assert (await _refresh(client, first["refresh_token"])).status_code == 401
    app.state.store.close()


async def _race(app: Any, kit: Any, tabs: int) -> tuple[list[httpx.Response], Any]:
    await kit.add_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        first = await kit.login(client)
        results: list[httpx.Response] = []

        async def tab() -> None:
            results.append(await _refresh(client, first["refresh_token"]))

        async with anyio.create_task_group() as group:
            for _ in range(tabs):
                group.start_soon(tab)
    return results, app.state.store


async def test_concurrent_refreshes_converge_on_sqlite(app: Any, kit: Any) -> None:
    """Five tabs refreshing the same token at once all stay logged in with one live token."""
    results, store = await _race(app, kit, 5)
    assert [r.status_code for r in results] == [200] * 5
    assert len({r.json()["refresh_token"] for r in results}) == 1
    families = store.list_families()
    assert len(families) == 1
    assert families[0].revoked_at is None
    assert live_tokens(store, families[0].id) == 1
    assert store.list_audit_events(type="refresh_reuse_detected") == []


@pytest.mark.postgres
async def test_concurrent_refreshes_converge_on_postgres(
    pg_schema_url: str, kit: Any, clock: Any
) -> None:
    """The same race on PostgreSQL: row locks pick one winner, the others get its successor."""
    app = create_app(kit.make_settings(pg_schema_url), clock=clock, sleep=clock.advance)
    try:
        results, store = await _race(app, kit, 8)
        assert [r.status_code for r in results] == [200] * 8
        assert len({r.json()["refresh_token"] for r in results}) == 1
        families = store.list_families()
        assert len(families) == 1
        assert families[0].revoked_at is None
        assert live_tokens(store, families[0].id) == 1
    finally:
        app.state.store.close()


async def test_idle_lifetime(app: Any, client: httpx.AsyncClient, kit: Any, clock: Any) -> None:
    """A refresh token unused for 7 days no longer works; used within, it keeps working."""
    await kit.add_user(app)
    token = (await kit.login(client))["refresh_token"]
    clock.advance(6 * 86400)
    token = (await _refresh(client, token)).json()["refresh_token"]
    clock.advance(7 * 86400 + 1)
    expired = await _refresh(client, token)
    assert expired.status_code == 401
    assert "unused" in expired.json()["error_description"]


async def test_absolute_lifetime(app: Any, client: httpx.AsyncClient, kit: Any, clock: Any) -> None:
    """Even a session refreshed every 6 days ends after 30 days."""
    await kit.add_user(app)
    token = (await kit.login(client))["refresh_token"]
    for _ in range(4):
        clock.advance(6 * 86400)
        response = await _refresh(client, token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]
    clock.advance(6 * 86400)
    expired = await _refresh(client, token)
    assert expired.status_code == 401
    assert "absolute" in expired.json()["error_description"]


@pytest.mark.parametrize("token", ["", "short", "x" * 200, "A" * 43])
async def test_unknown_refresh_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    """Unknown, too short or too long refresh tokens: 401 invalid_grant."""
    response = await _refresh(client, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


async def test_refresh_picks_up_new_permissions(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Changed permissions appear in the next access token (at refresh)."""
    user = await kit.add_user(app)
    token = (await kit.login(client))["refresh_token"]
    from jotauth.issuer.services.auth import Client

    await app.state.auth.update_grants(
        user.id, Client(), "test", permissions={"articles": ["read", "delete"]}
    )
    fresh = (await _refresh(client, token)).json()["access_token"]
    me = (await client.get("/me", headers=kit.bearer(fresh))).json()
    assert me["permissions"] == {"articles": ["delete", "read"]}
