"""The store contract runs on SQLite and on PostgreSQL (a fresh schema per test)."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from jotauth.store.sql import SQLStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStore]:
    if request.param == "sqlite":
        opened = SQLStore.from_url(f"sqlite:///{tmp_path / 'store.db'}")
        yield opened
        opened.close()
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = "s_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    opened = SQLStore.from_url(f"{base}{sep}options=-csearch_path%3D{schema}")
    yield opened
    opened.close()
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()
