"""Retention removes exactly the rows no decision needs, in bounded batches, on both databases."""

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from jotauth.store.records import FamilyRecord
from jotauth.store.sql import SQLStore
from jotauth.store.sql.retention import RetentionPolicy

NOW = 1_900_000_000.0
POLICY = RetentionPolicy(
    reuse_window=1000, idle_ttl=5000, audit_age=10_000, dead_margin=100, feed_margin=50
)


@dataclass
class Session:
    """What the test wrote for one family, to compute what must survive."""

    id: str
    expires_at: float
    last_used_at: float
    revoked_at: float | None = None
    current: str = ""
    rotated: list[tuple[str, float]] = field(default_factory=list)  # (hash, used_at)

    def live(self, now: float) -> bool:
        """Live as the token service sees it: a refresh with its current token would work."""
        return (
            self.revoked_at is None
            and self.expires_at > now
            and self.last_used_at + POLICY.idle_ttl > now
        )

    def dead(self, now: float) -> bool:
        """Past the margin after ending: retention removes it whole."""
        before = now - POLICY.dead_margin
        return (
            self.expires_at < before
            or (self.revoked_at is not None and self.revoked_at < before)
            or self.last_used_at < before - POLICY.idle_ttl
        )


def _hashes(store: SQLStore) -> set[str]:
    with store.engine.connect() as connection:
        return {
            row[0] for row in connection.exec_driver_sql("SELECT token_hash FROM refresh_tokens")
        }


def _families(store: SQLStore) -> set[str]:
    with store.engine.connect() as connection:
        return {row[0] for row in connection.exec_driver_sql("SELECT id FROM refresh_families")}


def _write_sessions(store: SQLStore, rng: random.Random, count: int) -> list[Session]:
    sessions: list[Session] = []
    for n in range(count):
        start = NOW - rng.uniform(0, 20_000)
        session = Session(
            id=f"f{n}", expires_at=start + rng.uniform(3000, 30_000), last_used_at=start
        )
        session.current = f"h{n}-0"
        store.create_family(
            FamilyRecord(
                id=session.id, user_id=1, client_id="c", scope="", created_at=start,
                last_used_at=start, expires_at=session.expires_at,
            ),
            session.current,
        )  # fmt: skip
        at = start
        for i in range(1, rng.randint(0, 12) + 1):
            at += rng.uniform(0, 2500)
            if at > NOW:
                break
            found = store.find_refresh(session.current)
            assert found is not None
            successor = f"h{n}-{i}"
            assert store.rotate_refresh(
                found[0].id, session.id, successor_sealed=b"s", successor_hash=successor, now=at
            )
            session.rotated.append((session.current, at))
            session.current, session.last_used_at = successor, at
        if rng.random() < 0.2:
            session.revoked_at = rng.uniform(session.last_used_at, NOW)
            store.revoke_family(session.id, now=session.revoked_at, reason="test")
        sessions.append(session)
    return sessions


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_retention_removes_exactly_what_no_decision_needs(store: SQLStore, seed: int) -> None:
    """Property: over random sessions, rotations, revocations and lifetimes, retention keeps
    every token of a session not yet dead past its margin except rotated ones older than the
    reuse window, removes dead sessions whole, and never a live session's current token."""
    rng = random.Random(seed)
    sessions = _write_sessions(store, rng, 30)
    assert any(s.live(NOW) for s in sessions)
    assert any(s.dead(NOW) for s in sessions)
    assert any(used < NOW - POLICY.reuse_window for s in sessions if not s.dead(NOW)
               for _, used in s.rotated)  # fmt: skip
    report = store.purge(POLICY, now=NOW, batch=3)
    expected_hashes: set[str] = set()
    for session in sessions:
        if session.dead(NOW):
            continue
        expected_hashes.add(session.current)
        expected_hashes |= {h for h, used in session.rotated if used >= NOW - POLICY.reuse_window}
    assert _hashes(store) == expected_hashes
    assert _families(store) == {s.id for s in sessions if not s.dead(NOW)}
    for session in sessions:
        if session.live(NOW):
            found = store.find_session(session.current)
            assert found is not None
            assert found[0].used_at is None
    assert report.total == sum(1 + len(s.rotated) for s in sessions) - len(expected_hashes) + sum(
        1 for s in sessions if s.dead(NOW)
    )
    again = store.purge(POLICY, now=NOW, batch=3)
    assert again.total == 0


