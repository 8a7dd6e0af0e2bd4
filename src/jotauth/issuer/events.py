"""Auth events and the in-process bus that carries them to subscribers.

The issuer emits one ``AuthEvent`` at every security-relevant point (login, refresh, reuse,
logout, key changes, admin actions). Subscribers — the audit recorder of the issuer, metrics,
rate limits and alerts of the hardening layer — are decoupled from the handlers: a failing
subscriber is logged and never breaks a login.
"""

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from jotauth.store.errors import StoreUnavailableError

__all__ = ["EVENT_TYPES", "AuthEvent", "EventBus"]

logger = logging.getLogger("jotauth.events")

EVENT_TYPES: Final = (
    "login_succeeded",
    "login_failed",
    "token_refreshed",
    "refresh_reuse_detected",
    "logout",
    "logout_all",
    "password_changed",
    "user_registered",
    "user_disabled",
    "key_rotated",
    "key_revoked",
    "admin_action",
)


@dataclass(frozen=True)
class AuthEvent:
    """One thing that happened; ``detail`` never holds a secret, token or password.

    ``username`` is what the audit trail and the logs show: the account's name, or for a
    login under a name no account has, a keyed hash of it (people type passwords into the
    username field). ``login_name`` is the name as typed, for subscribers that must count
    attempts per typed name in memory (the brute-force limits); it is never recorded,
    logged or shown, and not part of the event's ``repr``.
    """

    type: str
    outcome: str
    user_id: str | None
    username: str | None
    ip: str | None
    user_agent: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    login_name: str | None = field(default=None, repr=False, compare=False)


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
