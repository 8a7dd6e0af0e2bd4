"""jotauth.store: persistence of the auth server behind one interface.

``open_store(url)`` returns the store for a SQLAlchemy URL (SQLite file or PostgreSQL),
migrated to the newest schema. Records are plain frozen dataclasses (``jotauth.store.records``).
"""

from typing import TYPE_CHECKING, Final

from jotauth.errors import MissingDependencyError
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
    "DEFAULT_DATABASE_URL",
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

DEFAULT_DATABASE_URL: Final = "sqlite:///./jotauth.db"
"""The database when ``JOTAUTH_DATABASE_URL`` is not set: ``jotauth.db`` in the current folder."""


def open_store(url: str, *, migrate: bool = True) -> "SQLStore":
    """The store for ``url``; SQLAlchemy loads only when a store is opened."""
    try:
        from jotauth.store.sql import SQLStore
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] == "jotauth":
            raise
        raise MissingDependencyError(
            f"the jotauth store needs {exc.name.split('.')[0]}", "issuer", exc
        ) from None

    return SQLStore.from_url(url, migrate_now=migrate)
