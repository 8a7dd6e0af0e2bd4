"""No body shape gets a password guess past a lock: the limits see the handler's own parse.

The outside review found that after five wrong passwords ``/oauth/token`` answered 429, but
the same request with one undecodable form field appended (``&x=%ff``) answered 200 with
tokens for the right password while the account was locked: the rate-limit middleware's
strict form parser saw no username, the handler's lenient one did. The limits are now asked
by the use cases on the values the handler parsed, so every shape of body below either is
refused as a bad request or is counted against the very account it tries to log into.

Each test locks ``john`` with the usual five wrong guesses, then tries the right password
(and more wrong ones) in an odd body on every route that checks a password.
"""

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import anyio
import httpx
import pytest

from jotauth.issuer.app import create_app
from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio

GOOD: Final = "correct-horse-battery-staple"
FORM: Final = {"content-type": "application/x-www-form-urlencoded"}
JSON: Final = {"content-type": "application/json"}


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """The real server with the default limits (IP bucket opened wide) and a user john."""
    apps: list[Any] = []

    async def _build(database: str = "db.sqlite") -> Any:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / database}",
            issuer="https://auth.test",
            audience="jotauth",
            mode="production",
            master_key=secrets.token_bytes(32),
            argon2_time_cost=1,
            argon2_memory_cost=64,
            argon2_parallelism=1,
            registration_open=True,
            ratelimit_enabled=True,
            ip_burst=1000,
            audit_log=False,
        )
        app = create_app(settings)
        apps.append(app)
        await app.state.auth.create_user("john", GOOD)
        return app

    yield _build
    for app in apps:
        app.state.store.close()


def http(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)),
        base_url="https://auth.test",
    )


async def lock_john(c: httpx.AsyncClient) -> None:
    for _ in range(5):
        r = await c.post("/login", json={"username": "john", "password": "wrong"})
        assert r.status_code == 401
    assert (await c.post("/login", json={"username": "john", "password": GOOD})).status_code == 429


def form(password: str, tail: str = "") -> bytes:
    return f"grant_type=password&username=john&password={password}{tail}".encode()


# Form bodies for /oauth/token: each carries the right password for a locked john.
FORM_BYPASSES: Final = {
    "undecodable_field": form(GOOD, "&x=%ff"),
    "undecodable_username_tail": b"grant_type=password&password=" + GOOD.encode()
    + b"&x=%ff%fe&username=john",
    "raw_invalid_utf8": form(GOOD, "&x=\xff").replace(b"\xc3\xbf", b"\xff"),
    "duplicated_username": form(GOOD, "&username=john"),
    "duplicated_grant_type": form(GOOD, "&grant_type=password"),
    "oversized_padding": form(GOOD, "&pad=" + "x" * 70_000),
    "padding_under_the_limit": form(GOOD, "&pad=" + "x" * 60_000),
    "nul_in_a_field": form(GOOD, "&x=%00"),
}  # fmt: skip

# JSON bodies for /login: each carries the right password for a locked john.
JSON_BYPASSES: Final = {
    "duplicated_username_key": b'{"username": "nobody", "username": "john", "password": "'
    + GOOD.encode() + b'"}',
    "lone_surrogate_field": json.dumps({"username": "john", "password": GOOD, "x": "\udcff"})
    .encode("utf-8", "surrogatepass"),
    "escaped_lone_surrogate": b'{"username": "john", "password": "' + GOOD.encode()
    + b'", "x": "\\udcff"}',
    "invalid_utf8_field": b'{"username": "john", "password": "' + GOOD.encode()
    + b'", "x": "\xff"}',
    "oversized_padding": json.dumps({"username": "john", "password": GOOD, "pad": "x" * 70_000})
    .encode(),
    "padding_under_the_limit": json.dumps(
        {"username": "john", "password": GOOD, "pad": "x" * 60_000}
    ).encode(),
    "nul_in_a_field": json.dumps({"username": "john", "password": GOOD, "x": "\x00"}).encode(),
    "wrong_type_field": json.dumps({"username": "john", "password": GOOD, "x": [1, {}]}).encode(),
}  # fmt: skip