def test_batches_are_bounded_and_committed_one_by_one(store: SQLStore) -> None:
    """Each DELETE names at most ``batch`` keys in its own transaction; ``max_batches`` stops
    a run early, and the next run goes on where it stopped."""
    for i in range(10):
        store.revoke_token(f"dead{i}", int(NOW) - 3600, now=NOW)
    deletes: list[int] = []
    commits: list[int] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.startswith("DELETE"):
            deletes.append(len(parameters) - 1 if isinstance(parameters, dict | tuple) else 0)

    sa.event.listen(store.engine, "before_cursor_execute", on_execute)
    sa.event.listen(store.engine, "commit", lambda conn: commits.append(1))
    try:
        # Three rules find nothing (one batch each), the fourth gets the one batch left.
        first = store.purge(POLICY, now=NOW, batch=4, max_batches=4)
        assert (first.removed["expired_revocations"], first.batches) == (4, 4)
        second = store.purge(POLICY, now=NOW, batch=4)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", on_execute)
    assert second.removed["expired_revocations"] == 6
    assert len(deletes) == 3  # 4 rows in the first run, then 4 + 2: a search that finds
    assert all(keys <= 4 for keys in deletes)  # nothing deletes nothing
    assert len(commits) >= len(deletes)
    with pytest.raises(ValueError, match="at least one row"):
        store.purge(POLICY, now=NOW, batch=0)  # would otherwise loop, deleting nothing
    with pytest.raises(ValueError, match="no retention rule"):
        store.purge_batch("nothing", POLICY, now=NOW)
    assert store.purge_batch("expired_revocations", POLICY, now=NOW) == 0


def test_live_and_recent_feed_events_and_user_events_stay(store: SQLStore) -> None:
    """Expired events go only past the margin; live ones, and events without exp, stay."""
    from jotauth.store.sql.revocations import publish

    store.revoke_token("old", int(NOW) - 51, now=NOW)
    store.revoke_token("margin", int(NOW) - 49, now=NOW)
    store.revoke_token("live", int(NOW) + 600, now=NOW)
    with store.engine.begin() as connection:
        publish(connection, type="user", sub="1", not_before=5, created_at=NOW - 10**6)
    assert store.purge(POLICY, now=NOW).removed["expired_revocations"] == 1
    with store.engine.connect() as connection:
        kept = [r[0] for r in connection.exec_driver_sql(
            "SELECT COALESCE(jti, type) FROM revocations ORDER BY position")]  # fmt: skip
    assert kept == ["margin", "live", "user"]


def _audit(store: SQLStore, at: float) -> None:
    store.add_audit_event(
        type="login_succeeded", outcome="success", user_id="1", username="ann", ip=None,
        user_agent=None, detail={}, at=at,
    )  # fmt: skip


def test_audit_events_go_after_their_age_and_never_with_no_age(store: SQLStore) -> None:
    """Audit rows older than ``audit_age`` go; ``audit_age=None`` keeps every one."""
    for at in (NOW - 20_000, NOW - 10_001, NOW - 9_999, NOW):
        _audit(store, at)
    forever = RetentionPolicy(reuse_window=1000, idle_ttl=5000, audit_age=None)
    assert "audit_events" not in store.purge(forever, now=NOW).removed
    assert len(store.list_audit_events()) == 4
    assert store.purge(POLICY, now=NOW).removed["audit_events"] == 2
    assert sorted(e.at for e in store.list_audit_events()) == [NOW - 9_999, NOW]


def test_a_row_changed_between_search_and_delete_is_kept(store: SQLStore) -> None:
    """The DELETE re-checks the rule: a session revived after the search (here: made to
    expire later) is not deleted on the strength of the stale search."""
    store.create_family(
        FamilyRecord(id="f", user_id=1, client_id="c", scope="", created_at=NOW - 10**5,
                     last_used_at=NOW, expires_at=NOW - 10**4),
        "h",
    )  # fmt: skip
    store.purge_batch("dead_session_tokens", POLICY, now=NOW)
    assert _hashes(store) == set()

    store.create_family(
        FamilyRecord(id="g", user_id=1, client_id="c", scope="", created_at=NOW - 10**5,
                     last_used_at=NOW, expires_at=NOW - 10**4),
        "h2",
    )  # fmt: skip

    def revive(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("DELETE"):
            cursor.execute(
                "UPDATE refresh_families SET expires_at = %s WHERE id = 'g'" % (NOW + 10**4)
            )

    sa.event.listen(store.engine, "before_cursor_execute", revive)
    try:
        removed = store.purge_batch("dead_session_tokens", POLICY, now=NOW)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", revive)
    assert removed == 0
    assert _hashes(store) == {"h2"}
