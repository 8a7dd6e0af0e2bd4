"""Login sessions (refresh families) and their refresh tokens.

The two writes every login and every refresh make (``create_family``, ``rotate_refresh``) take
the event's ``AuditEntry`` and write it in their own transaction. On PostgreSQL each is one
statement, so a refresh costs two statements in all (the lookup, in autocommit, and the
rotation) and one commit; on SQLite each is one transaction in the process.

The writes are NOT sent in autocommit although each is one statement: a statement that waits
(a row lock, a frozen server) after the client gave up on it (the watchdog cut the socket)
would still commit when it runs, so the client would answer 503 for a rotation that
happened. In a transaction the server commits only on the ``COMMIT`` the client sends after
it has the result; a cut connection rolls back (``tests/store/test_hot_statements.py``).

These three run on the driver itself (``_driver``, ``_hot``: most of their cost was
SQLAlchemy's per-statement machinery); the rest of the store stays on SQLAlchemy Core.
"""

from typing import Any

from sqlalchemy import Connection, Engine, select, tuple_, update

from jotauth.store.records import FamilyRecord, RefreshRecord, UserRecord
from jotauth.store.sql import _hot
from jotauth.store.sql._driver import cursor, from_json, to_json
from jotauth.store.sql._rows import Prefixed, family_row, user_row
from jotauth.store.sql.audit import AuditEntry, audit_params
from jotauth.store.sql.changes import REVOCATION, Changes
from jotauth.store.sql.models import Family, RefreshToken
from jotauth.store.sql.revocations import publish

__all__ = ["SessionQueries"]


def _audit_values(values: dict[str, Any], audit: AuditEntry) -> None:
    params = audit_params(audit)
    params["detail"] = to_json(params["detail"])
    values.update(params)


class SessionQueries:
    """Login sessions (refresh families) and their refresh tokens."""

    engine: Engine
    changes: Changes

    def _one_statement(self) -> Connection:
        """A connection for a single read: in autocommit on PostgreSQL.

        The ``SELECT`` is then its own transaction, so the driver sends neither ``BEGIN`` nor
        ``ROLLBACK``: one round trip instead of three. SQLite's driver opens no transaction
        for a ``SELECT`` anyway, and runs in the process.
        """
        connection = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection

    # -- refresh families and tokens ---------------------------------------------------------

    def create_family(
        self, family: FamilyRecord, token_hash: str, *, audit: AuditEntry | None = None
    ) -> None:
        """Start a login session with its first refresh token (and its audit row, if given)."""
        values = {
            "id": family.id,
            "user_id": family.user_id,
            "client_id": family.client_id,
            "scope": family.scope,
            "created_at": family.created_at,
            "last_used_at": family.last_used_at,
            "expires_at": family.expires_at,
            "ip": family.ip,
            "user_agent": family.user_agent,
            "narrowed": family.narrowed,
            "dpop_jkt": family.dpop_jkt,
            "access_ttl": family.access_ttl,
            "token_hash": token_hash,
            "family_id": family.id,
            "now": family.created_at,
        }
        if audit is not None:
            _audit_values(values, audit)
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as connection, cursor(connection) as driver:
                driver.execute(_hot.CREATE_SESSION[audit is not None], values)
            return
        with self.engine.begin() as connection, cursor(connection) as driver:
            driver.execute(_hot.INSERT_FAMILY, values)
            driver.execute(_hot.INSERT_TOKEN, values)
            if audit is not None:
                driver.execute(_hot.INSERT_AUDIT, values)

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
        with self._one_statement() as connection, cursor(connection) as driver:
            raw = driver.execute(_hot.FIND_SESSION, {"token_hash": token_hash})
            row = raw.fetchone()
            names = _hot.FIND_SESSION.names(raw, connection.dialect.name)
        if row is None:
            return None
        m = dict(zip(names, row, strict=True))
        token = RefreshRecord(
            id=m["t_id"],
            token_hash=m["t_token_hash"],
            family_id=m["t_family_id"],
            created_at=m["t_created_at"],
            used_at=m["t_used_at"],
            successor=None if m["t_successor"] is None else bytes(m["t_successor"]),
        )
        user = None
        if m["u_id"] is not None:
            m["u_roles"] = from_json(m["u_roles"])
            m["u_permissions"] = from_json(m["u_permissions"])
            user = user_row(Prefixed(m, "u_"))
        return token, family_row(Prefixed(m, "f_")), user

    def rotate_refresh(
        self,
        token_id: int,
        family_id: str,
        *,
        successor_sealed: bytes,
        successor_hash: str,
        now: float,
        audit: AuditEntry | None = None,
    ) -> bool:
        """Mark a token used and insert its successor, if and only if nobody did it first.

        The guarded ``UPDATE`` decides: on PostgreSQL a concurrent rotation blocks on the row
        lock and then sees ``used_at`` set; on SQLite writers are serialized. Exactly one
        caller gets True, and only the winner's successor, family touch and ``audit`` row are
        written, in the same transaction as the guarded update.
        """
        values: dict[str, Any] = {
            "now": now,
            "sealed": successor_sealed,
            "id": token_id,
            "token_hash": successor_hash,
            "family_id": family_id,
        }
        if audit is not None:
            _audit_values(values, audit)
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as connection, cursor(connection) as driver:
                won = driver.execute(_hot.ROTATE[audit is not None], values).fetchone()[0]
            return bool(won == 1)
        with self.engine.begin() as connection, cursor(connection) as driver:
            if driver.execute(_hot.MARK_USED, values).rowcount != 1:
                return False
            driver.execute(_hot.INSERT_TOKEN, values)
            driver.execute(_hot.TOUCH_FAMILY, values)
            if audit is not None:
                driver.execute(_hot.INSERT_AUDIT, values)
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
        if count and until is not None:
            self.changes.notify(REVOCATION)
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
