"""What the newest migration adds, computed, so that migration tests stay true as migrations
are added (they used to name the newest migration's table, and broke with each new one)."""

import tempfile
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from jotauth.store.sql.engine import make_engine
from jotauth.store.sql.migrate import SCRIPT_LOCATION, upgrade
from jotauth.store.sql.models import Base

__all__ = ["ALL_TABLES", "BELOW_HEAD", "NEWEST_COLUMNS", "columns_of"]

ALL_TABLES: Final = frozenset(Base.metadata.tables)
"""Every table of the schema at head (the models mirror the migrations)."""
ALL_COLUMNS: Final = frozenset(
    f"{table.name}.{column.name}"
    for table in Base.metadata.tables.values()
    for column in table.columns
)


def _below_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    head = ScriptDirectory.from_config(config).get_revision("head")
    assert head is not None
    assert isinstance(head.down_revision, str)
    return head.down_revision


def columns_of(connection: sa.Connection) -> frozenset[str]:
    """Every ``table.column`` of the database ``connection`` reads (Alembic's own left out)."""
    inspector = sa.inspect(connection)
    return frozenset(
        f"{table}.{column['name']}"
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for column in inspector.get_columns(table)
    )


def _columns_at(revision: str) -> frozenset[str]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'below.db'}")
        try:
            upgrade(engine, revision)
            with engine.connect() as connection:
                return columns_of(connection)
        finally:
            engine.dispose()


BELOW_HEAD: Final = _below_head()
"""The revision just below head."""
NEWEST_COLUMNS: Final = ALL_COLUMNS - _columns_at(BELOW_HEAD)
"""The ``table.column``s the newest migration adds, in new tables or old ones (a downgrade of
one step drops them): a marker of head that holds whatever the newest migration does."""
assert NEWEST_COLUMNS, "the newest migration adds no column: these tests need another marker"
