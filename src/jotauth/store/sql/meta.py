"""Facts about the database itself: a small name -> value table (``jotauth_meta``)."""

from sqlalchemy import Engine, insert, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError

from jotauth.store.errors import StoreError
from jotauth.store.sql.models import Meta

__all__ = ["MetaQueries"]


class MetaQueries:
    """Facts about the database itself, such as which kind of server created it."""

    engine: Engine

    def get_meta(self, name: str) -> str | None:
        """The value recorded under ``name``; None when there is none or no table yet.

        Safe on a database that is not migrated (the CLI asks before it opens a runtime);
        a file that is not a database is a StoreError.
        """
        try:
            with self.engine.connect() as connection:
                if not inspect(connection).has_table(Meta.__tablename__):
                    return None
                value = connection.execute(
                    select(Meta.value).where(Meta.name == name)
                ).scalar_one_or_none()
        except SQLAlchemyError as exc:
            message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise StoreError(f"cannot read the database: {message[0] if message else exc}") from exc
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str, *, now: float) -> None:
        """Record ``value`` under ``name``, replacing what was there."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(Meta).where(Meta.name == name).values(value=value, set_at=now)
            ).rowcount
            if not changed:
                connection.execute(insert(Meta).values(name=name, value=value, set_at=now))
