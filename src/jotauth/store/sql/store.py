"""``SQLStore``: every read and write of the auth server, on SQLAlchemy Core.

Methods are synchronous and short; the issuer calls them from a worker thread so the event
loop never waits on the database. Each write that must be atomic across workers is a single
transaction that starts with its guarded write (``UPDATE ... WHERE used_at IS NULL``), so
PostgreSQL row locks and SQLite's writer lock decide races, never a read made earlier.
"""

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Engine,
    LargeBinary,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from jotauth.store.errors import DuplicateError, StoreError
from jotauth.store.records import (
    AuditRecord,
    FamilyRecord,
    KeyRecord,
    RefreshRecord,
    RevocationRecord,
    UserRecord,
)
from jotauth.store.sql import migrate
from jotauth.store.sql.engine import make_engine
from jotauth.store.sql.models import (
    Audit,
    Base,
    Family,
    RefreshToken,
    Revocation,
    SigningKey,
    User,
)

__all__ = ["SQLStore"]


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        roles=list(row.roles or []),
        permissions=dict(row.permissions or {}),
        disabled=bool(row.disabled),
        not_before=int(row.not_before or 0),
        created_at=row.created_at,
    )


def _family(row: Any) -> FamilyRecord:
    return FamilyRecord(
        id=row.id,
        user_id=row.user_id,
        client_id=row.client_id,
        scope=row.scope,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
        ip=row.ip,
        user_agent=row.user_agent,
    )


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        alg=row.alg,
        state=row.state,
        public_jwk=dict(row.public_jwk),
        private_sealed=bytes(row.private_sealed),
        created_at=row.created_at,
        activated_at=row.activated_at,
        retire_after=row.retire_after,
        revoked_at=row.revoked_at,
    )


def _revocation(row: Any) -> RevocationRecord:
    return RevocationRecord(
        seq=row.seq,
        type=row.type,
        jti=row.jti,
        sub=row.sub,
        kid=row.kid,
        exp=row.exp,
        not_before=row.not_before,
        created_at=row.created_at,
    )


def _timestamp(value: float | dt.datetime | None) -> float | None:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return value


# The hot path (every refresh, every audit event) uses prebuilt text statements: SQLAlchemy
# builds and caches nothing per call, which roughly halves the store's share of a refresh.
_FIND_SESSION = text(
    """
    SELECT t.id AS t_id, t.token_hash AS t_token_hash, t.family_id AS t_family_id,
           t.created_at AS t_created_at, t.used_at AS t_used_at, t.successor AS t_successor,
           f.id AS f_id, f.user_id AS f_user_id, f.client_id AS f_client_id, f.scope AS f_scope,
           f.created_at AS f_created_at, f.last_used_at AS f_last_used_at,
           f.expires_at AS f_expires_at, f.revoked_at AS f_revoked_at,
           f.revoke_reason AS f_revoke_reason, f.ip AS f_ip, f.user_agent AS f_user_agent,
           u.id AS u_id, u.username AS u_username, u.password_hash AS u_password_hash,
           u.roles AS u_roles, u.permissions AS u_permissions, u.disabled AS u_disabled,
           u.not_before AS u_not_before, u.created_at AS u_created_at
    FROM refresh_tokens t
    JOIN refresh_families f ON f.id = t.family_id
    LEFT JOIN users u ON u.id = f.user_id
    WHERE t.token_hash = :token_hash
    """
).columns(t_successor=LargeBinary, u_roles=JSON, u_permissions=JSON, u_disabled=Boolean)
_MARK_USED = text(
    "UPDATE refresh_tokens SET used_at = :now, successor = :sealed "
    "WHERE id = :id AND used_at IS NULL"
).bindparams(bindparam("sealed", type_=LargeBinary))
_INSERT_TOKEN = text(
    "INSERT INTO refresh_tokens (token_hash, family_id, created_at) "
    "VALUES (:token_hash, :family_id, :now)"
)
_TOUCH_FAMILY = text("UPDATE refresh_families SET last_used_at = :now WHERE id = :id")
_INSERT_AUDIT = text(
    "INSERT INTO audit_events (type, outcome, user_id, username, ip, user_agent, detail, at) "
    "VALUES (:type, :outcome, :user_id, :username, :ip, :user_agent, :detail, :at)"
).bindparams(bindparam("detail", type_=JSON))


class _Prefixed:
    """Attribute access to the ``prefix``-labelled columns of a joined row."""

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]


