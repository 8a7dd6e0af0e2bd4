"""The store contract runs on SQLite and on PostgreSQL (a fresh schema per test)."""

from collections.abc import Iterator

import pytest

from jotauth.store.sql import SQLStore


@pytest.fixture
def store(database_url: str) -> Iterator[SQLStore]:
    """A migrated store on ``database_url`` (tests/conftest.py: SQLite, then PostgreSQL)."""
    opened = SQLStore.from_url(database_url)
    yield opened
    opened.close()
