"""``make_engine``: the SQLite file is owner-only, PostgreSQL URLs mean the shipped driver."""

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jotauth.store.sql import SQLStore
from jotauth.store.sql.engine import make_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which a plain open() makes files world-readable (0644)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_022")
def test_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    """A new SQLite database, its -wal and -shm files are 0600 although the umask allows 0644.

    They hold password hashes and sealed signing keys; before, the database was 0644.
    """
    database = tmp_path / "jotauth.db"
    store = SQLStore.from_url(f"sqlite:///{database}")
    try:
        with store.engine.connect() as connection:  # WAL files exist while a connection is open
            connection.exec_driver_sql("SELECT count(*) FROM users")
            names = {p.name: _mode(p) for p in tmp_path.iterdir()}
    finally:
        store.close()
    assert names == {"jotauth.db": 0o600, "jotauth.db-wal": 0o600, "jotauth.db-shm": 0o600}


@pytest.mark.usefixtures("umask_022")
def test_rollback_journal_is_owner_only(tmp_path: Path) -> None:
    """In rollback-journal mode the -journal file SQLite creates is 0600 as well."""
    database = tmp_path / "j.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode=DELETE")
            cursor.execute("CREATE TABLE t (a)")
            cursor.execute("BEGIN")
            cursor.execute("INSERT INTO t VALUES (1)")
            journal = tmp_path / "j.db-journal"
            assert journal.exists()
            assert _mode(journal) == 0o600
            cursor.execute("COMMIT")
        finally:
            raw.close()
    finally:
        engine.dispose()
    assert _mode(database) == 0o600


def test_existing_world_readable_database_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 0644 database (made by an older jotauth) and its WAL are made 0600, with a warning."""
    database = tmp_path / "old.db"
    SQLStore.from_url(f"sqlite:///{database}").close()
    wal = tmp_path / "old.db-wal"
    wal.write_bytes(b"")
    database.chmod(0o644)
    wal.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="jotauth.store"):
        store = SQLStore.from_url(f"sqlite:///{database}")
    try:
        assert _mode(database) == 0o600
        assert _mode(wal) == 0o600  # SQLite removes the WAL at the last close
    finally:
        store.close()
    warned = [r.getMessage() for r in caplog.records if r.name == "jotauth.store"]
    assert any("old.db was readable by other users (mode 0644)" in m for m in warned)
    assert any("old.db-wal was readable" in m for m in warned)


def test_owner_only_database_opens_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Opening a database that is already 0600 changes nothing and logs nothing."""
    database = tmp_path / "ok.db"
    SQLStore.from_url(f"sqlite:///{database}").close()
    with caplog.at_level(logging.WARNING, logger="jotauth.store"):
        SQLStore.from_url(f"sqlite:///{database}").close()
    assert [r for r in caplog.records if r.name == "jotauth.store"] == []
    assert _mode(database) == 0o600


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@127.0.0.1/db", "postgres://u@127.0.0.1/db", "postgresql+psycopg://u@h/db"],
)
def test_postgres_urls_use_psycopg_3(url: str) -> None:
    """`postgresql://` and `postgres://` use psycopg 3, the driver of jotauth[postgres].

    SQLAlchemy 2.0 alone would want psycopg2 (not installed), and no SQLAlchemy knows
    `postgres://`.
    """
    engine = make_engine(url)
    try:
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()
