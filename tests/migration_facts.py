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

__all__ = ["ALL_TABLES", "BELOW_HEAD", "NEWEST_TABLES"]

ALL_TABLES: Final = frozenset(Base.metadata.tables)
"""Every table of the schema at head (the models mirror the migrations)."""


def _below_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    head = ScriptDirectory.from_config(config).get_revision("head")
    assert head is not None
    assert isinstance(head.down_revision, str)
    return head.down_revision


def _tables_at(revision: str) -> frozenset[str]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'below.db'}")
        try:
            upgrade(engine, revision)
            with engine.connect() as connection:
                names = set(sa.inspect(connection).get_table_names())
        finally:
            engine.dispose()
    return frozenset(names - {"alembic_version"})


BELOW_HEAD: Final = _below_head()
"""The revision just below head."""
NEWEST_TABLES: Final = ALL_TABLES - _tables_at(BELOW_HEAD)
"""The tables the newest migration creates (a downgrade of one step drops them)."""
assert NEWEST_TABLES, "the newest migration creates no table: these tests need another marker"
