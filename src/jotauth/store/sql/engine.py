"""Engines for SQLite (the embedded default) and PostgreSQL, tuned for several workers.

SQLite runs in WAL mode with a busy timeout, so several ``uvicorn`` workers (processes) and the
threadpool inside each share one file: readers never block, writers queue for up to 30 s
instead of failing with "database is locked".

The SQLite file holds password hashes and sealed signing keys, so it is owner-only (0600)
whatever the umask: ``make_engine`` creates it with that mode before SQLite opens it, and
SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files it creates the mode of the main file
(``tests/store/test_engine.py`` checks all four). A file that others can read (made by an
older jotauth or by hand) is tightened to 0600 when opened, with a warning in the log.
"""

import logging
import os
import stat
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from jotauth.errors import MissingDependencyError
from jotauth.store.errors import StoreError

__all__ = ["SIDE_FILES", "make_engine", "secure_sqlite_file", "sqlite_file"]

logger = logging.getLogger("jotauth.store")

SIDE_FILES: Final = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database, named by suffix."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
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


def make_engine(url: str | URL, **options: Any) -> Engine:
    """An engine for ``url``; a SQLite file is created owner-only, its folder first.

    A missing driver is a ``MissingDependencyError`` naming the extra to install.
    """
    parsed = _postgres_url(make_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            secure_sqlite_file(path)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=16,
            **options,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True, **options)
    except ModuleNotFoundError as exc:
        if parsed.get_driver_name() == "psycopg":
            raise MissingDependencyError(
                "PostgreSQL needs the psycopg driver", "postgres", exc
            ) from None
        raise StoreError(
            f"the database driver {parsed.get_driver_name()!r} is not installed; jotauth "
            "supports sqlite:///FILE and postgresql+psycopg:// (pip install 'jotauth[postgres]')"
        ) from None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None for another database or an in-memory one."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).expanduser().resolve()
