"""Users: create, find, update, and user-wide revocation."""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, String, and_, cast, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from jotauth.store.errors import DuplicateError
from jotauth.store.records import UserRecord
from jotauth.store.sql._rows import user_row
from jotauth.store.sql.changes import REVOCATION, Changes
from jotauth.store.sql.models import Family, User
from jotauth.store.sql.revocations import publish

__all__ = ["AdminCheck", "UserQueries"]

AdminCheck = Callable[[list[dict[str, Any]], list[dict[str, Any]]], None]
"""Sees the permissions of every enabled user that may hold an admin grant before and after
a change, inside its transaction; raises to refuse the change (nothing is written)."""

_ADMIN_LOCK = 74054  # advisory lock id: changes that could remove the last admin, one at a time


def _admins(connection: Connection) -> list[dict[str, Any]]:
    """The permissions of the enabled users that may hold an admin grant (a cheap superset)."""
    text = cast(User.permissions, String)
    rows = connection.execute(
        select(User.permissions).where(
            User.disabled.is_(False), or_(text.like('%"admin%'), text.like('%"*"%'))
        )
    ).all()
    return [dict(row.permissions or {}) for row in rows]


def _admins_before(connection: Connection, check: AdminCheck | None) -> list[dict[str, Any]]:
    """Serialize admin-affecting changes, then read the admins before this one.

    Two admins disabling each other at once must not both pass the check (write skew), so
    PostgreSQL takes an advisory transaction lock; on SQLite a dummy write takes the writer
    lock before the read.
    """
    if check is None:
        return []
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADMIN_LOCK})")
    else:
        connection.execute(update(User).where(User.id == -1).values(disabled=False))
    return _admins(connection)


class UserQueries:
    """Users: create, find, update, and user-wide revocation."""

    engine: Engine
    changes: Changes

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
        return user_row(row)

    def get_user(self, user_id: int) -> UserRecord | None:
        """The user with this id, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(User).where(User.id == user_id)).first()
        return None if row is None else user_row(row)

    def find_user_any(self, username_keys: Sequence[str]) -> UserRecord | None:
        """The user stored under the first of ``username_keys`` that has one, in one query."""
        keys = [key for key in username_keys if "\x00" not in key]
        if not keys:
            return None
        with self.engine.connect() as connection:
            rows = connection.execute(select(User).where(User.username_key.in_(keys))).all()
        by_key = {row.username_key: row for row in rows}
        for key in keys:
            if key in by_key:
                return user_row(by_key[key])
        return None

    def list_users(self, *, limit: int = 100, after: int | None = None) -> list[UserRecord]:
        """Users by id, the first ``limit`` with an id above ``after`` (keyset paging).

        The next page starts after the last id of this one: one range of the primary key per
        page, however deep, where ``OFFSET`` read and threw away every row before the page.
        """
        query = select(User).order_by(User.id).limit(limit)
        if after is not None:
            query = query.where(User.id > after)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [user_row(row) for row in rows]

    def update_user(
        self, user_id: int, *, check: AdminCheck | None = None, **values: Any
    ) -> UserRecord | None:
        """Set ``password_hash``, ``roles`` or ``permissions``; None when the user is gone.

        ``check`` may refuse the change by raising (see ``AdminCheck``).
        """
        allowed = {"password_hash", "roles", "permissions"}
        if not values or set(values) - allowed:
            raise ValueError(f"update_user sets only {sorted(allowed)}")
        with self.engine.begin() as connection:
            before = _admins_before(connection, check)
            row = connection.execute(
                update(User).where(User.id == user_id).values(**values).returning(*User.__table__.c)
            ).first()
            if row is not None and check is not None:
                check(before, _admins(connection))
        return None if row is None else user_row(row)

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
        check: AdminCheck | None = None,
    ) -> UserRecord | None:
        """Kill every older token of a user in one transaction (``check``: see AdminCheck).

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
            before = _admins_before(connection, check)
            row = connection.execute(
                update(User).where(User.id == user_id).values(**values).returning(*User.__table__.c)
            ).first()
            if row is None:
                return None
            if check is not None:
                check(before, _admins(connection))
            families = and_(Family.user_id == user_id, Family.revoked_at.is_(None))
            if keep_family is not None:
                families = and_(families, Family.id != keep_family)
            connection.execute(
                update(Family).where(families).values(revoked_at=now, revoke_reason=reason)
            )
            publish(
                connection, type="user", sub=str(user_id), not_before=row.not_before, created_at=now
            )
        self.changes.notify(REVOCATION)
        return user_row(row)

    def enable_user(self, user_id: int) -> UserRecord | None:
        """Allow a disabled user to log in again (old tokens stay dead)."""
        with self.engine.begin() as connection:
            row = connection.execute(
                update(User)
                .where(User.id == user_id)
                .values(disabled=False)
                .returning(*User.__table__.c)
            ).first()
        return None if row is None else user_row(row)