class SQLStore:
    """The store on one SQLAlchemy engine (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, *, migrate_now: bool = True) -> "SQLStore":
        """A store for ``url``, migrated to the newest schema unless ``migrate_now`` is false."""
        store = cls(make_engine(url))
        if migrate_now:
            store.upgrade()
        return store

    def upgrade(self) -> None:
        """Apply pending migrations."""
        migrate.upgrade(self.engine)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def drop_all(self) -> None:
        """Drop every table, the migration marker included (tests only)."""
        with self.engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")

    @contextmanager
    def exclusive(self, lock_id: int) -> Iterator[None]:
        """Hold a cluster-wide lock (PostgreSQL advisory lock) while the block runs.

        Instances starting together on one PostgreSQL database use it so that only one makes
        the first keys. SQLite needs none: ``jotauth serve`` prepares the file before it
        starts its workers.
        """
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({int(lock_id)})")
            connection.commit()
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({int(lock_id)})")
                connection.commit()

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True

    # -- users -------------------------------------------------------------------------------

    def create_user(
        self,
        *,
        username: str,
        username_key: str,
        password_hash: str,
        roles: Sequence[str] = (),
        permissions: dict[str, list[str]] | None = None,
        now: float,
    ) -> UserRecord:
        """Insert a user; DuplicateError when the (normalized) username is taken."""
        try:
            with self.engine.begin() as connection:
                row = connection.execute(
                    insert(User)
                    .values(
                        username=username,
                        username_key=username_key,
                        password_hash=password_hash,
                        roles=list(roles),
                        permissions=dict(permissions or {}),
                        disabled=False,
                        not_before=0,
                        created_at=now,
                    )
                    .returning(*User.__table__.c)
                ).one()
        except IntegrityError as exc:
            raise DuplicateError(f"the username {username!r} is taken") from exc
        return _user(row)

    def get_user(self, user_id: int) -> UserRecord | None:
        """The user with this id, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(User).where(User.id == user_id)).first()
        return None if row is None else _user(row)

    def find_user(self, username_key: str) -> UserRecord | None:
        """The user whose normalized username is ``username_key``, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(User).where(User.username_key == username_key)).first()
        return None if row is None else _user(row)

    def list_users(self, *, limit: int = 100, offset: int = 0) -> list[UserRecord]:
        """Users by id."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(User).order_by(User.id).limit(limit).offset(offset)
            ).all()
        return [_user(row) for row in rows]

    def update_user(self, user_id: int, **values: Any) -> UserRecord | None:
        """Set ``password_hash``, ``roles`` or ``permissions``; None when the user is gone."""
        allowed = {"password_hash", "roles", "permissions"}
        if not values or set(values) - allowed:
            raise ValueError(f"update_user sets only {sorted(allowed)}")
        with self.engine.begin() as connection:
            row = connection.execute(
                update(User).where(User.id == user_id).values(**values).returning(*User.__table__.c)
            ).first()
        return None if row is None else _user(row)

    def revoke_user(
        self,
        user_id: int,
        *,
        not_before: int,
        now: float,
        reason: str,
        disable: bool | None = None,
        password_hash: str | None = None,
        keep_family: str | None = None,
    ) -> UserRecord | None:
        """Kill every older token of a user in one transaction.

        Sets the user's not-before (never lowering it), revokes their refresh families but
        ``keep_family``, publishes a ``user`` feed event; optionally (dis)ables the user and
        sets a new password hash, so a password change and its revocation land together.
        """
        values: dict[str, Any] = {"not_before": func.greatest(User.not_before, not_before)}
        if self.engine.dialect.name == "sqlite":
            values["not_before"] = func.max(User.not_before, not_before)
        if disable is not None:
            values["disabled"] = disable
        if password_hash is not None:
            values["password_hash"] = password_hash
        with self.engine.begin() as connection:
            row = connection.execute(
                update(User).where(User.id == user_id).values(**values).returning(*User.__table__.c)
            ).first()
            if row is None:
                return None
            families = and_(Family.user_id == user_id, Family.revoked_at.is_(None))
            if keep_family is not None:
                families = and_(families, Family.id != keep_family)
            connection.execute(
                update(Family).where(families).values(revoked_at=now, revoke_reason=reason)
            )
            connection.execute(
                insert(Revocation).values(
                    type="user", sub=str(user_id), not_before=row.not_before, created_at=now
                )
            )
        return _user(row)

    def enable_user(self, user_id: int) -> UserRecord | None:
        """Allow a disabled user to log in again (old tokens stay dead)."""
        with self.engine.begin() as connection:
            row = connection.execute(
                update(User)
                .where(User.id == user_id)
                .values(disabled=False)
                .returning(*User.__table__.c)
            ).first()
        return None if row is None else _user(row)

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
        family = _family(_Prefixed(m, "f_"))
        return token, family

    def find_session(
        self, token_hash: str
    ) -> tuple[RefreshRecord, FamilyRecord, UserRecord | None] | None:
        """The refresh token, its family and the family's user, in one round trip."""
        with self.engine.connect() as connection:
            row = connection.execute(_FIND_SESSION, {"token_hash": token_hash}).first()
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
        user = None if m["u_id"] is None else _user(_Prefixed(m, "u_"))
        return token, _family(_Prefixed(m, "f_")), user

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
                _MARK_USED, {"now": now, "sealed": successor_sealed, "id": token_id}
            ).rowcount
            if won != 1:
                return False
            connection.execute(
                _INSERT_TOKEN,
                {"token_hash": successor_hash, "family_id": family_id, "now": now},
            )
            connection.execute(_TOUCH_FAMILY, {"now": now, "id": family_id})
        return True

    def revoke_family(self, family_id: str, *, now: float, reason: str) -> bool:
        """Revoke a session; False when it was already revoked or does not exist."""
        with self.engine.begin() as connection:
            count = connection.execute(
                update(Family)
                .where(Family.id == family_id, Family.revoked_at.is_(None))
                .values(revoked_at=now, revoke_reason=reason)
            ).rowcount
        return bool(count)

    def get_family(self, family_id: str) -> FamilyRecord | None:
        """One session, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(Family).where(Family.id == family_id)).first()
        return None if row is None else _family(row)

    def list_families(
        self, *, user_id: int | None = None, active_at: float | None = None, limit: int = 100
    ) -> list[FamilyRecord]:
        """Sessions, newest first; with ``active_at`` only those alive at that time."""
        query = select(Family).order_by(Family.created_at.desc()).limit(limit)
        if user_id is not None:
            query = query.where(Family.user_id == user_id)
        if active_at is not None:
            query = query.where(Family.revoked_at.is_(None), Family.expires_at > active_at)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_family(row) for row in rows]

    def count_live_tokens(self, family_id: str) -> int:
        """Refresh tokens of a family not yet rotated (tests and admin views)."""
        with self.engine.connect() as connection:
            value = connection.execute(
                select(func.count())
                .select_from(RefreshToken)
                .where(RefreshToken.family_id == family_id, RefreshToken.used_at.is_(None))
            ).scalar_one()
        return int(value)

    # -- revocation feed ---------------------------------------------------------------------

    def revoke_token(self, jti: str, exp: int, *, now: float) -> None:
        """Denylist an access token's jti until its exp (published in the feed)."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(Revocation).values(type="token", jti=jti, exp=exp, created_at=now)
            )

    def revocations_after(
        self, after: int, *, now: float, limit: int = 1000
    ) -> list[RevocationRecord]:
        """Feed events with ``seq > after``, oldest first; expired token events left out."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Revocation)
                .where(
                    Revocation.seq > after,
                    or_(Revocation.type != "token", Revocation.exp >= int(now)),
                )
                .order_by(Revocation.seq)
                .limit(limit)
            ).all()
        return [_revocation(row) for row in rows]

    def last_revocation_seq(self) -> int:
        """The newest feed position (0 when the feed is empty)."""
        with self.engine.connect() as connection:
            value = connection.execute(select(func.max(Revocation.seq))).scalar_one()
        return int(value or 0)

    def revoked_reason(
        self, *, jti: str | None, sub: str, iat: float, kid: str | None
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
                delete(Revocation).where(Revocation.type == "token", Revocation.exp < int(now))
            ).rowcount
            dead = select(Family.id).where(
                or_(Family.expires_at < now, Family.revoked_at < now - 86400)
            )
            removed += connection.execute(
                delete(RefreshToken).where(RefreshToken.family_id.in_(dead))
            ).rowcount
        return int(removed)

    # -- signing keys ------------------------------------------------------------------------

    def list_keys(self, states: Iterable[str] | None = None) -> list[KeyRecord]:
        """Keys of the ring, oldest first."""
        query = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
        if states is not None:
            query = query.where(SigningKey.state.in_(list(states)))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_key(row) for row in rows]

    def add_key(self, key: KeyRecord) -> None:
        """Insert a key of the ring."""
        with self.engine.begin() as connection:
            self._insert_key(connection, key)

    @staticmethod
    def _insert_key(connection: Connection, key: KeyRecord) -> None:
        connection.execute(
            insert(SigningKey).values(
                kid=key.kid,
                alg=key.alg,
                state=key.state,
                public_jwk=key.public_jwk,
                private_sealed=key.private_sealed,
                created_at=key.created_at,
                activated_at=key.activated_at,
                retire_after=key.retire_after,
            )
        )

    def rotate_keys(
        self,
        *,
        next_kid: str,
        active_kid: str | None,
        new_next: KeyRecord,
        now: float,
        retire_after: float,
    ) -> bool:
        """Promote ``next_kid`` to active, the active key to retiring, add ``new_next``.

        Guarded by the states it expects, so two workers rotating at once rotate once.
        """
        with self.engine.begin() as connection:
            promoted = connection.execute(
                update(SigningKey)
                .where(SigningKey.kid == next_kid, SigningKey.state == "next")
                .values(state="active", activated_at=now)
            ).rowcount
            if promoted != 1:
                connection.rollback()
                return False
            if active_kid is not None:
                connection.execute(
                    update(SigningKey)
                    .where(SigningKey.kid == active_kid, SigningKey.state == "active")
                    .values(state="retiring", retire_after=retire_after)
                )
            self._insert_key(connection, new_next)
        return True

    def revoke_key(self, kid: str, *, now: float) -> KeyRecord | None:
        """Mark a key revoked and publish it in the feed; None when unknown or already revoked."""
        with self.engine.begin() as connection:
            row = connection.execute(
                update(SigningKey)
                .where(SigningKey.kid == kid, SigningKey.state != "revoked")
                .values(state="revoked", revoked_at=now)
                .returning(*SigningKey.__table__.c)
            ).first()
            if row is None:
                return None
            connection.execute(insert(Revocation).values(type="key", kid=kid, created_at=now))
        return _key(row)

    def retire_keys(self, *, now: float) -> int:
        """Retiring keys whose last token has expired become retired (unpublished)."""
        with self.engine.begin() as connection:
            count = connection.execute(
                update(SigningKey)
                .where(SigningKey.state == "retiring", SigningKey.retire_after <= now)
                .values(state="retired")
            ).rowcount
        return int(count)

    # -- audit -------------------------------------------------------------------------------

    def add_audit_event(
        self,
        *,
        type: str,
        outcome: str,
        user_id: str | None,
        username: str | None,
        ip: str | None,
        user_agent: str | None,
        detail: dict[str, Any],
        at: float,
    ) -> None:
        """Record one auth event."""
        with self.engine.begin() as connection:
            connection.execute(
                _INSERT_AUDIT,
                {
                    "type": type,
                    "outcome": outcome,
                    "user_id": user_id,
                    "username": None if username is None else username[:256],
                    "ip": None if ip is None else ip[:64],
                    "user_agent": None if user_agent is None else user_agent[:256],
                    "detail": detail,
                    "at": at,
                },
            )

    def list_audit_events(
        self,
        *,
        type: str | None = None,
        user_id: str | None = None,
        outcome: str | None = None,
        since: float | dt.datetime | None = None,
        until: float | dt.datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Audit events matching every filter given, newest first."""
        query = select(Audit).order_by(Audit.at.desc(), Audit.id.desc()).limit(limit)
        if type is not None:
            query = query.where(Audit.type == type)
        if user_id is not None:
            query = query.where(Audit.user_id == user_id)
        if outcome is not None:
            query = query.where(Audit.outcome == outcome)
        start, end = _timestamp(since), _timestamp(until)
        if start is not None:
            query = query.where(Audit.at >= start)
        if end is not None:
            query = query.where(Audit.at <= end)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            AuditRecord(
                id=row.id,
                type=row.type,
                outcome=row.outcome,
                user_id=row.user_id,
                username=row.username,
                ip=row.ip,
                user_agent=row.user_agent,
                detail=dict(row.detail or {}),
                at=row.at,
            )
            for row in rows
        ]


def wrap_errors(error: SQLAlchemyError) -> StoreError:
    """A StoreError naming the failure class, without SQL or parameters."""
    return StoreError(f"database error: {type(error).__name__}")
