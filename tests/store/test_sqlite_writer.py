"""SQLite writers of one process queue on the file's writer lock, not in SQLite's busy handler."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jotauth.store.errors import StoreUnavailableError
from jotauth.store.sql import SQLStore
from jotauth.store.sql.sqlite_writer import writer_lock

_WRITE = "UPDATE jotauth_meta SET name = name WHERE name = 'none'"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[SQLStore, Path]]:
    path = tmp_path / "writer.db"
    store = SQLStore.from_url(f"sqlite:///{path}")
    yield store, path
    store.close()


def test_a_second_writer_waits_for_its_turn_before_reaching_sqlite(
    sqlite_store: tuple[SQLStore, Path],
) -> None:
    """While one connection's write transaction is open, another connection of the process
    queues on the writer lock: with no time to wait it is refused by the queue itself, never
    by SQLite's busy handler, and the database is untouched."""
    store, path = sqlite_store
    with store.engine.connect() as first:
        first.exec_driver_sql(_WRITE)
        assert writer_lock(path).locked()
        with store.engine.connect() as second:
            second.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(StoreUnavailableError, match="no turn to write"):
                second.exec_driver_sql(_WRITE)
            second.rollback()
            second.exec_driver_sql("PRAGMA busy_timeout=30000")
        first.commit()
    assert not writer_lock(path).locked()


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_the_turn_passes_on_when_the_transaction_ends(
    sqlite_store: tuple[SQLStore, Path], end: str
) -> None:
    """Commit, rollback or a closed connection each hand the writer lock on at once."""
    store, path = sqlite_store
    connection = store.engine.connect()
    connection.exec_driver_sql(_WRITE)
    assert writer_lock(path).locked()
    getattr(connection, end)()
    assert not writer_lock(path).locked()
    if end != "close":
        connection.close()


def test_reads_never_wait_for_the_writer(sqlite_store: tuple[SQLStore, Path]) -> None:
    """A reader runs while a write transaction holds the lock (WAL): reads are not queued."""
    store, path = sqlite_store
    with store.engine.connect() as writer:
        writer.exec_driver_sql(_WRITE)
        assert writer_lock(path).locked()
        with store.engine.connect() as reader:
            assert reader.exec_driver_sql("SELECT count(*) FROM jotauth_meta").scalar_one() >= 0
        writer.rollback()


def test_sixteen_threads_writing_at_once_all_commit(sqlite_store: tuple[SQLStore, Path]) -> None:
    """16 threads each writing 20 audit rows at once: all 320 rows land, none is refused."""
    store, path = sqlite_store
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def write(i: int) -> None:
        try:
            start.wait()
            for n in range(20):
                store.add_audit_event(
                    type="login_failed", outcome="failure", user_id=None, username=f"{i}-{n}",
                    ip=None, user_agent=None, detail={}, at=float(n),
                )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(store.list_audit_events(limit=1000)) == 320
    assert not writer_lock(path).locked()
