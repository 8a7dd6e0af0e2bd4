"""Every request body the server takes, thrown every bad shape, on SQLite and PostgreSQL.

Each JSON route and the form route get NUL bytes, lone surrogates, wrong types, oversized
fields, non-object JSON, NaN and Infinity, deep nesting, undecodable or repeated form fields
and the wrong Content-Type. Each answer must be a 4xx in the one error shape (400, 413 or 415;
never FastAPI's 422, never a 500), must not echo a password, and must leave the data as it
was: no user added or changed, no session opened.
"""

import json
import logging
from collections.abc import Iterator
from typing import Any, Final

import httpx
import pytest

from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio

SECRET: Final = "Hunter2-never-echo-me"
JSON: Final = {"Content-Type": "application/json"}
FORM: Final = {"Content-Type": "application/x-www-form-urlencoded"}

# route -> (method, a valid body, who calls it, the string fields and their longest values)
ROUTES: Final[dict[str, tuple[str, dict[str, Any], str, dict[str, int]]]] = {
    "/login": ("POST", {"username": "john", "password": "password123"}, "anyone",
               {"username": 1024, "password": 4096}),
    "/register": ("POST", {"username": "newcomer", "password": "password123"}, "anyone",
                  {"username": 1024, "password": 4096}),
    "/refresh": ("POST", {"refresh_token": "x" * 43}, "anyone", {"refresh_token": 512}),
    "/logout": ("POST", {"refresh_token": "x" * 43}, "john", {"refresh_token": 512}),
    "/password": ("POST", {"current_password": "password123", "new_password": "another-one-1"},
                  "john", {"current_password": 4096, "new_password": 4096}),
    "/admin/users": ("POST", {"username": "made", "password": "password123"}, "root",
                     {"username": 1024, "password": 4096}),
    "/admin/users/2/roles": ("PUT", {"roles": ["editor"]}, "root", {}),
    "/admin/users/2/permissions": ("PUT", {"permissions": {"articles": ["read"]}}, "root", {}),
}  # fmt: skip


@pytest.fixture
def settings(database_url: str, kit: Any) -> Settings:
    """This module's app runs on each database in turn."""
    result: Settings = kit.make_settings(database_url)
    return result


@pytest.fixture
async def callers(app: Any, client: httpx.AsyncClient, kit: Any) -> dict[str, dict[str, str]]:
    """Headers for each kind of caller: nobody, john (user 2) and root (an admin, user 1)."""
    await kit.add_user(app, "root", "root-password", permissions={"admin": ["*"]})
    await kit.add_user(app)
    root = await kit.login(client, "root", "root-password")
    john = await kit.login(client)
    return {
        "anyone": {},
        "john": kit.bearer(john["access_token"]),
        "root": kit.bearer(root["access_token"]),
    }


def _snapshot(store: Any) -> Any:
    users = [(u.username, u.password_hash, u.roles, u.permissions) for u in store.list_users()]
    return users, sorted(f.id for f in store.list_families())


def _bad_json_bodies(path: str) -> Iterator[tuple[str, bytes]]:
    """(what, raw body) for every bad shape of the route's valid body."""
    _, valid, _, fields = ROUTES[path]

    def with_member(name: str, raw: bytes) -> bytes:
        rest = json.dumps({k: v for k, v in valid.items() if k != name})[1:-1]
        return (
            b"{"
            + json.dumps(name).encode()
            + b": "
            + raw
            + (b", " + rest.encode() if rest else b"")
            + b"}"
        )

    for name in [*valid, "extra"]:
        yield f"{name} lone surrogate", with_member(name, b'"\\ud800"')
        yield f"{name} low surrogate", with_member(name, b'"abc\\udfff"')
        yield f"{name} raw surrogate bytes", with_member(name, b'"\xed\xa0\x80"')
        yield f"{name} invalid UTF-8", with_member(name, b'"\xff\xfe"')
        for constant in (b"NaN", b"Infinity", b"-Infinity"):
            yield f"{name} {constant.decode()}", with_member(name, constant)
    for name in valid:
        for raw in (b"1", b"1.5", b"true", b"null", b"[]", b'["a"]', b"{}", b'{"a": "b"}'):
            if name == "roles" and raw in (b"[]", b'["a"]'):
                continue
            if name == "permissions" and raw in (b"{}",):
                continue
            if (path, name, raw) == ("/logout", "refresh_token", b"null"):
                continue  # the one optional member
            yield f"{name} as {raw.decode()}", with_member(name, raw)
    for name, longest in fields.items():
        yield f"{name} too long", with_member(name, json.dumps("a" * (longest + 1)).encode())
        yield f"{name} password too long", with_member(name, json.dumps(SECRET * 300).encode())
        yield f"{name} password in a list", with_member(name, json.dumps([SECRET]).encode())
        yield f"{name} password in an object", with_member(name, json.dumps({"a": SECRET}).encode())
    yield "surrogate key", b'{"\\ud800": 1, ' + json.dumps(valid).encode()[1:]
    for raw in (b"[]", b'"john"', b"null", b"1", b"true", b"[" * 10_000, b'{"a":' * 300 + b"1"):
        yield f"not an object {raw[:12]!r}", raw
    yield "broken", json.dumps(valid).encode()[:-1]
    yield "BOM", b"\xef\xbb\xbf" + json.dumps(valid).encode()


