"""Engines for SQLite (the embedded default) and PostgreSQL, tuned for several workers.

SQLite runs in WAL mode with a busy timeout, so several ``uvicorn`` workers (processes) and the
threadpool inside each share one file: readers never block, writers queue for up to 30 s
instead of failing with "database is locked". Inside one process writers queue on a lock
(``jotauth.store.sql.sqlite_writer``) rather than on SQLite's sleeping busy handler.

The SQLite file holds password hashes and sealed signing keys, so it is owner-only (0600)
whatever the umask: ``make_engine`` creates it with that mode before SQLite opens it, and
SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files it creates the mode of the main file
(``tests/store/test_engine.py`` checks all four). A file that others can read (made by an
older jotauth or by hand) is tightened to 0600 when opened, with a warning in the log.

PostgreSQL is a server that can be down or frozen, and every wait on it is bounded:

* ``connect_timeout`` — libpq's, for the whole connection set-up (a frozen server accepts the
  TCP connection but never answers the start-up packet);
* ``statement_timeout`` — sent as ``-c statement_timeout`` so a live but slow server cancels
  the statement itself, and kept by a client-side watchdog too (``jotauth.store.sql.deadline``)
  because a frozen server cancels nothing and the kernel keeps acknowledging its TCP
  segments, so neither TCP keepalives nor ``tcp_user_timeout`` can tell it from a busy one
  (they are set all the same: they catch a host or network that went away);
* ``pool_timeout`` — how long a request waits for a free pooled connection.

Errors that mean "the database is not there right now" (refused, reset, timed out, cancelled,
no free connection) become ``StoreUnavailableError`` here, the one place that knows
SQLAlchemy's and the driver's classes; the issuer answers 503 for it. A line is logged when
the database goes away and one when it is back, never one per request.
"""

import logging
import math
import os
import stat
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    TimeoutError as PoolTimeoutError,
)
from sqlalchemy.pool import QueuePool

from jotauth.errors import MissingDependencyError
from jotauth.store.errors import StoreError, StoreUnavailableError
from jotauth.store.sql import sqlite_writer
from jotauth.store.sql.deadline import Watchdog

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_STATEMENT_TIMEOUT",
    "SIDE_FILES",
    "DatabaseHealth",
    "health_of",
    "make_engine",
    "secure_sqlite_file",
    "sqlite_file",
    "unavailable",
]

logger = logging.getLogger("jotauth.store")

SIDE_FILES: Final = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database, named by suffix."""
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_STATEMENT_TIMEOUT: Final = 10.0
DEFAULT_POOL_TIMEOUT: Final = 5.0
_SQLITE_BUSY_SECONDS: Final = 30
_PING_IDLE: Final = 1.0
"""Seconds a pooled PostgreSQL connection may rest and still be used without a ping."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def secure_sqlite_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600, or tighten an existing one (and its side files).

    An empty file is what SQLite makes of a new database anyway, so creating it first only
    decides its mode, which SQLite then copies to the WAL and shared-memory files.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        return
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if not mode & 0o077:
            continue
        try:
            candidate.chmod(0o600)
        except OSError as exc:
            logger.warning(
                "%s is readable by other users (mode %04o) and cannot be made owner-only: %s",
                candidate, mode, exc.strerror,
            )  # fmt: skip
        else:
            logger.warning(
                "%s was readable by other users (mode %04o); it holds password hashes and "
                "sealed keys, so it is now owner-only (0600)",
                candidate, mode,
            )  # fmt: skip


