"""Fixtures for the auth server: a fast app (low Argon2 cost) on a fresh database per test.

Time is a ``ManualClock`` handed to ``create_app``, so lifetimes, grace windows and scheduled
rotation are tested without sleeping. Signing keys are real (EdDSA key generation is cheap).
"""

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from jotauth.guard.testing import ManualClock
from jotauth.issuer.app import create_app
from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore

MASTER = secrets.token_bytes(32)
START = 1_900_000_000.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests log in many times from one address; brute-force limits are issue 5's tests."""
    monkeypatch.setenv("JOTAUTH_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("JOTAUTH_AUDIT_LOG", "false")


def make_settings(database_url: str, **changes: Any) -> Settings:
    """Settings for tests: cheap Argon2, a fixed master key, open registration."""
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


@pytest.fixture
def clients() -> Any:
    """The in-memory client lookup the OpenID provider tests register clients in."""
    from tests.issuer.oidc_support import Client, MemoryClients

    return MemoryClients(
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
    application = create_app(settings, clock=clock, sleep=clock.advance, clients=clients)
    yield application
    application.state.store.close()


@pytest.fixture
async def oidc(oidc_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of ``oidc_app`` (keeps cookies, follows no redirect)."""
    transport = httpx.ASGITransport(app=oidc_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c
