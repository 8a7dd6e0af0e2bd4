"""Errors of the store, independent of the database behind it."""

from typing import ClassVar

from jotauth.errors import JotauthError

__all__ = ["DuplicateError", "StoreError"]


class StoreError(JotauthError):
    """The database failed or refused an operation."""

    code: ClassVar[str] = "store_error"


class DuplicateError(StoreError):
    """A unique value (a username) is already taken."""

    code = "duplicate"
