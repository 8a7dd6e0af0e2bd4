"""Admin listings page by keyset: ``?limit=&after=`` with ``next``, every row once, in order."""

from typing import Any

import httpx
import pytest

from jotauth.issuer.api.paging import encode_cursor
from jotauth.store.records import FamilyRecord
from jotauth.store.sql import SQLStore

pytestmark = pytest.mark.anyio

ADMIN = {"admin": ["*"]}


async def _admin(app: Any, client: httpx.AsyncClient, kit: Any) -> dict[str, str]:
    await kit.add_user(app, "root", "root-password", roles=["admin"], permissions=ADMIN)
    return kit.bearer((await kit.login(client, "root", "root-password"))["access_token"])


async def _pages(
    client: httpx.AsyncClient, path: str, key: str, headers: dict[str, str], **params: Any
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    after: str | None = None
    while True:
        query = {**params, **({} if after is None else {"after": after})}
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body[key])
        after = body["next"]
        if after is None:
            return pages


def _user(store: SQLStore, name: str, now: float) -> int:
    return store.create_user(username=name, username_key=name, password_hash="x", now=now).id


async def test_users_page_by_id_and_every_user_comes_once_across_inserts(
    app: Any, client: httpx.AsyncClient, kit: Any, store: SQLStore
) -> None:
    """Pages of 3 over 10 users: each once, by id; users added mid-way behind the cursor are
    not repeated, those ahead of it are reached; the last page says next: null."""
    headers = await _admin(app, client, kit)
    for i in range(9):
        _user(store, f"u{i}", kit.start)
    first = await client.get("/admin/users", params={"limit": 3}, headers=headers)
    body = first.json()
    assert [u["username"] for u in body["users"]] == ["root", "u0", "u1"]
    assert body["next"] is not None
    for i in range(9, 12):
        _user(store, f"u{i}", kit.start)  # inserted while paging
    seen = [u["username"] for u in body["users"]]
    after = body["next"]
    while after is not None:
        page = (
            await client.get("/admin/users", params={"limit": 3, "after": after}, headers=headers)
        ).json()
        assert len(page["users"]) <= 3
        seen += [u["username"] for u in page["users"]]
        after = page["next"]
    assert seen == ["root", *(f"u{i}" for i in range(12))]
    exact = await _pages(client, "/admin/users", "users", headers, limit=13)
    assert [len(p) for p in exact] == [13]  # a page that ends the list says so


async def test_sessions_page_newest_first_with_ties_and_only_live_ones(
    app: Any, client: httpx.AsyncClient, kit: Any, store: SQLStore
) -> None:
    """Sessions come newest first, (created_at, id) breaking ties, each once, dead ones left
    out; with user_id only that user's."""
    headers = await _admin(app, client, kit)
    ann, bob = _user(store, "ann", kit.start), _user(store, "bob", kit.start)
    expected: list[str] = []
    for n in range(12):
        owner = ann if n % 3 else bob
        created = kit.start - 100 + n // 2  # two sessions per second: ties on created_at
        family = FamilyRecord(
            id=f"s{n:02d}", user_id=owner, client_id="c", scope="", created_at=created,
            last_used_at=kit.start, expires_at=kit.start + 3600,
        )  # fmt: skip
        store.create_family(family, f"h{n}")
        expected.append(family.id)
    store.revoke_family("s05", now=kit.start, reason="test")
    live = [sid for sid in expected if sid != "s05"]
    newest_first = sorted(live, key=lambda sid: (kit.start - 100 + int(sid[1:]) // 2, sid))[::-1]
    pages = await _pages(client, "/admin/sessions", "sessions", headers, limit=4)
    ids = [s["id"] for page in pages for s in page if s["id"] in expected]
    assert ids == newest_first
    assert all(len(p) <= 4 for p in pages)
    ann_pages = await _pages(client, "/admin/sessions", "sessions", headers, limit=2, user_id=ann)
    assert [s["id"] for p in ann_pages for s in p] == [
        sid for sid in newest_first if int(sid[1:]) % 3
    ]


@pytest.mark.parametrize(
    ("path", "after"),
    [
        ("/admin/users", "not a cursor"),
        ("/admin/users", "!!!!"),
        ("/admin/users", encode_cursor("s", 1.0, "x")),  # a sessions cursor
        ("/admin/users", encode_cursor("u", -1)),
        ("/admin/users", encode_cursor("u", True)),
        ("/admin/users", encode_cursor("u", 2**63)),
        ("/admin/users", "W10"),  # []
        ("/admin/sessions", encode_cursor("u", 1)),
        ("/admin/sessions", encode_cursor("s", "1", "x")),
        ("/admin/sessions", encode_cursor("s", 1.0, "")),
        ("/admin/sessions", encode_cursor("s", 1.0, "a\x00")),
        ("/admin/sessions", "WyJzIixOYU4sIngiXQ"),  # ["s",NaN,"x"]
        ("/admin/sessions", "x" * 201),
    ],
)
async def test_a_bad_cursor_is_400_in_the_error_shape(
    app: Any, client: httpx.AsyncClient, kit: Any, path: str, after: str
) -> None:
    """Anything but a cursor this listing answered is 400 invalid_request, never a 500."""
    headers = await _admin(app, client, kit)
    response = await client.get(path, params={"after": after}, headers=headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["error_description"]


@pytest.mark.parametrize("path", ["/admin/users", "/admin/sessions"])
@pytest.mark.parametrize("limit", ["0", "1001", "-1", "x"])
async def test_limit_is_bounded(
    app: Any, client: httpx.AsyncClient, kit: Any, path: str, limit: str
) -> None:
    """limit is 1..1000; outside it is a 400 in the error shape."""
    headers = await _admin(app, client, kit)
    response = await client.get(path, params={"limit": limit}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_limits_at_the_bounds_work(
    app: Any, client: httpx.AsyncClient, kit: Any, store: SQLStore
) -> None:
    """limit=1 pages one by one, limit=1000 takes everything in one page."""
    headers = await _admin(app, client, kit)
    _user(store, "ann", kit.start)
    one = await _pages(client, "/admin/users", "users", headers, limit=1)
    assert [len(p) for p in one] == [1, 1]
    assert [len(p) for p in await _pages(client, "/admin/users", "users", headers, limit=1000)] == [
        2
    ]


async def test_offset_paging_is_refused_not_ignored(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A client still sending offset gets a 400 naming after, not page one again (a loop)."""
    headers = await _admin(app, client, kit)
    response = await client.get("/admin/users", params={"offset": "100"}, headers=headers)
    assert response.status_code == 400
    assert "after" in response.json()["error_description"]
    assert (
        await client.get("/admin/users", params={"offset": "0"}, headers=headers)
    ).status_code == 200
