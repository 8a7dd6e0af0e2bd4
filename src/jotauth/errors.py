"""The root of every error jotauth raises, so callers can catch one class at any layer.

Each layer adds its own subtree (``jotauth.jose.errors``, ``jotauth.guard.errors``,
``jotauth.issuer.errors``). Every class carries a stable snake_case ``code`` that is part of
the public API: HTTP edges, the CLI and logs report it, and it never changes with wording.
"""

from typing import ClassVar

__all__ = ["JotauthError", "MissingDependencyError"]


class JotauthError(Exception):
    """Base of the tree. Messages say what failed and never include tokens, keys or passwords."""

    code: ClassVar[str] = "jotauth_error"


class MissingDependencyError(JotauthError, ModuleNotFoundError):
    """An optional dependency is not installed; the one-line message names the extra to add.

    Raised where the module is first needed (``except ModuleNotFoundError as exc: raise
    MissingDependencyError("PostgreSQL needs the psycopg driver", "postgres", exc) from None``)
    instead of a bare ``No module named 'psycopg'`` that says nothing about jotauth's extras.
    It is also a ``ModuleNotFoundError``, so code that falls back when a module is absent (the
    CLI's urllib fallback for httpx) keeps working, and the CLI prints it as one ``Error:`` line.
    """

    code: ClassVar[str] = "missing_dependency"

    def __init__(self, what: str, extra: str, cause: ImportError | None = None) -> None:
        missing = None if cause is None else cause.name
        super().__init__(f"{what}: pip install 'jotauth[{extra}]'", name=missing)
        self.extra = extra
