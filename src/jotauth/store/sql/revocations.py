"""The revocation feed and the per-request revocation check.

Why the feed can never skip a committed event
---------------------------------------------
A guard polls ``position > cursor`` and moves its cursor to the last position it received.
That is only safe if no event can later become visible *below* a position already handed
out. A number taken at insert (an identity column, a sequence) breaks this: rows become
visible at commit, and concurrent transactions commit in any order, so a poll that sees
``[1..5, 7, 8, 9, 11]`` moves to 11 and events 6 and 10, committed a moment later, are never
sent (1,080 concurrent logouts over three instances lost some this way).

So ``publish`` numbers an event from a single counter row, updated in the transaction that
inserts the event (``UPDATE revocation_counter SET last = last + 1 RETURNING last``):

- The update takes the row's lock, held until commit or rollback. A second publisher waits
  for it, and reads the counter only after the first transaction has ended - and PostgreSQL
  makes a commit visible before it releases its locks. So position N+1 cannot commit before
  N is visible; every snapshot sees a gap-free prefix of positions.
- A rollback rolls the counter back too: an abandoned event leaves no gap to wait for, and
  the next publisher reuses its number.
- SQLite has one writer at a time (the first write of a transaction takes the database's
  write lock until commit), which already gives commit order; the counter gives the same
  rule on both databases, and the same code.

The cost is that feed-publishing transactions commit one at a time: ``publish`` is the last
statement before commit in every caller, so the lock is held for one statement and the
commit, and unrelated writes (logins, refreshes) never take it. The alternatives were worse:
a "gap-aware" cursor that waits out a time window is only probably right, and PostgreSQL's
snapshot xmin (``pg_snapshot_xmin``) needs an xid8 cursor that SQLite has no counterpart for.

Every feed event must go through ``publish``; ``revocations.position`` has no default, so
a plain ``INSERT`` fails instead of creating an event the feed could skip.
"""

from typing import Any

from sqlalchemy import Connection, Engine, Select, func, insert, select, update

from jotauth.store.records import FeedPage, RevocationRecord
from jotauth.store.sql._rows import revocation_row
from jotauth.store.sql.changes import REVOCATION, Changes
from jotauth.store.sql.models import FeedCounter, Revocation, SigningKey, User

__all__ = ["RevocationQueries", "live_probes", "publish"]


def publish(connection: Connection, *, type: str, created_at: float, **fields: Any) -> int:
    """Insert one feed event in ``connection``'s transaction; its position, in commit order.

    Call it last in the transaction: the counter row stays locked until commit, so every
    other publisher waits that long. ``fields`` are the event's columns (``jti``, ``sub``,
    ``kid``, ``exp``, ``not_before``, or a new event type's), so a new type needs no change
    here.
    """
    position = connection.execute(
        update(FeedCounter)
        .where(FeedCounter.id == 1)
        .values(last=FeedCounter.last + 1)
        .returning(FeedCounter.last)
    ).scalar_one()
    connection.execute(
        insert(Revocation).values(position=position, type=type, created_at=created_at, **fields)
    )
    return int(position)


def _is_live(row: Any, now: float) -> bool:
    """Whether a guard still needs this event: one with an ``exp`` is dead once it passed.

    Token and session events carry the ``exp`` of the last access token they can stop; user
    and key events carry none and stay (a revoked key could sign new tokens forever). The
    ``exp`` index answers the same question (``_oldest_live``), so both must say the same.
    """
    return row.exp is None or row.exp >= int(now)


def _rows_after(connection: Connection, after: int, limit: int) -> list[Any]:
    """Up to ``limit + 1`` rows after ``after`` in position order: one range of its index."""
    return list(
        connection.execute(
            select(Revocation)
            .where(Revocation.position > after)
            .order_by(Revocation.position)
            .limit(limit + 1)
        ).all()
    )


def live_probes(after: int, newest: int, now: float) -> tuple[Select[Any], Select[Any]]:
    """The two queries that find the oldest live position in ``(after, newest]``.

    Both read ``ix_revocations_exp`` only: the oldest event without an ``exp`` (user and key
    events, which never expire) is one probe of its ``exp IS NULL`` end; the oldest of those
    whose ``exp`` is still ahead reads the range of live events (which the guard is about to
    receive anyway). In the second, position is written ``position + 0``: SQLite, without
    statistics, otherwise walked the position index through every dead row looking for the
    minimum (1.2 s at a million rows, where the ``exp`` range takes 0.1 ms).
    """
    unindexed = Revocation.position + 0
    return (
        select(func.min(Revocation.position)).where(
            Revocation.exp.is_(None), Revocation.position > after, Revocation.position <= newest
        ),
        select(func.min(unindexed)).where(
            Revocation.exp >= int(now), unindexed > after, unindexed <= newest
        ),
    )


