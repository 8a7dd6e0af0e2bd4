"""Usernames, passwords and permissions as the server accepts them.

Usernames are compared after NFKC normalization and case folding (``username_key``), so
"John", "john" and the full-width form of john are one account and cannot be registered twice.
"""

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from jotauth.issuer.errors import ConflictError, InvalidRequestError

__all__ = [
    "MAX_PASSWORD",
    "MAX_USERNAME",
    "grants_admin",
    "keep_an_admin",
    "scope_of",
    "username_key",
    "validate_new_password",
    "validate_permissions",
    "validate_roles",
    "validate_username",
]

MAX_USERNAME: Final = 64
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 1024
_EXTRA: Final = frozenset("._-@+")
_NAME_PART: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.*")


def username_key(username: str) -> str:
    """The normalized form usernames are unique by."""
    return unicodedata.normalize("NFKC", username).casefold()


def validate_username(username: Any) -> str:
    """The username, NFKC-normalized, or InvalidRequestError saying what is wrong with it."""
    if not isinstance(username, str):
        raise InvalidRequestError("username must be a string")
    name = unicodedata.normalize("NFKC", username)
    if not 1 <= len(name) <= MAX_USERNAME:
        raise InvalidRequestError(f"username must be 1 to {MAX_USERNAME} characters")
    for char in name:
        if not (char.isalnum() or char in _EXTRA):
            raise InvalidRequestError("username may contain letters, digits and . _ - @ + only")
    if len(username_key(name)) > MAX_USERNAME:
        raise InvalidRequestError(f"username must be 1 to {MAX_USERNAME} characters")
    return name


def validate_new_password(password: Any) -> str:
    """A password acceptable for a new account or a change (NIST 800-63B: length, not rules)."""
    if not isinstance(password, str):
        raise InvalidRequestError("password must be a string")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequestError(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or set(value) - _NAME_PART:
        raise InvalidRequestError(
            f"{what} must be 1 to 64 characters of lower-case letters, digits, _ - . or *"
        )
    return value


def validate_roles(roles: Any) -> list[str]:
    """A list of role names."""
    if not isinstance(roles, list) or len(roles) > 50:
        raise InvalidRequestError("roles must be a list of at most 50 names")
    return sorted({_name(role, "a role") for role in roles})


def validate_permissions(permissions: Any) -> dict[str, list[str]]:
    """``{resource: [action, ...]}`` as in the tutorial (``{"articles": ["read", "create"]}``)."""
    if not isinstance(permissions, Mapping) or len(permissions) > 50:
        raise InvalidRequestError("permissions must be an object of at most 50 resources")
    clean: dict[str, list[str]] = {}
    for resource, actions in permissions.items():
        _name(resource, "a resource")
        if not isinstance(actions, list) or not actions or len(actions) > 20:
            raise InvalidRequestError("each resource maps to a list of 1 to 20 actions")
        clean[resource] = sorted({_name(action, "an action") for action in actions})
    return clean


def scope_of(permissions: Mapping[str, list[str]]) -> str:
    """The space-separated scope string equivalent to ``permissions``."""
    return " ".join(
        f"{resource}:{action}"
        for resource, actions in sorted(permissions.items())
        for action in actions
    )


def grants_admin(permissions: Mapping[str, Any]) -> bool:
    """Whether these permissions let a user change the server (``admin:write``), as the guard
    reads them: ``admin`` or a wildcard resource, with ``write`` or a wildcard action."""
    for resource in ("admin", "*"):
        actions = permissions.get(resource)
        if isinstance(actions, list) and ("write" in actions or "*" in actions):
            return True
    return False


def keep_an_admin(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """A store check (``AdminCheck``): refuse a change that removes the last enabled admin,
    since nobody could then manage users or keys through the API (only the CLI, on the
    server). A server that had no admin (managed from the CLI) is left as it is."""
    if any(map(grants_admin, before)) and not any(map(grants_admin, after)):
        raise ConflictError(
            "this would leave no enabled user with the admin:write permission; "
            "grant it to another user first"
        )
