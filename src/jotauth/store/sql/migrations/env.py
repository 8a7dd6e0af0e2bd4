"""Alembic environment for jotauth's migrations, run by jotauth itself or by plain ``alembic``.

jotauth (``jotauth.store.sql.migrate``) hands over an open connection in
``config.attributes["connection"]``. The plain ``alembic`` command (``alembic -c alembic.ini
upgrade head`` with the ``alembic.ini`` of the repository) has none, so an engine is built
here from the first of:

1. ``-x url=...`` on the command line,
2. ``sqlalchemy.url`` in the ini file,
3. ``JOTAUTH_DATABASE_URL``, the variable the server and the CLI read,
4. ``sqlite:///./jotauth.db``, the server's default.

The engine comes from ``make_engine``, so a SQLite file is created owner-only and a missing
PostgreSQL driver is one line naming the extra. ``alembic ... --sql`` prints the SQL instead.
"""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from jotauth.store import DEFAULT_DATABASE_URL
from jotauth.store.sql.engine import make_engine
from jotauth.store.sql.migrate import MIGRATION_LOCK
from jotauth.store.sql.models import Base

config = context.config
if "connection" not in config.attributes and config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("JOTAUTH_DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _standalone() -> None:
    """Plain ``alembic``: our own engine, with the lock jotauth takes on PostgreSQL."""
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=_url(), target_metadata=Base.metadata, render_as_batch=True, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
elif "connection" in config.attributes:
    _migrate(config.attributes["connection"])
else:
    _standalone()
