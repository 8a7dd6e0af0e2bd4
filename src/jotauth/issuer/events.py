"""Auth events and the in-process bus that carries them to subscribers.

The issuer emits one ``AuthEvent`` at every security-relevant point (login, refresh, reuse,
logout, key changes, admin actions). Subscribers — the audit recorder of the issuer, and the
metrics, alerts and JSON audit log of ``observability/`` — are decoupled from the handlers: a
failing subscriber is logged and never breaks a login.

The audit recorder is one subscriber with one more role: a use case whose event comes true in
one database write (a login's new session, a refresh's rotation) asks ``audit_entry`` for the
row, hands it to that write, and emits the event ``recorded=True``: every other subscriber
sees it as usual, the recorder does not write it twice. Without a recorder (``record_with``
never called) ``audit_entry`` is None and nothing is recorded, as before.
"""

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol

from jotauth.store.errors import StoreUnavailableError
from jotauth.store.sql.audit import AuditEntry

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


class Recorder(Protocol):
    """The subscriber that writes the audit trail, and says what row it would write."""

    def __call__(self, event: AuthEvent) -> Any: ...

    def entry(self, event: AuthEvent) -> AuditEntry:
        """The audit row of ``event``."""
        ...


class EventBus:
    """Fan-out of events to sync or async callbacks, in subscription order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._recorder: Recorder | None = None

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` (awaited when it returns an awaitable) for every event."""
        self._subscribers.append(callback)

    def record_with(self, recorder: Recorder) -> None:
        """Subscribe the audit recorder (at its place in the order, like any subscriber)."""
        self._recorder = recorder
        self.subscribe(recorder)

    def audit_entry(self, event: AuthEvent) -> AuditEntry | None:
        """The audit row of ``event`` for a use case to write itself, None without a recorder."""
        return None if self._recorder is None else self._recorder.entry(event)

    async def emit(self, event: AuthEvent, *, recorded: bool = False) -> None:
        """Deliver ``event`` to every subscriber; a subscriber's error is logged, not raised.

        ``recorded``: its audit row was written with the use case's own write, so the
        recorder skips it.
        """
        for callback in self._subscribers:
            if recorded and callback is self._recorder:
                continue
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except StoreUnavailableError:
                # The store logged the outage once; a traceback per event would bury it.
                logger.warning("%s not recorded: the database is unavailable", event.type)
            except Exception:
                logger.exception("event subscriber failed on %s", event.type)
