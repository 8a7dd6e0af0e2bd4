"""``SQLStore``: every read and write of the auth server, on SQLAlchemy Core.

Methods are synchronous and short; the issuer calls them from a worker thread so the event
loop never waits on the database. Each write that must be atomic across workers is a single
transaction that starts with its guarded write (``UPDATE ... WHERE used_at IS NULL``), so
PostgreSQL row locks and SQLite's writer lock decide races, never a read made earlier.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from jotauth.store.errors import StoreError, StoreUnavailableError
from jotauth.store.sql import migrate
from jotauth.store.sql.audit import AuditQueries
from jotauth.store.sql.authorization import AuthorizationQueries
from jotauth.store.sql.changes import Changes
from jotauth.store.sql.clients import ClientQueries
from jotauth.store.sql.engine import make_engine
from jotauth.store.sql.keys import KeyQueries
from jotauth.store.sql.meta import MetaQueries
from jotauth.store.sql.models import Base
from jotauth.store.sql.retention import RetentionQueries
from jotauth.store.sql.revocations import RevocationQueries
from jotauth.store.sql.sessions import SessionQueries
from jotauth.store.sql.users import UserQueries

__all__ = ["SQLStore"]


class SQLStore(
    UserQueries,
    SessionQueries,
    RevocationQueries,
    RetentionQueries,
    KeyQueries,
    AuditQueries,
    MetaQueries,
    ClientQueries,
    AuthorizationQueries,
):
    """The store on one SQLAlchemy engine (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.changes = Changes()
        """Told after commit of each change a cache of this process copies."""

    @classmethod
    def from_url(cls, url: str, *, migrate_now: bool = True, **engine: Any) -> "SQLStore":
        """A store for ``url``, migrated to the newest schema unless ``migrate_now`` is false.

        ``engine`` are ``make_engine``'s timeouts (``connect_timeout``, ``statement_timeout``,
        ``pool_timeout``, seconds).
        """
        store = cls(make_engine(url, **engine))
        if migrate_now:
            store.upgrade()
        return store

    def upgrade(self) -> None:
        """Apply pending migrations."""
        migrate.upgrade(self.engine)

    def revision(self) -> str | None:
        """The schema revision of the database, None when it has never been migrated."""
        return migrate.current_revision(self.engine)

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
        except (SQLAlchemyError, StoreError):
            return False
        return True

    def wait_until_ready(
        self,
        seconds: float,
        *,
        report: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Wait up to ``seconds`` for the database to answer, saying so on each try.

        A server and its database often start together (compose, systemd, a cluster): the
        database may need a few seconds more. Tries back off from 0.5 s to 5 s, so ``report``
        gets one line per try, at most one every 5 s once the wait is long. Past ``seconds``,
        StoreUnavailableError names the database and the last reason.
        """
        shown = self.engine.url.render_as_string(hide_password=True)
        deadline = clock() + seconds
        delay = 0.5
        while True:
            try:
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
                return
            except (SQLAlchemyError, StoreError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            left = deadline - clock()
            if left <= 0:
                raise StoreUnavailableError(
                    f"the database {shown} did not answer within {seconds:g} s "
                    f"(JOTAUTH_DB_STARTUP_WAIT): {reason}"
                )
            pause = min(delay, left)
            report(
                f"jotauth: waiting for the database {shown}: {reason}; "
                f"retrying in {pause:.1f} s ({left:.0f} s left)"
            )
            sleep(pause)
            delay = min(delay * 2, 5.0)
