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

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from jotauth.store.records import RevocationRecord
from jotauth.store.sql._rows import revocation_row
from jotauth.store.sql.models import (
    Family,
    FeedCounter,
    RefreshToken,
    Revocation,
    SigningKey,
    User,
)

__all__ = ["RevocationQueries", "publish"]


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


# Events that name one token or one session, dead anyway once their ``exp`` has passed.
_EXPIRING = ("token", "session")


class RevocationQueries:
    """The revocation feed and the per-request revocation check."""

    engine: Engine

    # -- revocation feed ---------------------------------------------------------------------

    def revoke_token(self, jti: str, exp: int, *, now: float) -> None:
        """Denylist an access token's jti until its exp (published in the feed)."""
        with self.engine.begin() as connection:
            publish(connection, type="token", jti=jti, exp=exp, created_at=now)

    def revocations_after(
        self, after: int, *, now: float, limit: int = 1000
    ) -> list[RevocationRecord]:
        """Feed events at positions ``> after``, in position order; expired token events left out.

        Every event at a position up to the last one returned is committed and was returned
        (or had expired), so ``after`` = that position never skips one (see the module doc).
        """
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Revocation)
                .where(
                    Revocation.position > after,
                    or_(Revocation.type.notin_(_EXPIRING), Revocation.exp >= int(now)),
                )
                .order_by(Revocation.position)
                .limit(limit)
            ).all()
        return [revocation_row(row) for row in rows]

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

    def purge(self, *, now: float) -> int:
        """Delete expired denylist entries and the tokens of long-dead families."""
        with self.engine.begin() as connection:
            removed = connection.execute(
                delete(Revocation).where(Revocation.type.in_(_EXPIRING), Revocation.exp < int(now))
            ).rowcount
            dead = select(Family.id).where(
                or_(Family.expires_at < now, Family.revoked_at < now - 86400)
            )
            removed += connection.execute(
                delete(RefreshToken).where(RefreshToken.family_id.in_(dead))
            ).rowcount
        return int(removed)
