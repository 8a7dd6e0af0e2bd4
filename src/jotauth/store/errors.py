"""Errors of the store, independent of the database behind it."""

from typing import ClassVar

from jotauth.errors import JotauthError

__all__ = ["DuplicateError", "StoreError", "StoreUnavailableError"]


class StoreError(JotauthError):
    """The database failed or refused an operation."""

    code: ClassVar[str] = "store_error"


class DuplicateError(StoreError):
    """A unique value (a username) is already taken."""

    code = "duplicate"


class StoreUnavailableError(StoreError):
    """The database cannot be reached, did not answer in time, or has no free connection.

    Retryable: nothing was decided (a write in flight may or may not have committed, as with
    any lost connection). The issuer answers 503 ``temporarily_unavailable`` with
    ``Retry-After``; the message names the cause, never a query or its parameters.
    """

    code = "store_unavailable"