@pytest.mark.parametrize("body", FORM_BYPASSES.values(), ids=FORM_BYPASSES.keys())
async def test_odd_form_bodies_never_get_a_guess_past_a_lock(
    build: Callable[..., Any], body: bytes
) -> None:
    """/oauth/token with an undecodable, duplicated or oversized field: still no tokens."""
    app = await build()
    async with http(app) as c:
        await lock_john(c)
        r = await c.post("/oauth/token", content=body, headers=FORM)
        assert r.status_code in (400, 413, 429), r.text
        assert "access_token" not in r.text
        assert r.json()["error"] in ("invalid_request", "rate_limited")
        # The lock still holds for a plain request.
        r = await c.post("/oauth/token", content=form(GOOD), headers=FORM)
        assert r.status_code == 429


async def test_undecodable_form_field_during_a_lock_is_refused_429(
    build: Callable[..., Any],
) -> None:
    """The review's request exactly: the right password with ``&x=%ff`` gets 429, not 200."""
    app = await build()
    async with http(app) as c:
        await lock_john(c)
        r = await c.post("/oauth/token", content=form(GOOD, "&x=%ff"), headers=FORM)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1


async def test_undecodable_form_guesses_are_counted(build: Callable[..., Any]) -> None:
    """Wrong guesses with ``&x=%ff`` count towards the lock like any other."""
    app = await build()
    async with http(app) as c:
        for _ in range(5):
            r = await c.post("/oauth/token", content=form("wrong", "&x=%ff"), headers=FORM)
            assert r.status_code == 400
            assert r.json()["error"] == "invalid_grant"
        r = await c.post("/oauth/token", content=form(GOOD, "&x=%ff"), headers=FORM)
        assert r.status_code == 429
        assert (
            await c.post("/login", json={"username": "john", "password": GOOD})
        ).status_code == 429


@pytest.mark.parametrize("body", JSON_BYPASSES.values(), ids=JSON_BYPASSES.keys())
async def test_odd_json_bodies_never_get_a_guess_past_a_lock(
    build: Callable[..., Any], body: bytes
) -> None:
    """/login with an undecodable, duplicated or oversized member: still no tokens."""
    app = await build()
    async with http(app) as c:
        await lock_john(c)
        r = await c.post("/login", content=body, headers=JSON)
        assert r.status_code in (400, 413, 429), r.text
        assert "access_token" not in r.text
        assert (
            await c.post("/login", json={"username": "john", "password": GOOD})
        ).status_code == 429


async def test_password_change_guesses_are_limited(build: Callable[..., Any]) -> None:
    """POST /password's current-password check counts like a login: five wrong, then 429."""
    app = await build()
    async with http(app) as c:
        pair = (await c.post("/login", json={"username": "john", "password": GOOD})).json()
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        for _ in range(5):
            body = {"current_password": "wrong", "new_password": "another long password"}
            r = await c.post("/password", json=body, headers=auth)
            assert r.status_code == 401
        body = {"current_password": GOOD, "new_password": "another long password", "x": "\x00"}
        r = await c.post("/password", json=body, headers=auth)
        assert r.status_code == 429
        assert (
            await c.post("/login", json={"username": "john", "password": GOOD})
        ).status_code == 429


async def test_registration_limit_holds_for_odd_bodies(build: Callable[..., Any]) -> None:
    """Sign-up attempts for one name are counted whatever else the body carries."""
    app = await build()
    async with http(app) as c:
        codes = []
        for i in range(6):
            body = {"username": "taken-or-not", "password": "short", "x": "\x00" * i}
            codes.append((await c.post("/register", json=body)).status_code)
        r = await c.post(
            "/register",
            content=b'{"username": "taken-or-not", "password": "long enough password"}',
            headers=JSON,
        )
    assert all(code in (400, 422) for code in codes[:5]), codes
    assert codes[5] == 429
    assert r.status_code == 429


async def test_huge_declared_length_at_login_is_refused_before_reading(tmp_path: Path) -> None:
    """``Content-Length: 1000000000`` at /login answers 413 at once, without a byte read."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        issuer="https://auth.test",
        audience="jotauth",
        mode="production",
        master_key=secrets.token_bytes(32),
        argon2_time_cost=1,
        argon2_memory_cost=64,
        argon2_parallelism=1,
    )
    app = create_app(settings)
    sent: list[dict[str, Any]] = []
    never = anyio.Event()

    async def receive() -> dict[str, Any]:
        await never.wait()  # the client never sends the body
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/login",
        "raw_path": b"/login",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"auth.test"),
            (b"content-type", b"application/json"),
            (b"content-length", b"1000000000"),
        ],
        "client": ("203.0.113.9", 4000),
        "server": ("auth.test", 443),
    }
    with anyio.fail_after(5):
        await app(scope, receive, send)
    assert sent[0]["status"] == 413
    app.state.store.close()
