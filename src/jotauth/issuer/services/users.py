"""Usernames, passwords and permissions as the server accepts them.

Usernames follow RFC 8265 (PRECIS): a new name must pass the ``UsernameCasePreserved`` profile
(NFC, full-width forms mapped to their ASCII counterparts, no compatibility characters, no
spaces or controls) and is compared in ``UsernameCaseMapped`` form, case-folded
(``username_key``), so "John", "john" and its full-width form are one account. PRECIS
accepts letters of any script, so look-alikes such as "\\u0430dmin" (a Cyrillic a) would
pass it; a new name must therefore also keep to one script (Latin, Greek, Cyrillic, ...;
Han may go with Hiragana, Katakana, Hangul or Bopomofo and with Latin, as Unicode TR39's
"highly restrictive" level has it). ``username_key`` is the one normalization every part
uses: registration, login, the admin API, the CLI and the brute-force limits.

Users created before this rule were keyed by NFKC and case folding; ``username_keys`` also
yields that legacy form, so they keep logging in under the name they always used.
"""

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

import precis_i18n

from jotauth.issuer.errors import ConflictError, InvalidRequestError, InvalidScopeError

__all__ = [
    "MAX_PASSWORD",
    "MAX_USERNAME",
    "covers",
    "grants_admin",
    "keep_an_admin",
    "narrow_permissions",
    "requested_scope",
    "scope_of",
    "username_key",
    "username_keys",
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


_CASE_MAPPED: Final = precis_i18n.get_profile("UsernameCaseMapped:CaseFold")
_CASE_PRESERVED: Final = precis_i18n.get_profile("UsernameCasePreserved")
# The script mixes Unicode TR39's "highly restrictive" level accepts (Japanese, Chinese with
# Bopomofo, Korean, each with Latin); any other name must keep to one script.
_MIXES: Final = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_SCRIPT_ALIASES: Final = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "KATAKANA"}


def _legacy_key(username: str) -> str:
    """The key of users made before PRECIS: NFKC and case folding."""
    return unicodedata.normalize("NFKC", username).casefold()


def _precis_key(username: str) -> str | None:
    try:
        key: str = _CASE_MAPPED.enforce(username)
    except (UnicodeError, ValueError):
        return None
    return key


def username_key(username: str) -> str:
    """The form usernames are compared and counted in (PRECIS UsernameCaseMapped, folded).

    A string PRECIS refuses (a name typed with a space, a control or a compatibility
    character) cannot be a new user's name; it is then keyed the legacy way, which is what
    users made before PRECIS, and failed attempts under such a string, are found by.
    """
    return _precis_key(username) or _legacy_key(username)


def username_keys(username: str) -> tuple[str, ...]:
    """Every stored key a user who types ``username`` may have, the PRECIS one first."""
    keys = [key for key in (_precis_key(username), _legacy_key(username)) if key is not None]
    return tuple(dict.fromkeys(keys))


def _scripts(name: str) -> set[str]:
    """The scripts of the letters of ``name``, from their Unicode names (digits, marks and
    punctuation are common to every script and are not counted)."""
    scripts = set()
    for char in name:
        if unicodedata.category(char).startswith("L"):
            word = unicodedata.name(char, "UNKNOWN").split(" ")[0]
            scripts.add(_SCRIPT_ALIASES.get(word, word))
    return scripts


def _single_script(scripts: set[str]) -> bool:
    return len(scripts) <= 1 or any(scripts <= mix for mix in _MIXES)


def validate_username(username: Any) -> str:
    """The username as stored (PRECIS UsernameCasePreserved), or InvalidRequestError."""
    if not isinstance(username, str):
        raise InvalidRequestError("username must be a string")
    if not 1 <= len(username) <= MAX_USERNAME * 4:
        raise InvalidRequestError(f"username must be 1 to {MAX_USERNAME} characters")
    try:
        name: str = _CASE_PRESERVED.enforce(username)
        key: str = _CASE_MAPPED.enforce(username)
    except (UnicodeError, ValueError):
        raise InvalidRequestError(
            "username may contain letters, digits and . _ - @ + only, without spaces or "
            "compatibility characters (RFC 8265)"
        ) from None
    if not 1 <= len(name) <= MAX_USERNAME or len(key) > MAX_USERNAME:
        raise InvalidRequestError(f"username must be 1 to {MAX_USERNAME} characters")
    for char in name:
        if not (char.isalnum() or char in _EXTRA or unicodedata.category(char) == "Mn"):
            raise InvalidRequestError("username may contain letters, digits and . _ - @ + only")
    scripts = _scripts(name)
    if not _single_script(scripts):
        raise InvalidRequestError(
            "username mixes letters of several scripts ("
            + ", ".join(sorted(s.title() for s in scripts))
            + "), which lets it pass for another name; use one script"
        )
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


def covers(permissions: Mapping[str, list[str]], scope: str) -> bool:
    """Whether ``permissions`` hold the ``resource:action`` scope (or a wildcard or parent
    resource that includes it), as a guard would grant it."""
    resource, sep, action = scope.rpartition(":")
    if not sep or not resource or not action:
        return False
    path = resource
    while True:
        actions = permissions.get(path)
        if actions is not None and (action in actions or "*" in actions):
            return True
        cut = path.rfind(".")
        if cut < 0:
            break
        path = path[:cut]
    actions = permissions.get("*")
    return actions is not None and (action in actions or "*" in actions)


def narrow_permissions(scopes: list[str]) -> dict[str, list[str]]:
    """The permissions object granting exactly ``scopes`` (``resource:action`` strings)."""
    narrowed: dict[str, set[str]] = {}
    for scope in scopes:
        resource, _, action = scope.rpartition(":")
        narrowed.setdefault(resource, set()).add(action)
    return {resource: sorted(actions) for resource, actions in sorted(narrowed.items())}


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


def requested_scope(requested: str | None, permissions: Mapping[str, list[str]]) -> str | None:
    """The narrowed scope asked for, or None (no ``scope``: every grant the user holds).

    A token grants exactly what was granted (RFC 6749 section 3.3), so a scope the user does
    not hold is refused (``invalid_scope``, section 5.2) rather than silently dropped.
    """
    if requested is None or not requested.split():
        return None
    wanted = list(dict.fromkeys(requested.split()))
    for scope in wanted:
        if not covers(permissions, scope):
            raise InvalidScopeError(f"the scope {scope[:80]!r} is not granted to this user")
    return " ".join(wanted)
