"""The admin API: only for tokens with the admin permission; users, sessions, keys."""

from typing import Any

import httpx
import pytest

from jotauth import jose

pytestmark = pytest.mark.anyio

ADMIN = {"admin": ["*"]}


async def _admin(app: Any, client: httpx.AsyncClient, kit: Any) -> dict[str, str]:
    await kit.add_user(app, "root", "root-password", roles=["admin"], permissions=ADMIN)
    return kit.bearer((await kit.login(client, "root", "root-password"))["access_token"])


async def test_admin_routes_need_the_admin_permission(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Without a token 401; with a user token 403 insufficient_scope."""
    await kit.add_user(app)
    user = kit.bearer((await kit.login(client))["access_token"])
    assert (await client.get("/admin/users")).status_code == 401
    for method, path in (("GET", "/admin/users"), ("POST", "/admin/keys/rotate")):
        response = await client.request(method, path, headers=user)
        assert response.status_code == 403
        assert response.json()["error"] == "insufficient_scope"


async def test_read_only_admin_cannot_change(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """admin:read lists users but may not create one."""
    await kit.add_user(app, "auditor", "auditor-pass", permissions={"admin": ["read"]})
    headers = kit.bearer((await kit.login(client, "auditor", "auditor-pass"))["access_token"])
    assert (await client.get("/admin/users", headers=headers)).status_code == 200
    create = await client.post(
        "/admin/users", json={"username": "x1", "password": "password123"}, headers=headers
    )
    assert create.status_code == 403


async def test_admin_manages_users(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Create, list, set roles and permissions, disable (tokens die) and enable again."""
    headers = await _admin(app, client, kit)
    created = await client.post(
        "/admin/users",
        json={"username": "ann", "password": "ann-password", "roles": ["editor"]},
        headers=headers,
    )
    assert created.status_code == 201
    uid = created.json()["id"]
    assert "password_hash" not in created.json()
    names = [
        u["username"] for u in (await client.get("/admin/users", headers=headers)).json()["users"]
    ]
    assert names == ["root", "ann"]
    perms = await client.put(
        f"/admin/users/{uid}/permissions",
        json={"permissions": {"articles": ["read"]}},
        headers=headers,
    )
    assert perms.json()["permissions"] == {"articles": ["read"]}
    roles = await client.put(
        f"/admin/users/{uid}/roles", json={"roles": ["a", "b"]}, headers=headers
    )
    assert roles.json()["roles"] == ["a", "b"]
    ann = await kit.login(client, "ann", "ann-password")
    assert (await client.post(f"/admin/users/{uid}/disable", headers=headers)).status_code == 200
    assert (await client.get("/me", headers=kit.bearer(ann["access_token"]))).status_code == 401
    assert (await client.post(f"/admin/users/{uid}/enable", headers=headers)).status_code == 200
    await kit.login(client, "ann", "ann-password")
    actions = {e.detail.get("action") for e in store.list_audit_events(type="admin_action")}
    assert {"create_user", "set_permissions", "set_roles", "disable", "enable"} <= actions


async def test_admin_rejects_bad_user_data(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Bad roles or permissions are 400 and change nothing; unknown ids are 404."""
    headers = await _admin(app, client, kit)
    bad = await client.put(
        "/admin/users/1/permissions", json={"permissions": {"x": "read"}}, headers=headers
    )
    assert bad.status_code == 400
    assert store.get_user(1).permissions == ADMIN
    assert (await client.post("/admin/users/999/disable", headers=headers)).status_code == 404
    assert (await client.post("/admin/users/abc/disable", headers=headers)).status_code == 404


async def test_admin_lists_and_revokes_sessions(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A revoked session's refresh token stops working."""
    headers = await _admin(app, client, kit)
    await kit.add_user(app)
    pair = await kit.login(client)
    sessions = (await client.get("/admin/sessions?user_id=2", headers=headers)).json()["sessions"]
    assert len(sessions) == 1
    sid = sessions[0]["id"]
    assert (await client.delete(f"/admin/sessions/{sid}", headers=headers)).status_code == 200
    refresh = await client.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    assert (await client.delete(f"/admin/sessions/{sid}", headers=headers)).status_code == 404


async def test_admin_rotates_and_revokes_keys(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Key list, rotate and emergency revoke through HTTP, each recorded."""
    headers = await _admin(app, client, kit)
    keys = (await client.get("/admin/keys", headers=headers)).json()["keys"]
    assert sorted(k["state"] for k in keys) == ["active", "next"]
    rotated = await client.post("/admin/keys/rotate", headers=headers)
    new_kid = rotated.json()["active"]
    token = (await kit.login(client, "root", "root-password"))["access_token"]
    assert jose.peek_header(token)["kid"] == new_kid
    revoked = await client.post(f"/admin/keys/{new_kid}/revoke", headers=headers)
    assert revoked.json()["state"] == "revoked"
    assert (await client.post("/admin/keys/nope/revoke", headers=headers)).status_code == 404
    assert [e.type for e in store.list_audit_events(type="key_revoked")] == ["key_revoked"]
    assert [e.type for e in store.list_audit_events(type="key_rotated")] == ["key_rotated"]


@pytest.mark.parametrize("user_id", ["\u00b2", "\u0663", "1\u00b9"])
async def test_admin_user_id_with_odd_digits_is_a_404(
    app: Any, client: httpx.AsyncClient, kit: Any, user_id: str
) -> None:
    """str.isdigit() takes superscripts and other scripts' digits; an id is ASCII: 404 in a
    path, 400 as a query filter (a malformed parameter), never a 500."""
    headers = await _admin(app, client, kit)
    response = await client.post(f"/admin/users/{user_id}/disable", headers=headers)
    assert response.status_code == 404, response.text
    listed = await client.get("/admin/sessions", headers=headers, params={"user_id": user_id})
    assert listed.status_code == 400, listed.text
    assert listed.json()["error"] == "invalid_request"


async def test_withdrawn_permission_leaves_the_scope_at_the_next_refresh(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """The guard grants by scope too: a refresh must not keep a scope the user no longer has."""
    headers = await _admin(app, client, kit)
    deputy = await kit.add_user(app, "deputy", "deputy-password", permissions=ADMIN)
    pair = await kit.login(client, "deputy", "deputy-password")
    withdrawn = await client.put(
        f"/admin/users/{deputy.sub}/permissions",
        json={"permissions": {"articles": ["read"]}},
        headers=headers,
    )
    assert withdrawn.status_code == 200
    fresh = (await client.post("/refresh", json={"refresh_token": pair["refresh_token"]})).json()
    assert fresh["scope"] == "articles:read"  # the session was not narrowed: the user's grants
    assert "admin:*" not in jose.peek_claims(fresh["access_token"])["scope"]
    denied = await client.get("/admin/users", headers=kit.bearer(fresh["access_token"]))
    assert denied.status_code == 403


async def test_the_last_admin_cannot_be_disabled_or_lose_admin(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Disabling the only enabled admin, or withdrawing their admin permission, would leave
    nobody able to manage the server through the API: 409 conflict, and nothing changes (the
    admin stays enabled, their permissions and sessions stay)."""
    headers = await _admin(app, client, kit)
    root = store.find_user_any(["root"])
    for response in (
        await client.post(f"/admin/users/{root.sub}/disable", headers=headers),
        await client.put(
            f"/admin/users/{root.sub}/permissions",
            json={"permissions": {"articles": ["read"]}},
            headers=headers,
        ),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "conflict"
        assert "admin:write" in response.json()["error_description"]
    after = store.find_user_any(["root"])
    assert (after.disabled, after.permissions, after.not_before) == (False, ADMIN, 0)
    assert store.list_families(user_id=root.id, active_at=kit.start)
    assert (await client.get("/admin/users", headers=headers)).status_code == 200
    assert store.revocations_after(0, now=kit.start) == []


async def test_an_admin_may_be_disabled_while_another_remains(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """With a second admin the first can be disabled; then the second is the last one."""
    headers = await _admin(app, client, kit)
    deputy = await kit.add_user(app, "deputy", "deputy-password", permissions={"admin": ["write"]})
    plain = await kit.add_user(app)
    assert (await client.post(f"/admin/users/{plain.sub}/disable", headers=headers)).is_success
    deputy_headers = kit.bearer(
        (await kit.login(client, "deputy", "deputy-password"))["access_token"]
    )
    root = store.find_user_any(["root"])
    done = await client.post(f"/admin/users/{root.sub}/disable", headers=deputy_headers)
    assert done.status_code == 200, done.text
    last = await client.post(f"/admin/users/{deputy.sub}/disable", headers=deputy_headers)
    assert last.status_code == 409, last.text
    assert not store.find_user_any(["deputy"]).disabled


def test_two_admins_disabling_each_other_at_once_leave_one(app: Any, kit: Any, store: Any) -> None:
    """Two admins disable each other at the same moment: each alone is allowed, both would
    leave none, so exactly one is refused."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    import anyio

    from jotauth.issuer.errors import ConflictError
    from jotauth.issuer.services.auth import Client

    auth = app.state.auth
    ids = [
        anyio.run(partial(kit.add_user, app, name, "password123", permissions=ADMIN)).id
        for name in ("a", "b")
    ]

    def disable(user_id: int) -> str:
        try:
            anyio.run(partial(auth.set_disabled, user_id, True, Client(None, None), "test"))
        except ConflictError:
            return "refused"
        return "disabled"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(disable, ids))
    assert outcomes == ["disabled", "refused"]
    assert [store.get_user(i).disabled for i in ids].count(False) == 1