def _oldest_live(connection: Connection, after: int, newest: int, now: float) -> int | None:
    """The smallest live position in ``(after, newest]``, or None (see ``live_probes``)."""
    found: list[int] = []
    for probe in live_probes(after, newest, now):
        value: int | None = connection.execute(probe).scalar_one()
        if value is not None:  # min() of no row is NULL
            found.append(int(value))
    return min(found) if found else None


class RevocationQueries:
    """The revocation feed and the per-request revocation check."""

    engine: Engine
    changes: Changes

    # -- revocation feed ---------------------------------------------------------------------

    def revoke_token(self, jti: str, exp: int, *, now: float) -> None:
        """Denylist an access token's jti until its exp (published in the feed)."""
        with self.engine.begin() as connection:
            publish(connection, type="token", jti=jti, exp=exp, created_at=now)
        self.changes.notify(REVOCATION)

    def feed_page(self, after: int, *, now: float, limit: int = 1000) -> FeedPage:
        """The live events after position ``after`` and the cursor past every row looked at.

        A page looks at up to ``limit`` rows in position order (the position index, nothing
        else) and answers the live ones; its cursor is the last position looked at, live or
        not, so a stretch of expired events is read once, never again on the next poll. A
        page that found only expired rows with more behind them asks the ``exp`` index for
        the oldest live event and reads from there: a fresh guard facing a million expired
        events costs as much as the live ones, not a scan of the dead.

        Never skips a committed event: every position up to the newest visible one is
        committed (positions are numbered in commit order, see the module doc), so moving
        past rows looked at, or past ``max(position)`` read *before* the live rows below it
        were searched, passes only rows that were seen or are dead. An expired event stays
        expired; a live one may expire meanwhile, which only means it is sent needlessly.
        """
        with self.engine.connect() as connection:
            rows = _rows_after(connection, after, limit)
            live = [row for row in rows[:limit] if _is_live(row, now)]
            if live or len(rows) <= limit:
                cursor = rows[min(len(rows), limit) - 1].position if rows else after
                return FeedPage(
                    [revocation_row(row) for row in live], max(cursor, after), len(rows) > limit
                )
            # A whole page of dead events, and more behind it: skip the dead stretch.
            dead_until = rows[limit - 1].position
            newest = connection.execute(select(func.max(Revocation.position))).scalar_one()
            oldest_live = _oldest_live(connection, dead_until, int(newest or 0), now)
            if oldest_live is None:
                return FeedPage([], max(int(newest or 0), dead_until), False)
            rows = _rows_after(connection, oldest_live - 1, limit)
        if not rows:  # gone since the probe (a clock far ahead of ours purged it): stop short
            return FeedPage([], oldest_live - 1, False)
        live = [row for row in rows[:limit] if _is_live(row, now)]
        cursor = rows[min(len(rows), limit) - 1].position
        return FeedPage([revocation_row(row) for row in live], cursor, len(rows) > limit)

    def revocations_after(
        self, after: int, *, now: float, limit: int = 1000
    ) -> list[RevocationRecord]:
        """The live events of ``feed_page(after)``, for callers that need no cursor."""
        return self.feed_page(after, now=now, limit=limit).records

    def last_revocation_seq(self) -> int:
        """The newest feed position (0 when the feed is empty)."""
        with self.engine.connect() as connection:
            value = connection.execute(select(func.max(Revocation.position))).scalar_one()
        return int(value or 0)

    def revoked_reason(
        self, *, jti: str | None, sub: str, iat: float, kid: str | None, sid: str | None = None
    ) -> str | None:
        """Why a verified access token is revoked, or None: one round trip per check."""
        with self.engine.connect() as connection:
            if (
                jti is not None
                and connection.execute(
                    select(Revocation.seq)
                    .where(Revocation.jti == jti, Revocation.type == "token")
                    .limit(1)
                ).first()
            ):
                return "token revoked"
            if (
                sid is not None
                and "\x00" not in sid
                and connection.execute(
                    select(Revocation.seq)
                    .where(Revocation.sid == sid, Revocation.type == "session")
                    .limit(1)
                ).first()
            ):
                return "session ended (logged out, or revoked)"
            if sub.isdigit():
                row = connection.execute(
                    select(User.not_before, User.disabled).where(User.id == int(sub))
                ).first()
                if row is None:
                    return "user no longer exists"
                if row.disabled:
                    return "user disabled"
                if iat < row.not_before:
                    return "session ended (logged out everywhere or password changed)"
            if (
                kid is not None
                and connection.execute(
                    select(SigningKey.kid).where(
                        SigningKey.kid == kid, SigningKey.state == "revoked"
                    )
                ).first()
            ):
                return "signing key revoked"
        return None
