"""The whole lifecycle on PostgreSQL: the same app, the other database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from jotauth import jose
from jotauth.issuer.app import create_app

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

FEED = {"Authorization": "Bearer feed-secret-0123456789"}


@asynccontextmanager
async def _pg_client(
    url: str, kit: Any, clock: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """An app on the PostgreSQL schema ``url`` and an in-process client; closes the store after."""
    app = create_app(kit.make_settings(url), clock=clock, sleep=clock.advance)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client
    finally:
        app.state.store.close()


async def test_lifecycle_on_postgres(pg_schema_url: str, kit: Any, clock: Any) -> None:
    """Login, refresh, reuse detection, logout, logout-all, key rotation and revocation, feed."""
    async with _pg_client(pg_schema_url, kit, clock) as (app, c):
        await kit.add_user(app)
        first = await kit.login(c)
        profile = await c.get("/profile", headers=kit.bearer(first["access_token"]))
        assert profile.json() == {"message": "Welcome, john!"}
        second = (await c.post("/refresh", json={"refresh_token": first["refresh_token"]})).json()
        clock.advance(11)
        reuse = await c.post("/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401
        dead = await c.post("/refresh", json={"refresh_token": second["refresh_token"]})
        assert dead.status_code == 401

        a = await kit.login(c)
        await c.post("/logout", headers=kit.bearer(a["access_token"]))
        assert (await c.get("/me", headers=kit.bearer(a["access_token"]))).status_code == 401

        b, d = await kit.login(c), await kit.login(c)
        await c.post("/logout-all", headers=kit.bearer(b["access_token"]))
        assert (await c.get("/me", headers=kit.bearer(d["access_token"]))).status_code == 401

        e = await kit.login(c)
        old_kid = jose.peek_header(e["access_token"])["kid"]
        app.state.auth.ring.rotate()
        assert (await c.get("/me", headers=kit.bearer(e["access_token"]))).status_code == 200
        app.state.auth.ring.revoke(old_kid)
        assert (await c.get("/me", headers=kit.bearer(e["access_token"]))).status_code == 401

        events = (await c.get("/revocations", headers=FEED)).json()["events"]
        # reuse ends a session, logout a session and its token, logout-all a user, then the key
        assert [ev["type"] for ev in events] == ["session", "session", "token", "user", "key"]
        types = {ev.type for ev in app.state.store.list_audit_events(limit=1000)}
        assert {"login_succeeded", "refresh_reuse_detected", "logout", "logout_all"} <= types


async def test_nul_in_login_username_is_a_401_on_postgres(
    pg_schema_url: str, kit: Any, clock: Any
) -> None:
    """PostgreSQL text refuses NUL: a username with one is an unknown user (401), not a 500."""
    async with _pg_client(pg_schema_url, kit, clock) as (app, c):
        await kit.add_user(app)
        response = await c.post("/login", json={"username": "jo\x00hn", "password": "password123"})
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_grant"
        failed = [
            ev for ev in app.state.store.list_audit_events(limit=100) if ev.type == "login_failed"
        ]
        # An unknown name is recorded as its keyed hash, never as typed (NUL or not).
        assert [ev.username for ev in failed] == [app.state.auth.name_tag("jo\x00hn")]


async def test_nul_in_oauth_client_id_is_a_400_on_postgres(
    pg_schema_url: str, kit: Any, clock: Any
) -> None:
    """RFC 6749 client_id is VSCHAR only: a NUL is refused as a 400, never sent to PostgreSQL."""
    async with _pg_client(pg_schema_url, kit, clock) as (app, c):
        await kit.add_user(app)
        response = await c.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "username": "john",
                "password": "password123",
                "client_id": "app\x00",
            },
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_request"
        assert app.state.store.list_families() == []


async def test_nul_in_admin_path_ids_is_a_404_on_postgres(
    pg_schema_url: str, kit: Any, clock: Any
) -> None:
    """A session id or kid with a NUL names nothing: 404, never a PostgreSQL DataError (500)."""
    async with _pg_client(pg_schema_url, kit, clock) as (app, c):
        await kit.add_user(app, "root", "root-password", permissions={"admin": ["*"]})
        headers = kit.bearer((await kit.login(c, "root", "root-password"))["access_token"])
        session = await c.delete("/admin/sessions/a%00b", headers=headers)
        assert session.status_code == 404, session.text
        key = await c.post("/admin/keys/a%00b/revoke", headers=headers)
        assert key.status_code == 404, key.text


async def test_a_scope_past_2048_characters_logs_in_on_postgres(
    pg_schema_url: str, kit: Any, clock: Any
) -> None:
    """refresh_families.scope was VARCHAR(2048): a user with more grants got a 500 at login.
    The column is TEXT now; whatever fits in a token fits in the table."""
    permissions = {f"resource-{i:02d}": [f"act-{j:02d}" for j in range(20)] for i in range(6)}
    async with _pg_client(pg_schema_url, kit, clock) as (app, c):
        await kit.add_user(app, permissions=permissions)
        pair = await kit.login(c)
        assert len(pair["scope"]) > 2048
        assert len(pair["access_token"]) <= 8192
        refreshed = await c.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 200
        assert refreshed.json()["scope"] == pair["scope"]
