"""jotauth.store: persistence of the auth server behind one interface.

``open_store(url)`` returns the store for a SQLAlchemy URL (SQLite file or PostgreSQL),
migrated to the newest schema. Records are plain frozen dataclasses (``jotauth.store.records``).
"""

from typing import TYPE_CHECKING

from jotauth.store.errors import DuplicateError, StoreError, StoreUnavailableError
from jotauth.store.records import (
    AuditRecord,
    FamilyRecord,
    KeyRecord,
    RefreshRecord,
    RevocationRecord,
    UserRecord,
)

if TYPE_CHECKING:
    from jotauth.store.sql import SQLStore

__all__ = [
    "AuditRecord",
    "DuplicateError",
    "FamilyRecord",
    "KeyRecord",
    "RefreshRecord",
    "RevocationRecord",
    "StoreError",
    "StoreUnavailableError",
    "UserRecord",
    "open_store",
]


def open_store(url: str, *, migrate: bool = True) -> "SQLStore":
    """The store for ``url``; SQLAlchemy loads only when a store is opened."""
    from jotauth.store.sql import SQLStore

    return SQLStore.from_url(url, migrate_now=migrate)