def _assert_clean(response: httpx.Response, what: str, statuses: tuple[int, ...]) -> None:
    where = f"{what}: {response.status_code} {response.text[:300]}"
    assert response.status_code in statuses, where
    body = response.json()
    assert set(body) == {"error", "error_description"}, where
    assert body["error"] == "invalid_request", where
    assert body["error_description"], where
    assert SECRET not in response.text, where


@pytest.mark.parametrize("path", list(ROUTES))
async def test_json_bodies_refuse_every_bad_shape(
    app: Any,
    client: httpx.AsyncClient,
    store: Any,
    callers: dict[str, dict[str, str]],
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    """400 invalid_request for each bad shape, nothing stored, no password echoed or logged."""
    method, _, caller, _ = ROUTES[path]
    headers = {**callers[caller], **JSON}
    before = _snapshot(store)
    caplog.set_level(logging.DEBUG)
    for what, raw in _bad_json_bodies(path):
        response = await client.request(method, path, content=raw, headers=headers)
        _assert_clean(response, what, (400,))
    assert _snapshot(store) == before
    assert SECRET not in caplog.text


@pytest.mark.parametrize("path", list(ROUTES))
async def test_json_bodies_refuse_the_wrong_media_type_and_size(
    app: Any, client: httpx.AsyncClient, store: Any, callers: dict[str, dict[str, str]], path: str
) -> None:
    """415 for anything but application/json, 413 over JOTAUTH_MAX_BODY_BYTES."""
    method, valid, caller, _ = ROUTES[path]
    before = _snapshot(store)
    raw = json.dumps(valid).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None,
                         "application/merge-patch+json"):  # fmt: skip
        headers = {**callers[caller], **({"Content-Type": content_type} if content_type else {})}
        response = await client.request(method, path, content=raw, headers=headers)
        _assert_clean(response, f"Content-Type {content_type}", (415,))
    huge = json.dumps({**valid, "pad": "x" * 70_000}).encode()
    response = await client.request(method, path, content=huge, headers={**callers[caller], **JSON})
    _assert_clean(response, "huge", (413,))
    assert _snapshot(store) == before


async def test_nul_bytes_in_json_fields_never_answer_500(
    app: Any, client: httpx.AsyncClient, store: Any, callers: dict[str, dict[str, str]]
) -> None:
    """NUL is a valid JSON string character, but PostgreSQL text refuses it: a 4xx wherever it
    would be stored or looked up (a password is only hashed: see the next test)."""
    before = _snapshot(store)
    for path, (method, valid, caller, fields) in ROUTES.items():
        for name in fields:
            if "password" in name or path == "/logout":
                continue
            body = {**valid, name: f"x\x00{valid[name]}"}
            response = await client.request(method, path, json=body, headers=callers[caller])
            assert 400 <= response.status_code < 500, (path, name, response.text)
            assert "error" in response.json()
    for path, body in (
        ("/admin/users/2/roles", {"roles": ["ed\x00itor"]}),
        ("/admin/users/2/permissions", {"permissions": {"art\x00": ["read"]}}),
        ("/admin/users/2/permissions", {"permissions": {"articles": ["re\x00ad"]}}),
    ):
        response = await client.put(path, json=body, headers=callers["root"])
        assert response.status_code == 400, (path, response.text)
    assert _snapshot(store) == before
    # Last, as it ends john's session: a refresh token that names no session is ignored.
    body = {"refresh_token": "x\x00" * 20}
    response = await client.post("/logout", json=body, headers=callers["john"])
    assert response.status_code == 200, response.text


async def test_a_nul_in_a_password_is_just_a_character(
    client: httpx.AsyncClient, callers: dict[str, dict[str, str]], kit: Any
) -> None:
    """Passwords are hashed, never stored: one with a NUL registers and logs in, on PostgreSQL
    too, and a NUL in a wrong password is the ordinary 401."""
    password = "pass\x00word123"
    created = await client.post("/register", json={"username": "nul", "password": password})
    assert created.status_code == 201, created.text
    await kit.login(client, "nul", password)
    wrong = await client.post("/login", json={"username": "john", "password": "password\x00"})
    assert wrong.status_code == 401


