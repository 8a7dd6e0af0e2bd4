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
    """A guard's view of the feed: a cursor, moved to the cursor each page returns."""

    def __init__(self, store: SQLStore, limit: int = 1000) -> None:
        self.store = store
        self.limit = limit
        self.cursor = 0
        self.seen: list[str] = []

    def poll(self) -> list[str]:
        jtis: list[str] = []
        while True:
            page = self.store.feed_page(self.cursor, now=NOW, limit=self.limit)
            assert page.cursor >= self.cursor
            self.cursor = page.cursor
            jtis += [str(r.jti) for r in page.records]
            if not page.more:
                break
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
    feed = Feed(store, limit=7)  # small pages: many cursor moves past expired rows
    done = threading.Event()

    def follow() -> None:
        while not done.is_set():
            feed.poll()

    reader = in_thread(follow)

    def write(n: int) -> None:
        for i in range(50):
            store.revoke_token(f"j{n}-{i}", EXP, now=NOW)
            store.revoke_token(f"dead{n}-{i}", int(NOW) - 1, now=NOW)  # the cursor skips these

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    done.set()
    reader.join(10)
    feed.poll()
    assert sorted(feed.seen) == sorted(f"j{n}-{i}" for n in range(8) for i in range(50))
    assert len(feed.seen) == 400
    assert feed.cursor == 800


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


DEAD = int(NOW) - 1


def test_the_cursor_moves_past_a_feed_of_expired_events(store: SQLStore) -> None:
    """Every event expired, none purged: the poll returns no event but a cursor past them all,
    so the next poll reads nothing instead of the whole table again."""
    for i in range(5):
        store.revoke_token(f"dead{i}", DEAD, now=NOW)
    page = store.feed_page(0, now=NOW)
    assert (page.records, page.cursor, page.more) == ([], 5, False)
    assert store.feed_page(5, now=NOW) == page
    store.revoke_token("live", EXP, now=NOW)
    page = store.feed_page(5, now=NOW)
    assert ([r.jti for r in page.records], page.cursor, page.more) == (["live"], 6, False)


def test_a_page_of_expired_events_jumps_to_the_oldest_live_one(store: SQLStore) -> None:
    """A page that found only dead rows skips the dead stretch through the exp index and
    reads from the oldest live event; nothing live is skipped, nothing dead is sent."""
    for i in range(10):
        store.revoke_token(f"dead{i}", DEAD, now=NOW)
    store.revoke_token("live", EXP, now=NOW)  # position 11
    for i in range(5):
        store.revoke_token(f"late-dead{i}", DEAD, now=NOW)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        page = store.feed_page(0, now=NOW, limit=3)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert [r.jti for r in page.records] == ["live"]
    assert (page.cursor, page.more) == (13, True)  # looked at 11, 12, 13
    assert len(statements) == 5  # a page, max, two index probes, the page from the live one
    rest = store.feed_page(page.cursor, now=NOW, limit=3)
    assert (rest.records, rest.cursor, rest.more) == ([], 16, False)
    follow = Feed(store, limit=3)
    assert follow.poll() == ["live"]
    assert follow.cursor == 16


def test_a_page_of_expired_events_with_nothing_live_behind_ends_at_the_newest(
    store: SQLStore,
) -> None:
    """Nothing live past a dead page: the cursor goes to the newest position, has_more false."""
    for i in range(8):
        store.revoke_token(f"dead{i}", DEAD, now=NOW)
    page = store.feed_page(0, now=NOW, limit=3)
    assert (page.records, page.cursor, page.more) == ([], 8, False)


def test_user_and_key_events_never_expire_in_the_feed(store: SQLStore) -> None:
    """Events without an exp (logout everywhere, key revocation) are live forever, even
    behind a page of dead rows."""
    for i in range(4):
        store.revoke_token(f"dead{i}", DEAD, now=NOW)
    from jotauth.store.sql.revocations import publish

    with store.engine.begin() as connection:
        publish(connection, type="user", sub="7", not_before=5, created_at=NOW)
    page = store.feed_page(0, now=NOW + 10**6, limit=2)
    assert [(r.type, r.sub) for r in page.records] == [("user", "7")]
    assert page.cursor == 5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_finds_the_oldest_live_event_through_the_exp_index(store: SQLStore) -> None:
    """SQLite's plan for both probes searches ix_revocations_exp, never the position index
    (which it walked through every dead row when asked for min(position) directly)."""
    from jotauth.store.sql.revocations import live_probes

    for probe in live_probes(1000, 20000, NOW):
        sql = probe.compile(store.engine, compile_kwargs={"literal_binds": True})
        with store.engine.connect() as connection:
            plan = str(connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all())
        assert "ix_revocations_exp" in plan
        assert "ix_revocations_position" not in plan


def test_random_interleavings_of_live_and_dead_events_are_sent_exactly_once(
    store: SQLStore,
) -> None:
    """Property: whatever the mix of live and expired events and the page size, a guard that
    follows cursors receives every live event once, in position order, and no dead one."""
    import random

    rng = random.Random(17)
    live: list[str] = []
    feed = Feed(store, limit=rng.randint(1, 4))
    for round_ in range(12):
        for i in range(rng.randint(0, 12)):
            name = f"r{round_}-{i}"
            if rng.random() < 0.3:
                live.append(name)
                store.revoke_token(name, EXP, now=NOW)
            else:
                store.revoke_token(name, DEAD, now=NOW)
        feed.limit = rng.randint(1, 5)
        feed.poll()
    assert feed.seen == live
    assert feed.cursor == store.last_revocation_seq()


def test_retention_deleting_expired_events_never_renumbers_the_feed(store: SQLStore) -> None:
    """Deleting the newest (expired) event must not hand its position out again: a guard whose
    cursor passed it would skip the next event."""
    from jotauth.store.sql.retention import RetentionPolicy

    store.revoke_token("live", EXP, now=NOW)
    store.revoke_token("dead", DEAD - 7200, now=NOW)
    guard = Feed(store)
    guard.poll()
    assert guard.cursor == 2
    store.purge(RetentionPolicy(reuse_window=60, idle_ttl=60, audit_age=None), now=NOW)
    assert [r.jti for r in store.revocations_after(0, now=NOW)] == ["live"]
    store.revoke_token("next", EXP, now=NOW)
    assert guard.poll() == ["next"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_finds_the_oldest_live_event_through_the_exp_index(store: SQLStore) -> None:
    """EXPLAIN over 20,000 expired events: both live-event probes read ix_revocations_exp,
    not the table (the plan the 1M-row benchmark in docs/benchmarks.md measures)."""
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO revocations (position, type, jti, exp, created_at) "
            f"SELECT g, 'token', 'j' || g, {DEAD}, {NOW} FROM generate_series(1, 20000) g"
        )
        connection.exec_driver_sql("UPDATE revocation_counter SET last = 20000")
        connection.exec_driver_sql("ANALYZE revocations")
    from jotauth.store.sql.revocations import live_probes

    for probe in live_probes(1000, 20000, NOW):
        sql = probe.compile(store.engine, compile_kwargs={"literal_binds": True})
        with store.engine.connect() as connection:
            plan = "\n".join(r[0] for r in connection.exec_driver_sql(f"EXPLAIN {sql}"))
        assert "ix_revocations_exp" in plan
        assert "Seq Scan" not in plan
    page = store.feed_page(0, now=NOW, limit=1000)
    assert (page.records, page.cursor, page.more) == ([], 20000, False)
