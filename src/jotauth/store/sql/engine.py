"""Engines for SQLite (the embedded default) and PostgreSQL, tuned for several workers.

SQLite runs in WAL mode with a busy timeout, so several ``uvicorn`` workers (processes) and the
threadpool inside each share one file: readers never block, writers queue for up to 30 s
instead of failing with "database is locked".

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
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    TimeoutError as PoolTimeoutError,
)
from sqlalchemy.pool import QueuePool

from jotauth.store.errors import StoreUnavailableError
from jotauth.store.sql.deadline import Watchdog

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_STATEMENT_TIMEOUT",
    "DatabaseHealth",
    "health_of",
    "make_engine",
    "sqlite_file",
]

logger = logging.getLogger("jotauth.store")

DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_STATEMENT_TIMEOUT: Final = 10.0
DEFAULT_POOL_TIMEOUT: Final = 5.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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
    if context.is_disconnect:
        return True
    error = context.sqlalchemy_exception
    if context.dialect.name == "sqlite":
        return isinstance(error, OperationalError) and "locked" in str(error.orig).lower()
    # PostgreSQL: OperationalError covers refused, reset, timed out, cancelled (statement
    # timeout), shutting down, too many connections; InterfaceError a broken connection.
    return isinstance(error, OperationalError | InterfaceError)


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


def _install_watchdog(
    engine: Engine, health: DatabaseHealth, connect_timeout: float, statement_timeout: float
) -> Watchdog:
    """Bound every checkout's ping and statement on the client side, and ping on checkout.

    The ping is the pool's pre-ping, done here so the watchdog covers it too (SQLAlchemy's own
    pre-ping runs before any pool event and would wait forever on a frozen server).
    """
    watchdog = Watchdog(name="jotauth-db-watchdog")
    margin = 1.0  # a live server cancels first: its error names the statement timeout

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        watchdog.arm(dbapi_connection, connect_timeout)
        fresh = record.info.pop("jotauth_fresh", False)
        if not fresh:
            try:
                cursor = dbapi_connection.cursor()
                try:
                    cursor.execute("SELECT 1")
                finally:
                    cursor.close()
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
    def _checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            watchdog.disarm(dbapi_connection)

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
    url: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    **options: Any,
) -> Engine:
    """An engine for ``url``; for a SQLite file the parent folder is created first."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    health = DatabaseHealth(shown)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=16,
            **options,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        connect_args = _postgres_connect_args(parsed, connect_timeout, statement_timeout)
        connect_args.update(options.pop("connect_args", {}))
        engine = create_engine(
            url,
            poolclass=_BoundedQueuePool,
            pool_size=10,
            max_overflow=20,
            pool_timeout=pool_timeout,
            connect_args=connect_args,
            **options,
        )
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
