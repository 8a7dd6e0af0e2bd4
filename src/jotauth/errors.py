"""The root of every error jotauth raises, so callers can catch one class at any layer.

Each layer adds its own subtree (``jotauth.jose.errors``, ``jotauth.guard.errors``,
``jotauth.issuer.errors``). Every class carries a stable snake_case ``code`` that is part of
the public API: HTTP edges, the CLI and logs report it, and it never changes with wording.
"""

from typing import ClassVar

__all__ = ["JotauthError"]


class JotauthError(Exception):
    """Base of the tree. Messages say what failed and never include tokens, keys or passwords."""

    code: ClassVar[str] = "jotauth_error"
