"""Fixtures for the auth server: a fast app (low Argon2 cost) on a fresh database per test.

Time is a ``ManualClock`` handed to ``create_app``, so lifetimes, grace windows and scheduled
rotation are tested without sleeping. Signing keys are real (EdDSA key generation is cheap).
"""

import asyncio
import concurrent.futures
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from jotauth.guard.testing import ManualClock
from jotauth.issuer.app import create_app
from jotauth.issuer.errors import ConflictError
from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore

MASTER = secrets.token_bytes(32)
START = 1_900_000_000.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_settings(database_url: str, **changes: Any) -> Settings:
    """Settings for tests: cheap Argon2, a fixed master key, open registration.

    Brute-force limits and the audit log are off: these tests log in many times from one
    address, and the limits have their own tests (tests/issuer/services, test_lockout_bypass.py).
    """
    values: dict[str, Any] = {
        "database_url": database_url,
        "issuer": "http://testserver",
        "audience": "jotauth",
        "mode": "production",
        "master_key": MASTER,
        "argon2_time_cost": 1,
        "argon2_memory_cost": 64,
        "argon2_parallelism": 1,
        "registration_open": True,
        "service_tokens": ("feed-secret-0123456789",),
        "ratelimit_enabled": False,
        "audit_log": False,
        # Many tests (errors, brute-force limits) post the password grant to /oauth/token;
        # its default (off, RFC 9700 2.4) is tested with password_grant=None in test_clients.
        "password_grant": True,
    }
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jotauth.db'}"


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[Any]:
    application = create_app(settings, clock=clock, sleep=clock.advance)
    yield application
    application.state.store.close()


@pytest.fixture
def store(app: Any) -> SQLStore:
    result: SQLStore = app.state.store
    return result


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def add_user(
    app: Any,
    username: str = "john",
    password: str = "password123",
    *,
    roles: list[str] | None = None,
    permissions: dict[str, list[str]] | None = None,
) -> Any:
    """Create a user through the service layer."""
    return await app.state.auth.create_user(
        username,
        password,
        roles=roles or ["user"],
        permissions=permissions if permissions is not None else {"articles": ["read", "create"]},
    )


async def login(
    client: httpx.AsyncClient, username: str = "john", password: str = "password123"
) -> dict[str, Any]:
    """POST /login and return the JSON body (asserting 200)."""
    response = await client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sync_transport(app: Any) -> httpx.MockTransport:
    """A blocking httpx transport into ``app`` (the guard's JWKS client and feed are sync)."""
    import anyio

    def handle(request: httpx.Request) -> httpx.Response:
        async def forward() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.send(
                    httpx.Request(
                        request.method, request.url, headers=request.headers,
                        content=request.read(),
                    )
                )  # fmt: skip
                await response.aread()
                return httpx.Response(
                    response.status_code, headers=response.headers, content=response.content
                )

        return anyio.run(forward)

    return httpx.MockTransport(handle)


class Kit:
    """Helpers handed to tests as a fixture (tests cannot import conftest modules)."""

    make_settings = staticmethod(make_settings)
    add_user = staticmethod(add_user)
    login = staticmethod(login)
    bearer = staticmethod(bearer)
    sync_transport = staticmethod(sync_transport)
    master = MASTER
    start = START


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


# -- the real server with chosen security settings (cookies, CORS, limits, alerts, metrics) ----


def _security_settings(database_url: str, **overrides: Any) -> Settings:
    """An https issuer (Secure cookies, HSTS) named auth.test, as a browser would reach it."""
    return Settings(
        database_url=database_url,
        issuer="https://auth.test",
        audience="jotauth",
        mode="production",
        master_key=bytes(range(32)),
        argon2_time_cost=1,
        argon2_memory_cost=64,
        argon2_parallelism=1,
        registration_open=True,
        **{"password_grant": True, **overrides},  # the limits guard the password grant too
    )


async def _add_john(app: Any) -> None:
    with contextlib.suppress(ConflictError):
        await app.state.auth.create_user("john", "password123")


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_app(**overrides)``: the real ``create_app`` with these ``Settings`` overrides
    on a fresh SQLite file, with the user john / password123. Synchronous, so that it also
    builds apps for servers started in a thread (the browser tests)."""
    apps: list[Any] = []

    def _make(**overrides: Any) -> Any:
        url = f"sqlite:///{tmp_path / f'security-{len(apps)}.db'}"
        app = create_app(_security_settings(url, **overrides))
        apps.append(app)
        # Its own thread and event loop: the caller may be inside a running loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _add_john(app)).result()
        return app

    yield _make
    for app in apps:
        app.state.store.close()


@pytest.fixture
def make_issuer(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Async twin of ``make_app`` (``database`` names the SQLite file, so that two apps can
    share one), for tests that already run in an event loop."""
    apps: list[Any] = []

    async def _make(database: str = "db.sqlite", **overrides: Any) -> Any:
        url = f"sqlite:///{tmp_path / database}"
        app = create_app(_security_settings(url, **overrides))
        apps.append(app)
        await _add_john(app)
        return app

    yield _make
    for app in apps:
        app.state.store.close()


def security_client(
    app: Any, ip: str = "203.0.113.7", base: str = "https://auth.test"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url=base
    )


@pytest.fixture
def make_client() -> Callable[..., httpx.AsyncClient]:
    """An in-process client for an app, with a chosen peer address."""
    return security_client


class Receiver:
    """A real webhook receiver on 127.0.0.1: records POSTs, can fail or stall on purpose."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        self.status = 500
        self.delay = 0.0
        self.got = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(receiver.status)
                    self.end_headers()
                    return
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.got.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.attempts = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Any:
    """A webhook receiver listening on a free 127.0.0.1 port."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clients() -> Any:
    """The in-memory client lookup the OpenID provider tests register clients in."""
    from tests.issuer.oidc_support import Client, RegistryClients

    return RegistryClients(
        Client("app-a"),
        Client("app-b", redirect_uris=("https://app-b.example/cb",)),
        Client(
            "third",
            client_type="confidential",
            redirect_uris=("https://third.example/cb",),
            first_party=False,
            secret="third-secret-0123456789",
        ),
    )


@pytest.fixture
def oidc_app(settings: Settings, clock: ManualClock, clients: Any) -> Iterator[Any]:
    """The app with the in-memory clients registered."""
    application = clients.bind(create_app(settings, clock=clock, sleep=clock.advance))
    yield application
    application.state.store.close()


@pytest.fixture
async def oidc(oidc_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of ``oidc_app`` (keeps cookies, follows no redirect)."""
    transport = httpx.ASGITransport(app=oidc_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c
