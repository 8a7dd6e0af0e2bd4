"""``/admin/clients``: the registry over HTTP, for admin tokens only; bad input is a 400."""

import base64
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

ADMIN = {"admin": ["*"]}
SERVICE = {"name": "billing", "scopes": ["invoices:read"], "audiences": ["billing-api"]}


async def _admin(app: Any, client: httpx.AsyncClient, kit: Any) -> dict[str, str]:
    await kit.add_user(app, "root", "root-password", roles=["admin"], permissions=ADMIN)
    return kit.bearer((await kit.login(client, "root", "root-password"))["access_token"])


async def test_register_show_list_rotate_disable(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """The secret is in the registration and rotation answers only, and works."""
    admin = await _admin(app, client, kit)
    created = await client.post("/admin/clients", json=SERVICE, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    client_id, secret = body["client_id"], body["client_secret"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert "secret_hash" not in body
    shown = await client.get(f"/admin/clients/{client_id}", headers=admin)
    assert shown.status_code == 200
    assert "client_secret" not in shown.json()
    assert secret not in shown.text
    listed = await client.get("/admin/clients", headers=admin)
    assert [c["client_id"] for c in listed.json()["clients"]] == [client_id]
    rotated = await client.post(f"/admin/clients/{client_id}/rotate-secret", headers=admin)
    new = rotated.json()["client_secret"]
    assert new != secret
    basic = base64.b64encode(f"{client_id}:{new}".encode()).decode()
    token = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                              headers={"Authorization": f"Basic {basic}"})  # fmt: skip
    assert token.status_code == 200
    disabled = await client.post(f"/admin/clients/{client_id}/disable", headers=admin)
    assert disabled.json()["disabled"] is True
    refused = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                headers={"Authorization": f"Basic {basic}"})  # fmt: skip
    assert refused.status_code == 401
    enabled = await client.post(f"/admin/clients/{client_id}/enable", headers=admin)
    assert enabled.json()["disabled"] is False
    events = app.state.store.list_audit_events(type="admin_action", limit=50)
    actions = [e.detail.get("action") for e in events]
    assert {"register_client", "rotate_client_secret", "disable_client"} <= set(actions)


async def test_update_replaces_what_a_client_may_do(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """PUT replaces scopes and audiences; the type cannot change."""
    admin = await _admin(app, client, kit)
    client_id = (await client.post("/admin/clients", json=SERVICE, headers=admin)).json()[
        "client_id"
    ]
    changed = await client.put(
        f"/admin/clients/{client_id}", json={**SERVICE, "scopes": ["invoices:write"]},
        headers=admin,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["scopes"] == ["invoices:write"]
    retyped = await client.put(
        f"/admin/clients/{client_id}",
        json={"name": "x", "type": "public", "grant_types": ["password"]}, headers=admin,
    )  # fmt: skip
    assert retyped.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": 5},
        {"name": "x", "unknown": 1},
        {"name": "x", "scopes": "a b"},
        {"name": "x", "audiences": ["api"], "scopes": ["bad scope"]},
        {"name": "x", "audiences": ["api"], "first_party": "yes"},
        {"name": "x", "grant_types": ["implicit"], "audiences": ["api"]},
        {"name": "x", "type": "public", "token_endpoint_auth_method": "client_secret_basic"},
        {"name": "x", "type": "confidential", "token_endpoint_auth_method": "none"},
        {"name": "x", "grant_types": ["authorization_code"],
         "redirect_uris": ["https://app.example/cb#frag"]},
        {"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["/relative"]},
        {"name": "x", "grant_types": ["authorization_code"],
         "redirect_uris": ["http://app.example/cb"]},
        {"name": "x", "grant_types": ["refresh_token"], "audiences": ["api"]},
        {"name": "x", "audiences": ["api"], "rate_limit": 10},
        {"name": "x", "audiences": ["api"], "tier": "gold", "rate_limit": 0},
        {"name": "x", "audiences": ["api"], "access_ttl": 999999},
        {"name": "x", "audiences": ["api"], "backchannel_logout_uri": "ftp://x"},
        {"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["https://a.example/cb"],
         "post_logout_redirect_uris": ["https://a.example/out#frag"]},
        {"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["https://a.example/cb"],
         "post_logout_redirect_uris": "https://a.example/out"},
        {"name": "x", "audiences": ["api"], "jwks_uri": "https://x.example/jwks"},
    ],
)  # fmt: skip
async def test_bad_registrations_are_400_and_store_nothing(
    app: Any, client: httpx.AsyncClient, kit: Any, body: dict[str, Any]
) -> None:
    """Every refused registration is 400 invalid_request; no client is stored."""
    admin = await _admin(app, client, kit)
    answer = await client.post("/admin/clients", json=body, headers=admin)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert app.state.store.list_clients() == []


async def test_authorization_code_client_keeps_exact_redirect_uris(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Redirect URIs are stored as given (exact match later): https, loopback, native."""
    admin = await _admin(app, client, kit)
    uris = ["https://app.example/cb?x=1", "http://127.0.0.1:8765/cb", "com.example.app:/cb"]
    answer = await client.post(
        "/admin/clients",
        json={"name": "web", "type": "public", "grant_types": ["authorization_code",
              "refresh_token"], "redirect_uris": uris, "first_party": True},
        headers=admin,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json()["redirect_uris"] == uris
    assert answer.json()["client_secret"] is None


async def test_post_logout_redirect_uris_are_registered_exactly_and_used_by_logout(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A client's post-logout URIs are stored as given, shown, and what the OpenID flow reads
    for its logout (the flow's seam over the registry)."""
    admin = await _admin(app, client, kit)
    after = ["https://app.example/signed-out", "com.example.app:/bye"]
    answer = await client.post(
        "/admin/clients",
        json={"name": "web", "type": "public", "grant_types": ["authorization_code"],
              "redirect_uris": ["https://app.example/cb"], "post_logout_redirect_uris": after},
        headers=admin,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    client_id = answer.json()["client_id"]
    assert answer.json()["post_logout_redirect_uris"] == after
    shown = await client.get(f"/admin/clients/{client_id}", headers=admin)
    assert shown.json()["post_logout_redirect_uris"] == after
    seen = app.state.oauth_clients.get_client(client_id)
    assert seen is not None
    assert seen.post_logout_redirect_uris == tuple(after)
    assert seen.redirect_uris == ("https://app.example/cb",)
    assert app.state.oauth_clients.get_client("no-such-client") is None


async def test_unknown_client_is_404_and_user_tokens_are_refused(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """404 not_found for an unknown id; a user token without admin is 403."""
    admin = await _admin(app, client, kit)
    for method, path in (("GET", "/admin/clients/nobody"),
                         ("POST", "/admin/clients/nobody/disable"),
                         ("POST", "/admin/clients/nobody/rotate-secret")):  # fmt: skip
        answer = await client.request(method, path, headers=admin)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
    await kit.add_user(app)
    user = kit.bearer((await kit.login(client))["access_token"])
    assert (await client.get("/admin/clients", headers=user)).status_code == 403
    assert (await client.get("/admin/clients")).status_code == 401


async def test_dpop_bound_access_tokens_is_registered_updated_and_enforced(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """RFC 9449 5.2's client metadata over the admin API: shown, changed by PUT, and the
    client's token requests without a DPoP proof are refused once it is on."""
    admin = await _admin(app, client, kit)
    created = await client.post("/admin/clients", json=SERVICE, headers=admin)
    assert created.json()["dpop_bound_access_tokens"] is False
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]
    basic = {
        "Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    }
    form = {"grant_type": "client_credentials"}
    assert (await client.post("/oauth/token", data=form, headers=basic)).status_code == 200
    updated = await client.put(
        f"/admin/clients/{client_id}", json={**SERVICE, "dpop_bound_access_tokens": True},
        headers=admin,
    )  # fmt: skip
    assert updated.status_code == 200, updated.text
    assert updated.json()["dpop_bound_access_tokens"] is True
    refused = await client.post("/oauth/token", data=form, headers=basic)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_dpop_proof")
    wrong = await client.post(
        "/admin/clients", json={**SERVICE, "dpop_bound_access_tokens": "yes"}, headers=admin
    )
    assert wrong.status_code == 400
