"""The SQL store (SQLite or PostgreSQL): the only package that imports SQLAlchemy."""

from jotauth.store.sql.store import SQLStore

__all__ = ["SQLStore"]
