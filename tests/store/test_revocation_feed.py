"""The revocation feed never skips a committed event, however commits interleave."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from jotauth.store.errors import StoreUnavailableError
from jotauth.store.sql import SQLStore

NOW = 1_900_000_000.0
EXP = int(NOW) + 3600


class Feed:
    """A guard's view of the feed: a cursor, moved to the last position each poll returns."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.cursor = 0
        self.seen: list[str] = []

    def poll(self) -> list[str]:
        records = self.store.revocations_after(self.cursor, now=NOW)
        if records:
            self.cursor = records[-1].seq
        jtis = [str(r.jti) for r in records]
        self.seen += jtis
        return jtis


def in_thread(target: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _backend_pid(store: SQLStore, pids: list[int]) -> Callable[..., None]:
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "revocation_counter" in statement or "INSERT INTO revocations" in statement:
            pids.append(conn.connection.dbapi_connection.info.backend_pid)

    return record


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_poll_never_moves_past_an_event_still_being_committed(store: SQLStore) -> None:
    """Event N's transaction stays open while N+1 commits: no poll may hand out N+1 before N.

    On PostgreSQL a number taken at insert let the poll see N+1, move its cursor there, and
    never send N once it committed. With positions numbered at commit order, N+1 waits for
    N's transaction; the poll sees neither, then both, in order.
    """
    feed = Feed(store)
    owner: list[int] = []
    inserted, release = threading.Event(), threading.Event()

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() in owner and statement.startswith("INSERT INTO revocations"):
            owner.clear()
            inserted.set()
            assert release.wait(30)

    pids: list[int] = []
    second_pid = _backend_pid(store, pids)
    sa.event.listen(store.engine, "after_cursor_execute", hold)
    try:

        def first() -> None:
            owner.append(threading.get_ident())
            store.revoke_token("first", EXP, now=NOW)

        one = in_thread(first)
        assert inserted.wait(10)
        sa.event.listen(store.engine, "before_cursor_execute", second_pid)
        two = in_thread(lambda: store.revoke_token("second", EXP, now=NOW))
        with store.engine.connect() as watcher:
            for _ in range(1000):  # until "second" committed (old code) or waits for "first"
                if not two.is_alive():
                    break
                waiting = (
                    pids
                    and watcher.execute(
                        sa.text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                        {"pid": pids[0]},
                    ).scalar_one_or_none()
                )
                if waiting == "Lock":
                    break
                two.join(0.01)
        feed.poll()
        release.set()
        one.join(10)
        two.join(10)
        feed.poll()
    finally:
        release.set()
        sa.event.remove(store.engine, "after_cursor_execute", hold)
        if sa.event.contains(store.engine, "before_cursor_execute", second_pid):
            sa.event.remove(store.engine, "before_cursor_execute", second_pid)
    assert feed.seen == ["first", "second"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_has_one_writer_so_insert_order_is_commit_order(store: SQLStore) -> None:
    """While event N's transaction is open no other connection can even write N+1, so on
    SQLite positions cannot commit out of order (the counter adds nothing but sameness)."""
    owner: list[int] = []
    inserted, release = threading.Event(), threading.Event()

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() in owner and statement.startswith("INSERT INTO revocations"):
            owner.clear()
            inserted.set()
            assert release.wait(30)

    sa.event.listen(store.engine, "after_cursor_execute", hold)
    try:

        def first() -> None:
            owner.append(threading.get_ident())
            store.revoke_token("first", EXP, now=NOW)

        one = in_thread(first)
        assert inserted.wait(10)
        with store.engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            # The engine answers "locked" as the store being unavailable (a 503 upstream).
            with pytest.raises(StoreUnavailableError, match="locked"):
                other.exec_driver_sql("DELETE FROM revocations WHERE jti = 'no such event'")
            other.rollback()
            other.exec_driver_sql("PRAGMA busy_timeout=30000")
        assert Feed(store).poll() == []  # readers never see the open transaction's row
        release.set()
        one.join(10)
    finally:
        release.set()
        sa.event.remove(store.engine, "after_cursor_execute", hold)
    assert Feed(store).poll() == ["first"]


def test_an_abandoned_event_leaves_no_gap(store: SQLStore) -> None:
    """A transaction that rolls back after publishing gives its position back: the next event
    takes it, so there is never a hole a reader would have to wait out or guess about."""

    def failing(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO revocations"):
            raise RuntimeError("the transaction fails after its feed insert")

    sa.event.listen(store.engine, "after_cursor_execute", failing)
    try:
        with pytest.raises(RuntimeError):
            store.revoke_token("abandoned", EXP, now=NOW)
    finally:
        sa.event.remove(store.engine, "after_cursor_execute", failing)
    store.revoke_token("kept", EXP, now=NOW)
    records = store.revocations_after(0, now=NOW)
    assert [(r.seq, r.jti) for r in records] == [(1, "kept")]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_guard_following_many_concurrent_logouts_misses_none(store: SQLStore) -> None:
    """Eight writers publishing 400 events while a reader polls: the reader gets every one."""
    feed = Feed(store)
    done = threading.Event()

    def follow() -> None:
        while not done.is_set():
            feed.poll()

    reader = in_thread(follow)

    def write(n: int) -> None:
        for i in range(50):
            store.revoke_token(f"j{n}-{i}", EXP, now=NOW)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    done.set()
    reader.join(10)
    feed.poll()
    assert sorted(feed.seen) == sorted(f"j{n}-{i}" for n in range(8) for i in range(50))
    assert len(feed.seen) == 400


def test_upgrading_keeps_the_cursors_guards_hold(store: SQLStore) -> None:
    """Events written before the upgrade keep their number and new ones continue after them,
    so a guard's cursor from before the upgrade neither repeats nor skips an event."""
    from jotauth.store.sql.migrate import upgrade

    store.drop_all()
    upgrade(store.engine, "0001")
    with store.engine.begin() as connection:
        for jti in ("a", "b", "c"):
            connection.exec_driver_sql(
                "INSERT INTO revocations (type, jti, exp, created_at) "
                f"VALUES ('token', '{jti}', {EXP}, {NOW})"
            )
    store.upgrade()
    store.revoke_token("d", EXP, now=NOW)
    assert [(r.seq, r.jti) for r in store.revocations_after(0, now=NOW)] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (4, "d"),
    ]
    assert [r.jti for r in store.revocations_after(2, now=NOW)] == ["c", "d"]
