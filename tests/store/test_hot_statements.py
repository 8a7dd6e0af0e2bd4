"""The login and refresh statements run on the driver and keep the engine's error mapping."""

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from tests.store_facts import live_tokens

from jotauth.store import FamilyRecord
from jotauth.store.errors import StoreUnavailableError
from jotauth.store.sql import SQLStore
from jotauth.store.sql.audit import AuditEntry

NOW = 1_900_000_000.0


def _family(store: SQLStore, fid: str = "fam1", token_hash: str = "a" * 64) -> None:
    store.create_family(
        FamilyRecord(
            id=fid, user_id=1, client_id="c", scope="s", created_at=NOW,
            last_used_at=NOW, expires_at=NOW + 100, narrowed=True, ip="127.0.0.1",
        ),
        token_hash,
        audit=AuditEntry("login_succeeded", "success", "1", "john", "127.0.0.1", "ua",
                         {"sid": fid, "n\u00e9": [1, 2]}, NOW),
    )  # fmt: skip


def _rotate(store: SQLStore, token_id: int, audit: bool = True) -> bool:
    return store.rotate_refresh(
        token_id, "fam1", successor_sealed=b"\x00sealed\xff", successor_hash="b" * 64,
        now=NOW + 1,
        audit=AuditEntry("token_refreshed", "success", "1", "john", None, None,
                         {"sid": "fam1", "raced": False}, NOW + 1) if audit else None,
    )  # fmt: skip


def test_a_session_and_its_rotation_read_back_exactly(store: SQLStore) -> None:
    """Every column written on the driver reads back as written, audit rows included."""
    user = store.create_user(
        username="john", username_key="john", password_hash="h", now=NOW,
        roles=["user"], permissions={"articles": ["read"]},
    )  # fmt: skip
    assert user.id == 1
    _family(store)
    found = store.find_session("a" * 64)
    assert found is not None
    token, family, owner = found
    assert (token.used_at, token.successor, family.narrowed, family.ip) == (
        None, None, True, "127.0.0.1"
    )  # fmt: skip
    assert owner is not None
    assert (owner.roles, owner.permissions, owner.disabled) == (
        ["user"], {"articles": ["read"]}, False
    )  # fmt: skip
    assert _rotate(store, token.id) is True
    assert _rotate(store, token.id) is False  # the guarded update matches nothing now
    after = store.find_session("a" * 64)
    assert after is not None
    assert (after[0].used_at, after[0].successor) == (NOW + 1, b"\x00sealed\xff")
    assert after[1].last_used_at == NOW + 1
    assert live_tokens(store, "fam1") == 1
    rows = store.list_audit_events(limit=10)
    assert [(r.type, r.detail, r.ip) for r in rows] == [
        ("token_refreshed", {"sid": "fam1", "raced": False}, None),
        ("login_succeeded", {"sid": "fam1", "n\u00e9": [1, 2]}, "127.0.0.1"),
    ]


def test_a_lost_race_writes_no_audit_row(store: SQLStore) -> None:
    """The loser of a rotation writes neither a successor nor its audit row."""
    _family(store)
    found = store.find_session("a" * 64)
    assert found is not None
    assert _rotate(store, found[0].id, audit=False) is True
    assert _rotate(store, found[0].id) is False
    assert [r.type for r in store.list_audit_events(limit=10)] == ["login_succeeded"]


def test_a_duplicate_is_still_a_sqlalchemy_integrity_error(store: SQLStore) -> None:
    """A driver error that is not an outage surfaces as SQLAlchemy's error, data intact."""
    _family(store)
    with pytest.raises(IntegrityError):
        _family(store, fid="fam2")  # the same first token hash
    assert store.get_family("fam2") is None
    assert len(store.list_audit_events(limit=10)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_locked_by_another_process_is_unavailable(store: SQLStore, tmp_path: Path) -> None:
    """A writer outside this process holding the file past the busy timeout: the rotation
    answers StoreUnavailableError (a 503 upstream), and works once the file is free."""
    _family(store)
    found = store.find_session("a" * 64)
    assert found is not None

    def short_busy(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    sa.event.listen(store.engine, "checkout", short_busy)
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailableError, match="locked"):
            _rotate(store, found[0].id)
        other.execute("ROLLBACK")
        assert _rotate(store, found[0].id) is True
    finally:
        other.close()
        sa.event.remove(store.engine, "checkout", short_busy)


@pytest.mark.postgres
def test_postgres_statement_deadline_bounds_the_rotation(postgres_url: str) -> None:
    """A rotation stuck behind a row lock is stopped at its statement deadline (the
    watchdog: this URL sets its own ``options``) and is StoreUnavailableError, and it is NOT
    committed when the lock goes away after the client gave up (the client said 503): the
    token is still unused and the next rotation wins."""
    import uuid

    schema = "h_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in postgres_url else "?"
    store = SQLStore.from_url(
        f"{postgres_url}{sep}options=-csearch_path%3D{schema}", statement_timeout=1
    )
    try:
        _family(store)
        found = store.find_session("a" * 64)
        assert found is not None
        with admin.connect() as holder:  # another client, outside the store's watchdog
            holder.exec_driver_sql(
                f'SELECT 1 FROM "{schema}".refresh_tokens WHERE id = {found[0].id} FOR UPDATE'
            )
            with pytest.raises(StoreUnavailableError):
                _rotate(store, found[0].id)
            holder.rollback()
        assert live_tokens(store, "fam1") == 1
        assert _rotate(store, found[0].id) is True
        assert [r.type for r in store.list_audit_events(limit=10)] == [
            "token_refreshed", "login_succeeded"
        ]  # fmt: skip
    finally:
        store.close()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_no_turn_to_write_is_unavailable(store: SQLStore) -> None:
    """The writer queue's bounded wait running out on the driver path is StoreUnavailableError
    too (not a raw driver error, not a 500), and nothing was written."""
    _family(store)
    found = store.find_session("a" * 64)
    assert found is not None

    def no_wait(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    sa.event.listen(store.engine, "checkout", no_wait)
    try:
        with store.engine.connect() as first:
            first.exec_driver_sql("UPDATE jotauth_meta SET name = name WHERE name = 'none'")
            with pytest.raises(StoreUnavailableError, match="no turn to write"):
                _rotate(store, found[0].id)
            first.rollback()
        assert live_tokens(store, "fam1") == 1
        assert _rotate(store, found[0].id) is True
    finally:
        sa.event.remove(store.engine, "checkout", no_wait)
