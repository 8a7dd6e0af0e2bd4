"""Auth events and the in-process bus that carries them to subscribers.

The issuer emits one ``AuthEvent`` at every security-relevant point (login, refresh, reuse,
logout, key changes, admin actions). Subscribers — the audit recorder of the issuer, and the
metrics, alerts and JSON audit log of ``observability/`` — are decoupled from the handlers: a
failing subscriber is logged and never breaks a login.
"""

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from jotauth.store.errors import StoreUnavailableError

__all__ = ["EVENT_TYPES", "AuthEvent", "EventBus", "EventType"]

logger = logging.getLogger("jotauth.events")


class EventType(StrEnum):
    """Every kind of event the issuer emits; a str, so it is stored and logged as its value."""

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    TOKEN_REFRESHED = "token_refreshed"  # noqa: S105 - an event name, not a secret
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a secret
    USER_REGISTERED = "user_registered"
    USER_DISABLED = "user_disabled"
    KEY_ROTATED = "key_rotated"
    KEY_REVOKED = "key_revoked"
    ADMIN_ACTION = "admin_action"
    CLIENT_AUTH_FAILED = "client_auth_failed"
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an event name, not a secret


EVENT_TYPES: Final = tuple(kind.value for kind in EventType)


@dataclass(frozen=True)
class AuthEvent:
    """One thing that happened; ``detail`` never holds a secret, token or password.

    ``username`` is what the audit trail and the logs show: the account's name, or for a
    login under a name no account has, a keyed hash of it (people type passwords into the
    username field). ``login_name`` is the name as typed, for subscribers that must count
    attempts per typed name in memory (the brute-force limits); it is never recorded,
    logged or shown, and not part of the event's ``repr``.
    """

    type: EventType
    outcome: str
    user_id: str | None
    username: str | None
    ip: str | None
    user_agent: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    login_name: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A misspelt type is a bug at the emitter, not an event no subscriber recognizes.
        object.__setattr__(self, "type", EventType(self.type))


Subscriber = Callable[[AuthEvent], Any]


class EventBus:
    """Fan-out of events to sync or async callbacks, in subscription order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` (awaited when it returns an awaitable) for every event."""
        self._subscribers.append(callback)

    async def emit(self, event: AuthEvent) -> None:
        """Deliver ``event`` to every subscriber; a subscriber's error is logged, not raised."""
        for callback in self._subscribers:
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except StoreUnavailableError:
                # The store logged the outage once; a traceback per event would bury it.
                logger.warning("%s not recorded: the database is unavailable", event.type)
            except Exception:
                logger.exception("event subscriber failed on %s", event.type)
