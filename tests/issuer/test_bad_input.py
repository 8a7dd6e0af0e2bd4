"""Bad input: a clear 4xx in the one error format, nothing stored, never a 500.

On SQLite and PostgreSQL (which refuses NUL in text and compares differently).
``test_request_bodies.py`` throws every bad shape at every body route.
"""

from typing import Any

import httpx
import pytest

from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(database_url: str, kit: Any) -> Settings:
    """This module's app runs on each database in turn."""
    result: Settings = kit.make_settings(database_url)
    return result


ODD_NAMES = [
    "",
    "a" * 65,
    "x" * 10_000,
    "robert'); DROP TABLE users;--",
    "admin' OR '1'='1",
    "null\x00byte",
    "tab\tname",
    "<script>alert(1)</script>",
    "\u202eevil",
    "👾",
]


def _user_count(store: Any) -> int:
    return len(store.list_users())


def _assert_error(response: httpx.Response, status: int, code: str = "invalid_request") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["error_description"], str)
    assert body["error_description"]


@pytest.mark.parametrize("path", ["/login", "/register", "/refresh"])
async def test_malformed_json(client: httpx.AsyncClient, store: Any, path: str) -> None:
    """Broken JSON is a 400 naming the problem."""
    response = await client.post(
        path, content=b'{"username": "john",', headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 400)
    assert "JSON" in response.json()["error_description"]
    assert _user_count(store) == 0


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'"john"', b"null", b'{"username": NaN, "password": "x"}']
)
async def test_json_that_is_not_an_object(client: httpx.AsyncClient, body: bytes) -> None:
    """Arrays, strings, null and NaN are refused."""
    response = await client.post(
        "/login", content=body, headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 400)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"username": "john", "password": "password123"}'),
        ("application/x-www-form-urlencoded", b"username=john&password=password123"),
        (None, b'{"username": "john", "password": "password123"}'),
    ],
)
async def test_wrong_content_type(
    app: Any, client: httpx.AsyncClient, kit: Any, content_type: str | None, body: bytes
) -> None:
    """The JSON endpoints answer 415 to anything but application/json."""
    await kit.add_user(app)
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/login", content=body, headers=headers)
    _assert_error(response, 415)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "john"},
        {"password": "x"},
        {"username": 1, "password": "x"},
        {"username": ["john"], "password": "x"},
        {"username": "john", "password": None},
    ],
)
async def test_missing_or_mistyped_fields(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """Missing or non-string credentials are a 400 saying which field."""
    response = await client.post("/login", json=body)
    _assert_error(response, 400)


async def test_huge_body(client: httpx.AsyncClient, store: Any) -> None:
    """A body over the limit is 413 and nothing is stored."""
    payload = b'{"username": "' + b"a" * 100_000 + b'", "password": "password123"}'
    response = await client.post(
        "/register", content=payload, headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 413)
    assert _user_count(store) == 0


async def test_huge_streamed_body_without_length(client: httpx.AsyncClient) -> None:
    """A chunked body without Content-Length is cut off at the limit too."""

    async def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 4096

    response = await client.post(
        "/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 413)


@pytest.mark.parametrize("name", ODD_NAMES)
async def test_odd_usernames_at_login(client: httpx.AsyncClient, name: str) -> None:
    """Odd usernames at login are the ordinary 401, never a 500."""
    response = await client.post("/login", json={"username": name, "password": "password123"})
    assert response.status_code in (400, 401)
    assert "error" in response.json()


@pytest.mark.parametrize("name", ODD_NAMES)
async def test_odd_usernames_at_registration(
    client: httpx.AsyncClient, store: Any, name: str
) -> None:
    """Registration refuses them with a 400 that says what is allowed, and stores nothing."""
    response = await client.post("/register", json={"username": name, "password": "password123"})
    _assert_error(response, 400)
    assert _user_count(store) == 0


async def test_unicode_username_is_allowed(client: httpx.AsyncClient, kit: Any) -> None:
    """Letters of any script are fine: José and 山田 register and log in."""
    for name in ("José", "山田"):
        created = await client.post("/register", json={"username": name, "password": "password123"})
        assert created.status_code == 201
        await kit.login(client, name)


@pytest.mark.parametrize(
    "lookalike",
    [
        "\u0430dmin",  # Cyrillic a + Latin "dmin"
        "adm\u0456n",  # Cyrillic (Ukrainian) i
        "\u0391dmin",  # Greek Alpha
        "admin\u200b",  # zero-width space
        "ad\u2060min",  # word joiner
        "\uff41dmin",  # full-width a: the same account as admin
        "ADMIN",
        "admi\u0144",  # n with acute is fine as a name, but a different one: 201
    ],
)
async def test_lookalike_usernames_cannot_register_beside_admin(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any, lookalike: str
) -> None:
    """ "\\u0430dmin" (a Cyrillic a) registered beside "admin": names are now PRECIS
    (RFC 8265) and of one script, so a look-alike is refused or is the same account."""
    await kit.add_user(app, "admin", "admin-password")
    response = await client.post(
        "/register", json={"username": lookalike, "password": "password123"}
    )
    if lookalike == "admi\u0144":
        assert response.status_code == 201
        return
    assert response.status_code in (400, 409), response.text
    assert [u.username for u in store.list_users()] == ["admin"]


async def test_one_normalization_for_registration_login_and_admin(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Full-width and upper-case forms log in as the same user; a padded name does not."""
    await kit.add_user(app, "John", "password123")
    for typed in ("john", "JOHN", "\uff2a\uff4f\uff48\uff4e"):
        await kit.login(client, typed)
    padded = await client.post("/login", json={"username": " john", "password": "password123"})
    assert padded.status_code == 401


async def test_users_made_before_precis_still_log_in(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Users keyed by the old NFKC rule (here a name PRECIS refuses) keep logging in, and
    their legacy key stays taken."""
    store.create_user(
        username="\u2168ramses",  # Roman numeral nine: NFKC made it "IX"
        username_key="ixramses",
        password_hash=await app.state.auth.passwords.hash("password123"),
        now=1.0,
    )
    await kit.login(client, "\u2168ramses")
    await kit.login(client, "IXramses")
    again = await client.post("/register", json={"username": "IXRAMSES", "password": "x" * 12})
    assert again.status_code == 409


async def test_registration_can_be_closed(sqlite_url: str, kit: Any, clock: Any) -> None:
    """With registration closed, /register is 403 registration_closed."""
    from jotauth.issuer.app import create_app

    app = create_app(
        kit.make_settings(sqlite_url, registration_open=False), clock=clock, sleep=clock.advance
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/register", json={"username": "eve", "password": "password123"}
        )
    _assert_error(response, 403, "registration_closed")
    assert app.state.store.list_users() == []
    app.state.store.close()


async def test_register_records_an_event(client: httpx.AsyncClient, store: Any) -> None:
    """A sign-up is a user_registered event."""
    response = await client.post("/register", json={"username": "ann", "password": "password123"})
    assert response.status_code == 201
    assert [e.username for e in store.list_audit_events(type="user_registered")] == ["ann"]


async def test_token_over_8_kib_is_refused(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """Grants that cannot fit in a token are a 422 when an admin grants them, not an error at
    login; a user stored with them anyway (an import) gets a clear 422 at login, no session."""
    permissions = {f"resource{i:02d}": [f"action{j:02d}" * 5 for j in range(20)] for i in range(50)}
    await kit.add_user(app, "root", "root-password", permissions={"admin": ["*"]})
    admin = kit.bearer((await kit.login(client, "root", "root-password"))["access_token"])
    created = await client.post(
        "/admin/users",
        json={"username": "john", "password": "password123", "permissions": permissions},
        headers=admin,
    )
    _assert_error(created, 422, "token_too_large")
    assert [u.username for u in store.list_users()] == ["root"]
    john = await kit.add_user(app)
    granted = await client.put(
        f"/admin/users/{john.sub}/permissions", json={"permissions": permissions}, headers=admin
    )
    _assert_error(granted, 422, "token_too_large")
    assert store.get_user(john.id).permissions == john.permissions
    store.update_user(john.id, permissions=permissions)  # around the API, as an import could
    response = await client.post("/login", json={"username": "john", "password": "password123"})
    _assert_error(response, 422, "token_too_large")
    assert "8192" in response.json()["error_description"]
    assert [f.user_id for f in store.list_families()] == [1]  # root's session only


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    """404 and 405 use the same error format."""
    assert (await client.get("/nope")).json()["error"] == "not_found"
    assert (await client.get("/login")).status_code == 405


async def test_deeply_nested_json(client: httpx.AsyncClient) -> None:
    """JSON nested deeper than the parser's recursion limit is a 400, not a 500."""
    response = await client.post(
        "/login", content=b"[" * 60_000, headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 400)


async def test_bearer_token_over_8_kib(client: httpx.AsyncClient) -> None:
    """A bearer token over 8 KiB is refused before any decoding, with a clear code."""
    token = "eyJhbGciOiJFZERTQSJ9." + "a" * 9000 + ".sig"
    response = await client.get("/profile", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["jotauth_code"] == "token_too_large"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/login", b'{"username": "\\ud800", "password": "password123"}'),
        ("/login", b'{"username": "john", "password": "\\udfff"}'),
        ("/refresh", b'{"refresh_token": "\\ud800aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}'),
        ("/register", b'{"username": "john", "password": "long enough \\ud83d"}'),
        ("/login", b'{"\\ud800": 1, "username": "john", "password": "password123"}'),
    ],
)
async def test_lone_surrogates_are_a_400(
    client: httpx.AsyncClient, app: Any, kit: Any, path: str, body: bytes
) -> None:
    """JSON may escape a lone surrogate, which no UTF-8 database or hash can take: 400, not 500."""
    await kit.add_user(app)
    response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
    _assert_error(response, 400)
