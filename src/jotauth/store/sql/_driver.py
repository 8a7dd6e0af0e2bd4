"""The DB-API driver itself for the few statements every login and refresh runs.

A prebuilt ``text()`` statement still goes through SQLAlchemy's execution context, bind and
result processing and textual column matching on every call: measured here, 250 µs of CPU
for the refresh lookup on SQLite (30 µs on the bare ``sqlite3`` cursor) and 480 µs on
PostgreSQL (150 µs on the bare psycopg cursor), most of a refresh's store time. The hot
statements therefore run on the cursor of a connection SQLAlchemy checked out: the pool,
its checkout events (the ping, the watchdog's deadline) and its transactions stay
SQLAlchemy's, and so do the engine's statement events (fired here); what is skipped is
only the per-statement compile, bind and result machinery. Errors are mapped as the
engine maps them (``engine.unavailable``): a lost or frozen database is StoreUnavailableError,
anything else a SQLAlchemy ``DBAPIError`` as before.

SQL is written once with ``:name`` parameters (sqlite3's named style) and turned into
psycopg's ``%(name)s`` for PostgreSQL; values arrive as the drivers return them, so JSON
columns are decoded here for SQLite (psycopg decodes them itself).
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from jotauth.store.sql.engine import unavailable

__all__ = ["Statement", "cursor", "from_json", "to_json"]

_NAME = re.compile(r"(?<![:\w]):(\w+)")


class Statement:
    """One SQL text in each driver's parameter style."""

    def __init__(self, sql: str) -> None:
        self.sqlite = " ".join(sql.split())
        self.postgresql = _NAME.sub(r"%(\1)s", self.sqlite)
        self._names: dict[str, tuple[str, ...]] = {}

    def names(self, raw: Any, dialect: str) -> tuple[str, ...]:
        """The result's column names, read from the cursor's ``description`` once per dialect.

        The text is fixed, so its columns are too; psycopg builds a ``Column`` object per
        column on every read of ``description`` (26 for the refresh lookup: about 20 µs).
        """
        names = self._names.get(dialect)
        if names is None:
            names = self._names[dialect] = tuple(column[0] for column in raw.description)
        return names

    def text(self, dialect: str) -> str:
        """The text for ``dialect`` (``sqlite`` or ``postgresql``)."""
        return self.postgresql if dialect == "postgresql" else self.sqlite


@contextmanager
def cursor(connection: Connection) -> Iterator["Cursor"]:
    """The driver cursor of ``connection``, with the engine's error mapping."""
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None:  # pragma: no cover - SQLAlchemy invalidated it already
        raise RuntimeError("the connection was invalidated")
    raw = dbapi_connection.cursor()
    try:
        yield Cursor(connection, dbapi_connection, raw)
    finally:
        raw.close()


class Cursor:
    """``execute`` a Statement; driver errors become what SQLAlchemy would have raised."""

    def __init__(self, connection: Connection, dbapi_connection: Any, raw: Any) -> None:
        self._connection = connection
        self._dbapi_connection = dbapi_connection
        self._raw = raw
        self._dialect = connection.dialect.name

    def execute(self, statement: Statement, params: dict[str, Any]) -> Any:
        """Run ``statement``; the raw cursor, for ``fetchone`` and ``rowcount``."""
        sql = statement.text(self._dialect)
        dialect = self._connection.dialect
        base = dialect.loaded_dbapi.Error
        connection = self._connection
        try:
            # The engine's statement listeners still see the statement: the watchdog's
            # deadline, SQLite's writer queue (whose bounded wait can fail as "locked"), and
            # any instrumentation (tests count and fail statements).
            connection.dispatch.before_cursor_execute(
                connection, self._raw, sql, params, None, False
            )
            self._raw.execute(sql, params)
        except base as exc:
            disconnect = dialect.is_disconnect(exc, self._dbapi_connection, self._raw)
            if disconnect:
                self._connection.invalidate(exc)
            wrapped = DBAPIError.instance(
                sql, None, exc, base, connection_invalidated=disconnect, dialect=dialect
            )
            mapped = unavailable(self._connection.engine, wrapped, disconnect=disconnect)
            raise (mapped or wrapped) from exc
        connection.dispatch.after_cursor_execute(connection, self._raw, sql, params, None, False)
        return self._raw


def to_json(value: Any) -> str:
    """A JSON parameter: text for both drivers (the SQL casts it on PostgreSQL)."""
    return json.dumps(value)


def from_json(value: Any) -> Any:
    """A JSON column as the driver returned it: text on SQLite, decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value
