"""The refresh and login hot paths: one write each, the audit row inside it (issue 17).

A refresh's rotation and its ``token_refreshed`` audit row, and a login's new session and its
``login_succeeded`` row, are written in one transaction (on PostgreSQL one statement), so a
crash between them can no longer leave an unaudited rotation, and a request pays one commit.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from tests.store_facts import live_tokens

from jotauth.issuer.app import create_app
from jotauth.issuer.services.auth import Client
from jotauth.store.sql.sqlite_writer import writer_lock

pytestmark = pytest.mark.anyio

_TABLES = ("refresh_tokens", "refresh_families", "audit_events", "users")
_WRITES = ("INSERT", "UPDATE", "DELETE", "WITH")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hot_app(request: pytest.FixtureRequest, tmp_path: Path, clock: Any, kit: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hot.db'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    app = create_app(kit.make_settings(url), clock=clock, sleep=clock.advance)
    yield app
    app.state.store.close()


class Statements:
    """The session statements a block sends, each with the transaction it ran in."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[str, int]] = []
        self.commits = 0
        self._transactions = 0
        self._current: dict[int, int] = {}

    def __enter__(self) -> "Statements":
        sa.event.listen(self.engine, "begin", self._begin)
        sa.event.listen(self.engine, "commit", self._commit)
        sa.event.listen(self.engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "begin", self._begin)
        sa.event.remove(self.engine, "commit", self._commit)
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)

    def _begin(self, conn: Any) -> None:
        self._transactions += 1
        self._current[id(conn)] = self._transactions

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(table in statement for table in _TABLES):
            self.seen.append((" ".join(statement.split()), self._current.get(id(conn), 0)))

    def writes(self) -> list[tuple[str, int]]:
        return [(s, t) for s, t in self.seen if s.upper().startswith(_WRITES)]


def _audit_rows(store: Any, type: str) -> list[Any]:
    return store.list_audit_events(type=type, limit=1000)


async def _session(client: httpx.AsyncClient, kit: Any) -> str:
    token: str = (await kit.login(client))["refresh_token"]
    return token


async def test_a_refresh_is_two_statements_and_one_write_with_its_audit_row(
    hot_app: Any, kit: Any
) -> None:
    """A refresh looks the token up, then makes one write (one transaction, one commit; on
    PostgreSQL one statement) that rotates the token and records the event; the recorder
    adds no row."""
    await kit.add_user(hot_app)
    store = hot_app.state.store
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hot_app), base_url="http://testserver"
    ) as client:
        token = await _session(client, kit)
        token = (await client.post("/refresh", json={"refresh_token": token})).json()[
            "refresh_token"
        ]  # warm: the key ring's first check is not part of every refresh
        before = len(_audit_rows(store, "token_refreshed"))
        with Statements(store.engine) as seen:
            response = await client.post("/refresh", json={"refresh_token": token})
        assert response.status_code == 200
    writes = seen.writes()
    assert len({transaction for _, transaction in writes}) == 1
    assert any("INSERT INTO audit_events" in statement for statement, _ in writes)
    assert any("UPDATE refresh_tokens" in statement for statement, _ in writes)
    if store.engine.dialect.name == "postgresql":
        assert len(seen.seen) == 2  # the lookup, then rotation + successor + touch + audit
    else:
        assert len(seen.seen) == 5  # the lookup, then one transaction of four
    assert seen.commits == 1
    rows = _audit_rows(store, "token_refreshed")
    assert len(rows) == before + 1
    assert rows[0].outcome == "success"
    assert rows[0].detail == {"sid": rows[0].detail["sid"], "raced": False}
    assert rows[0].user_id == "1"
    assert rows[0].username == "john"


async def test_a_login_is_two_statements_and_one_write_with_its_audit_row(
    hot_app: Any, kit: Any
) -> None:
    """A login looks the user up, then one write starts the session and records the event."""
    await kit.add_user(hot_app)
    store = hot_app.state.store
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hot_app), base_url="http://testserver"
    ) as client:
        await _session(client, kit)  # warm
        with Statements(store.engine) as seen:
            await _session(client, kit)
    writes = seen.writes()
    assert len({transaction for _, transaction in writes}) == 1
    assert any("INSERT INTO audit_events" in statement for statement, _ in writes)
    assert any("INSERT INTO refresh_families" in statement for statement, _ in writes)
    if store.engine.dialect.name == "postgresql":
        assert len(seen.seen) == 2
    else:
        assert len(seen.seen) == 4  # the user, then family + first token + audit row
    assert seen.commits == 1
    assert len(_audit_rows(store, "login_succeeded")) == 2


async def test_a_crash_before_the_audit_row_leaves_the_token_unrotated(
    hot_app: Any, kit: Any
) -> None:
    """When the audit row cannot be written the rotation is not either: the same refresh
    token still works afterwards (no false reuse), and every rotation has its audit row."""
    await kit.add_user(hot_app)
    store = hot_app.state.store
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hot_app), base_url="http://testserver"
    ) as client:
        token = await _session(client, kit)

    def crash(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "INSERT INTO audit_events" in statement:
            raise RuntimeError("the process died here")

    sa.event.listen(store.engine, "before_cursor_execute", crash)
    try:
        with pytest.raises(RuntimeError, match="died"):
            await hot_app.state.auth.refresh(token, Client("127.0.0.1", "test"))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", crash)
    assert _audit_rows(store, "token_refreshed") == []
    pair = await hot_app.state.auth.refresh(token, Client("127.0.0.1", "test"))
    assert pair.raced is False
    assert live_tokens(store, pair.family_id) == 1
    rows = _audit_rows(store, "token_refreshed")
    assert [(row.outcome, row.detail["raced"]) for row in rows] == [("success", False)]


async def test_sixteen_concurrent_refreshes_on_sqlite_all_succeed(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any, sqlite_url: str
) -> None:
    """16 clients refreshing 16 sessions at once on one SQLite file: every refresh succeeds
    (no "database is locked"), each session keeps one live token, each rotation its audit
    row, and no writer's turn is left taken."""
    await kit.add_user(app)
    tokens = [await _session(client, kit) for _ in range(16)]
    results: list[httpx.Response] = []

    async def one(token: str) -> None:
        for _ in range(3):
            response = await client.post("/refresh", json={"refresh_token": token})
            results.append(response)
            token = response.json().get("refresh_token", "")

    async with anyio.create_task_group() as group:
        for token in tokens:
            group.start_soon(one, token)
    assert [r.status_code for r in results] == [200] * 48
    families = {r.json()["refresh_token"] for r in results}
    assert len(families) == 48
    assert [f.id for f in store.list_families(limit=100) if live_tokens(store, f.id) != 1] == []
    assert len(_audit_rows(store, "token_refreshed")) == 48
    assert not writer_lock(Path(sqlite_url.removeprefix("sqlite:///"))).locked()