def _postgres_url(parsed: URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver of ``jotauth[postgres]``.

    SQLAlchemy before 2.1 picks psycopg2 for a bare ``postgresql://`` (jotauth allows 2.0 and
    does not install psycopg2), and no version knows ``postgres://``, the form many hosting
    providers hand out.
    """
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


class DatabaseHealth:
    """Whether the database answered last time; logs each change of state once.

    Kept on the engine as ``engine.info``-like attribute ``jotauth_health`` (see
    ``health_of``) so the issuer can tell "down" from "slow" without a query.
    """

    def __init__(self, shown: str, *, clock: Any = time.monotonic) -> None:
        self.shown = shown
        self.up = True
        self._clock = clock
        self._since = 0.0

    def down(self, why: str) -> None:
        """The database failed a connection or a statement as unavailable."""
        if not self.up:
            return
        self.up = False
        self._since = self._clock()
        logger.error(
            "database %s unavailable (%s); answering 503 until it is back", self.shown, why
        )

    def back(self) -> None:
        """A connection was checked out and answered."""
        if self.up:
            return
        self.up = True
        logger.warning("database %s is back after %.1f s", self.shown, self._clock() - self._since)


class _BoundedQueuePool(QueuePool):
    """A QueuePool whose "no free connection in time" is StoreUnavailableError."""

    def connect(self) -> Any:
        try:
            return super().connect()
        except PoolTimeoutError as exc:
            health: DatabaseHealth | None = getattr(self, "jotauth_health", None)
            if health is not None:
                health.down("no free pooled connection")
            raise StoreUnavailableError(
                f"no free database connection within {self._timeout:g} s"
            ) from exc


def _why(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown"
    text = str(exc).strip().splitlines()
    first = text[0][:160] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _unavailable(context: ExceptionContext) -> bool:
    """Whether the error means the database is unreachable, frozen, overloaded or restarting."""
    if context.is_pre_ping:
        return False  # the pool recycles the connection itself
    return _is_unavailable(
        context.dialect.name, context.sqlalchemy_exception, context.is_disconnect
    )


def _is_unavailable(dialect: str, error: BaseException | None, disconnect: bool) -> bool:
    if disconnect:
        return True
    if dialect == "sqlite":
        return isinstance(error, OperationalError) and "locked" in str(error.orig).lower()
    # PostgreSQL: OperationalError covers refused, reset, timed out, cancelled (statement
    # timeout), shutting down, too many connections; InterfaceError a broken connection.
    return isinstance(error, OperationalError | InterfaceError)


def unavailable(
    engine: Engine, error: BaseException, *, disconnect: bool
) -> StoreUnavailableError | None:
    """The StoreUnavailableError for a driver error raised outside SQLAlchemy's execution
    (``jotauth.store.sql._driver``), logged once like the others, or None."""
    if not _is_unavailable(engine.dialect.name, error, disconnect):
        return None
    why = _why(getattr(error, "orig", None) or error)
    health = health_of(engine)
    if health is not None:
        health.down(why)
    return StoreUnavailableError(f"the database is unavailable ({why})")


def _install_unavailable(engine: Engine, health: DatabaseHealth) -> None:
    @event.listens_for(engine, "handle_error")
    def _map(context: ExceptionContext) -> None:
        if _unavailable(context):
            why = _why(context.original_exception)
            health.down(why)
            raise StoreUnavailableError(f"the database is unavailable ({why})")


def _postgres_connect_args(
    parsed: Any, connect_timeout: float, statement_timeout: float
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "connect_timeout": max(1, math.ceil(connect_timeout)),  # libpq takes whole seconds
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(connect_timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": math.ceil((statement_timeout + connect_timeout) * 1000),
    }
    if "options" not in parsed.query:
        args["options"] = f"-c statement_timeout={math.ceil(statement_timeout * 1000)}"
    return args


def _ping(dbapi_connection: Any) -> None:
    """``SELECT 1`` in autocommit, so the ping opens no transaction.

    In a transaction it would leave one open that the request then runs in, and a request
    that wants autocommit (one statement: no ``BEGIN``/``COMMIT`` round trips, see
    ``SessionQueries._one_statement``) could no longer switch to it. psycopg sets autocommit
    locally while the connection is idle: the toggle costs no round trip.
    """
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    finally:
        dbapi_connection.autocommit = autocommit


def _install_watchdog(
    engine: Engine, health: DatabaseHealth, connect_timeout: float, statement_timeout: float
) -> Watchdog:
    """Bound every checkout's ping and statement on the client side, and ping on checkout.

    The ping is the pool's pre-ping, done here so the watchdog covers it too (SQLAlchemy's own
    pre-ping runs before any pool event and would wait forever on a frozen server). A
    connection that was in use less than ``_PING_IDLE`` seconds ago, while the database is
    up, is not pinged: under load that is nearly every checkout, and the ping was half the
    round trips of a refresh. A server lost within that second fails the next statement as a
    disconnect instead, which the pool handles the same way (it invalidates that connection
    and the older ones), and the statement's own deadline bounds the wait as before.
    """
    watchdog = Watchdog(name="jotauth-db-watchdog")
    margin = 1.0  # a live server cancels first: its error names the statement timeout

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        fresh = record.info.pop("jotauth_fresh", False)
        idle = time.monotonic() - record.info.get("jotauth_checkin", -math.inf)
        if not fresh and health.up and idle < _PING_IDLE:
            watchdog.arm(dbapi_connection, statement_timeout + margin)
            return
        watchdog.arm(dbapi_connection, connect_timeout)
        if not fresh:
            try:
                _ping(dbapi_connection)
            except Exception as exc:
                watchdog.disarm(dbapi_connection)
                # The pool invalidates it (and the older ones) and connects anew.
                raise DisconnectionError(f"ping failed: {_why(exc)}") from exc
        watchdog.arm(dbapi_connection, statement_timeout + margin)
        health.back()

    @event.listens_for(engine, "connect")
    def _connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["jotauth_fresh"] = True

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            watchdog.disarm(dbapi_connection)
            record.info["jotauth_checkin"] = time.monotonic()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn: Any, *_args: Any) -> None:
        if conn.invalidated or conn.closed:
            return  # a lost connection: nothing is sent on it any more
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection is not None:
            watchdog.arm(dbapi_connection, statement_timeout + margin)

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        _statement(conn)

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Any) -> None:
        _statement(conn)

    return watchdog


def make_engine(
    url: str | URL,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    **options: Any,
) -> Engine:
    """An engine for ``url``; a SQLite file is created owner-only, its folder first.

    A missing driver is a ``MissingDependencyError`` naming the extra to install.
    """
    parsed = _postgres_url(make_url(url))
    shown = parsed.render_as_string(hide_password=True)
    health = DatabaseHealth(shown)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        writer = None
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            secure_sqlite_file(path)
            writer = sqlite_writer.writer_lock(path)
        engine = create_engine(
            parsed,
            connect_args={
                "check_same_thread": False,
                "timeout": _SQLITE_BUSY_SECONDS,
                "factory": sqlite_writer.WriterConnection,
            },
            pool_size=16,
            max_overflow=16,
            **options,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _writer(dbapi_connection: Any, _record: Any) -> None:
            if isinstance(dbapi_connection, sqlite_writer.WriterConnection):
                dbapi_connection.writer = writer

        event.listen(engine, "before_cursor_execute", sqlite_writer.before_cursor_execute)
    else:
        connect_args = _postgres_connect_args(parsed, connect_timeout, statement_timeout)
        connect_args.update(options.pop("connect_args", {}))
        try:
            engine = create_engine(
                parsed,
                poolclass=_BoundedQueuePool,
                pool_size=10,
                max_overflow=20,
                pool_timeout=pool_timeout,
                connect_args=connect_args,
                **options,
            )
        except ModuleNotFoundError as exc:
            if parsed.get_driver_name() == "psycopg":
                raise MissingDependencyError(
                    "PostgreSQL needs the psycopg driver", "postgres", exc
                ) from None
            raise StoreError(
                f"the database driver {parsed.get_driver_name()!r} is not installed; jotauth "
                "supports sqlite:///FILE and postgresql+psycopg:// "
                "(pip install 'jotauth[postgres]')"
            ) from None
        engine.pool.jotauth_health = health  # type: ignore[attr-defined]
        engine.jotauth_watchdog = _install_watchdog(  # type: ignore[attr-defined]
            engine, health, connect_timeout, statement_timeout
        )
    _install_unavailable(engine, health)
    engine.jotauth_health = health  # type: ignore[attr-defined]
    return engine


def health_of(engine: Engine) -> DatabaseHealth | None:
    """The health tracker ``make_engine`` attached, if the engine came from it."""
    health = getattr(engine, "jotauth_health", None)
    return health if isinstance(health, DatabaseHealth) else None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None for another database or an in-memory one."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).expanduser().resolve()
