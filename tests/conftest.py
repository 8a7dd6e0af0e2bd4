"""Shared fixtures: the real PostgreSQL and Redis servers, when present.

Tests that need them take the ``postgres_url`` / ``redis_url`` fixtures. Where a server is not
reachable they skip with a message saying so, unless ``JOTAUTH_REQUIRE_SERVICES=1`` (set by
``.ci/run``), where a missing server fails the run instead of hiding behind a skip.
"""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "JOTAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("JOTAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _require(url: str, default_port: int, what: str) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{what} is not reachable at {url} (set JOTAUTH_TEST_{what.upper()}_URL)"
    if os.environ.get("JOTAUTH_REQUIRE_SERVICES") == "1":
        pytest.fail(message + "; JOTAUTH_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The SQLAlchemy URL of a real PostgreSQL database (skips, or fails in CI, when absent)."""
    return _require(POSTGRES_URL, 5432, "postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a real Redis server (skips, or fails in CI, when absent).

    Under pytest-xdist each worker gets its own logical database (gw0 -> 1, gw1 -> 2, ...), so
    counters, channels and keys of tests running at once never meet.
    """
    url = _require(REDIS_URL, 6379, "redis")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        parts = urlsplit(url)
        url = parts._replace(path=f"/{int(worker[2:]) % 15 + 1}").geturl()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in tmp_path, or a fresh PostgreSQL schema (dropped after).

    The PostgreSQL URL selects the schema with ``options=-csearch_path=...``, so everything that
    connects with it (the store, ``jotauth db``, plain ``alembic``) lands in that schema.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    import sqlalchemy as sa

    base: str = request.getfixturevalue("postgres_url")
    schema = "s_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
