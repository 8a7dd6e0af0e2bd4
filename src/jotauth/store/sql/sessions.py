"""Login sessions (refresh families) and their refresh tokens."""

from sqlalchemy import Engine, insert, select, tuple_, update

from jotauth.store.records import FamilyRecord, RefreshRecord, UserRecord
from jotauth.store.sql._rows import Prefixed, family_row, user_row
from jotauth.store.sql._statements import FIND_SESSION, INSERT_TOKEN, MARK_USED, TOUCH_FAMILY
from jotauth.store.sql.models import Family, RefreshToken
from jotauth.store.sql.revocations import publish

__all__ = ["SessionQueries"]


class SessionQueries:
    """Login sessions (refresh families) and their refresh tokens."""

    engine: Engine

    # -- refresh families and tokens ---------------------------------------------------------

    def create_family(self, family: FamilyRecord, token_hash: str) -> None:
        """Start a login session with its first refresh token."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(Family).values(
                    id=family.id,
                    user_id=family.user_id,
                    client_id=family.client_id,
                    scope=family.scope,
                    created_at=family.created_at,
                    last_used_at=family.last_used_at,
                    expires_at=family.expires_at,
                    ip=family.ip,
                    user_agent=family.user_agent,
                    narrowed=family.narrowed,
                )
            )
            connection.execute(
                insert(RefreshToken).values(
                    token_hash=token_hash, family_id=family.id, created_at=family.created_at
                )
            )

    def find_refresh(self, token_hash: str) -> tuple[RefreshRecord, FamilyRecord] | None:
        """The refresh token with this hash and its family, or None."""
        t, f = RefreshToken.__table__.c, Family.__table__.c
        with self.engine.connect() as connection:
            row = connection.execute(
                select(
                    *(c.label("t_" + c.name) for c in t),
                    *(c.label("f_" + c.name) for c in f),
                )
                .join_from(RefreshToken, Family, Family.id == RefreshToken.family_id)
                .where(RefreshToken.token_hash == token_hash)
            ).first()
        if row is None:
            return None
        m = row._mapping
        token = RefreshRecord(
            id=m["t_id"],
            token_hash=m["t_token_hash"],
            family_id=m["t_family_id"],
            created_at=m["t_created_at"],
            used_at=m["t_used_at"],
            successor=None if m["t_successor"] is None else bytes(m["t_successor"]),
        )
        family = family_row(Prefixed(m, "f_"))
        return token, family

    def find_session(
        self, token_hash: str
    ) -> tuple[RefreshRecord, FamilyRecord, UserRecord | None] | None:
        """The refresh token, its family and the family's user, in one round trip."""
        with self.engine.connect() as connection:
            row = connection.execute(FIND_SESSION, {"token_hash": token_hash}).first()
        if row is None:
            return None
        m = row._mapping
        token = RefreshRecord(
            id=m["t_id"],
            token_hash=m["t_token_hash"],
            family_id=m["t_family_id"],
            created_at=m["t_created_at"],
            used_at=m["t_used_at"],
            successor=None if m["t_successor"] is None else bytes(m["t_successor"]),
        )
        user = None if m["u_id"] is None else user_row(Prefixed(m, "u_"))
        return token, family_row(Prefixed(m, "f_")), user

    def rotate_refresh(
        self,
        token_id: int,
        family_id: str,
        *,
        successor_sealed: bytes,
        successor_hash: str,
        now: float,
    ) -> bool:
        """Mark a token used and insert its successor, if and only if nobody did it first.

        The guarded ``UPDATE`` is the first statement of the transaction: on PostgreSQL a
        concurrent rotation blocks on the row lock and then sees ``used_at`` set; on SQLite
        writers are serialized. Exactly one caller gets True.
        """
        with self.engine.begin() as connection:
            won = connection.execute(
                MARK_USED, {"now": now, "sealed": successor_sealed, "id": token_id}
            ).rowcount
            if won != 1:
                return False
            connection.execute(
                INSERT_TOKEN,
                {"token_hash": successor_hash, "family_id": family_id, "now": now},
            )
            connection.execute(TOUCH_FAMILY, {"now": now, "id": family_id})
        return True

    def revoke_family(
        self, family_id: str, *, now: float, reason: str, until: int | None = None
    ) -> bool:
        """Revoke a session; False when it was already revoked or does not exist.

        With ``until`` (the latest ``exp`` an access token of the session can have), a
        ``session`` feed event is published in the same transaction: every access token
        naming the session in its ``sid`` is refused until then, not only the one presented.
        """
        with self.engine.begin() as connection:
            count = connection.execute(
                update(Family)
                .where(Family.id == family_id, Family.revoked_at.is_(None))
                .values(revoked_at=now, revoke_reason=reason)
            ).rowcount
            if count and until is not None:
                publish(connection, type="session", sid=family_id, exp=until, created_at=now)
        return bool(count)

    def get_family(self, family_id: str) -> FamilyRecord | None:
        """One session, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(Family).where(Family.id == family_id)).first()
        return None if row is None else family_row(row)

    def list_families(
        self,
        *,
        user_id: int | None = None,
        active_at: float | None = None,
        limit: int = 100,
        after: tuple[float, str] | None = None,
    ) -> list[FamilyRecord]:
        """Sessions, newest first; with ``active_at`` only those alive at that time.

        ``after`` is the ``(created_at, id)`` of the last session of the previous page: the
        next page reads on from there in ``ix_refresh_families_created`` (or
        ``..._user_created`` for one user's), a range of the index rather than an ``OFFSET``.
        Dead sessions are skipped as the range is read; retention removes them a day after
        they end, so few stand in the way.
        """
        query = select(Family).order_by(Family.created_at.desc(), Family.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(Family.user_id == user_id)
        if active_at is not None:
            query = query.where(Family.revoked_at.is_(None), Family.expires_at > active_at)
        if after is not None:
            query = query.where(tuple_(Family.created_at, Family.id) < tuple_(*after))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [family_row(row) for row in rows]
