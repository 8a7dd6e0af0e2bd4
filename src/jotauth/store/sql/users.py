"""Users: create, find, update, and user-wide revocation."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from jotauth.store.errors import DuplicateError
from jotauth.store.records import UserRecord
from jotauth.store.sql._rows import user_row
from jotauth.store.sql.models import Family, Revocation, User

__all__ = ["UserQueries"]


class UserQueries:
    """Users: create, find, update, and user-wide revocation."""

    engine: Engine

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

    def find_user(self, username_key: str) -> UserRecord | None:
        """The user whose normalized username is ``username_key``, or None."""
        if "\x00" in username_key:  # no stored name has one, and PostgreSQL text refuses NUL
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(User).where(User.username_key == username_key)).first()
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

    def list_users(self, *, limit: int = 100, offset: int = 0) -> list[UserRecord]:
        """Users by id."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(User).order_by(User.id).limit(limit).offset(offset)
            ).all()
        return [user_row(row) for row in rows]

    def update_user(self, user_id: int, **values: Any) -> UserRecord | None:
        """Set ``password_hash``, ``roles`` or ``permissions``; None when the user is gone."""
        allowed = {"password_hash", "roles", "permissions"}
        if not values or set(values) - allowed:
            raise ValueError(f"update_user sets only {sorted(allowed)}")
        with self.engine.begin() as connection:
            row = connection.execute(
                update(User).where(User.id == user_id).values(**values).returning(*User.__table__.c)
            ).first()
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