def _form(**fields: str) -> bytes:
    return "&".join(f"{name}={value}" for name, value in fields.items()).encode()


GRANT: Final = {"grant_type": "password", "username": "john", "password": "password123"}


def _bad_forms() -> Iterator[tuple[str, bytes]]:
    for name in [*GRANT, "client_id", "scope", "extra"]:
        yield f"{name} undecodable", _form(**{**GRANT, name: "%ff"})
        yield f"{name} overlong UTF-8", _form(**{**GRANT, name: "%c0%af"})
        yield f"{name} encoded surrogate", _form(**{**GRANT, name: "%ed%a0%80"})
        yield f"{name} repeated", _form(**{**GRANT, name: "x"}) + f"&{name}=y".encode()
    yield "raw invalid UTF-8", _form(**GRANT) + b"&x=\xff"
    yield "undecodable name", _form(**GRANT) + b"&%ff=1"
    yield "username too long", _form(**{**GRANT, "username": "a" * 1025})
    yield "password too long", _form(**{**GRANT, "password": SECRET * 300})
    yield "refresh_token too long", _form(grant_type="refresh_token", refresh_token="a" * 513)
    yield "client_id too long", _form(**GRANT, client_id="a" * 129)
    yield "client_id not ASCII", _form(**GRANT, client_id="%C3%A9")
    yield "client_id with NUL", _form(**GRANT, client_id="a%00b")
    yield "client_id with a password around", _form(**{**GRANT, "password": SECRET}, client_id="\t")
    yield "no grant_type", _form(username="john", password="password123")
    yield "empty grant_type", _form(**{**GRANT, "grant_type": ""})
    yield "empty password is omitted", _form(**{**GRANT, "password": ""})
    yield "no refresh_token", _form(grant_type="refresh_token")


async def test_token_form_refuses_every_bad_shape(
    app: Any,
    client: httpx.AsyncClient,
    store: Any,
    callers: dict[str, dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """/oauth/token: RFC 6749 5.2 invalid_request with 400 (never 422) for every bad form."""
    before = _snapshot(store)
    caplog.set_level(logging.DEBUG)
    for what, raw in _bad_forms():
        response = await client.post("/oauth/token", content=raw, headers=FORM)
        _assert_clean(response, what, (400,))
    for content_type in ("application/json", "text/plain", "multipart/form-data", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = await client.post("/oauth/token", content=_form(**GRANT), headers=headers)
        _assert_clean(response, f"Content-Type {content_type}", (415,))
    huge = _form(**GRANT, pad="x" * 70_000)
    _assert_clean(await client.post("/oauth/token", content=huge, headers=FORM), "huge", (413,))
    assert _snapshot(store) == before
    assert SECRET not in caplog.text


async def test_nul_bytes_in_form_fields_never_answer_500(
    app: Any, client: httpx.AsyncClient, store: Any, callers: dict[str, dict[str, str]]
) -> None:
    """A NUL in any token-request field is a 400, on PostgreSQL too."""
    before = _snapshot(store)
    for fields in (
        {**GRANT, "username": "jo%00hn"},
        {**GRANT, "password": "pass%00word123"},
        {**GRANT, "scope": "articles:read%00"},
        {"grant_type": "refresh_token", "refresh_token": "a%00" * 10},
        {**GRANT, "grant_type": "pass%00word"},
    ):
        response = await client.post("/oauth/token", content=_form(**fields), headers=FORM)
        assert response.status_code == 400, (fields, response.text)
        assert response.json()["error"] in (
            "invalid_request", "invalid_grant", "invalid_scope", "unsupported_grant_type"
        )  # fmt: skip
    assert _snapshot(store) == before


async def test_the_good_bodies_still_work(
    app: Any, client: httpx.AsyncClient, callers: dict[str, dict[str, str]]
) -> None:
    """The same routes with their valid bodies: the matrix above refuses shapes, not routes."""
    ok = await client.post("/oauth/token", content=_form(**GRANT), headers=FORM)
    assert ok.status_code == 200, ok.text
    charset = {"Content-Type": "application/json; charset=utf-8"}
    login = await client.post("/login", content=json.dumps(ROUTES["/login"][1]), headers=charset)
    assert login.status_code == 200, login.text
    empty = await client.post("/logout", headers=callers["john"])
    assert empty.status_code == 200, empty.text
    for path in ("/admin/users/2/roles", "/admin/users/2/permissions", "/admin/users"):
        method, valid, caller, _ = ROUTES[path]
        response = await client.request(method, path, json=valid, headers=callers[caller])
        assert response.status_code in (200, 201), (path, response.text)
