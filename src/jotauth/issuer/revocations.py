"""Keeps the issuer's own guard in step with the revocation feed, without polling HTTP.

The issuer's protected routes also ask the database on every request; this source serves
everything else that authenticates through ``app.state.guard`` (the hardening layer's
``/admin/audit``): on attach it loads the whole feed, and after every revoking event of this
process it applies what is new. Revocations made by other workers arrive with the next
revoking event here or at the next start.

With ``JOTAUTH_REDIS_URL`` the new events are also pushed over Redis pub/sub to every guard
that subscribes (``jotauth.guard.redis_source``).
"""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio.to_thread

from jotauth.guard import RevocationView
from jotauth.issuer.events import AuthEvent
from jotauth.store.sql import SQLStore

__all__ = ["Publisher", "StoreRevocationSource"]


class Publisher(Protocol):
    """Where new feed events are pushed (``jotauth.store.redis_pubsub.RedisPublisher``)."""

    def publish(self, events: Sequence[dict[str, Any]]) -> int: ...


_REVOKING = frozenset(
    {
        "logout",
        "logout_all",
        "password_changed",
        "user_disabled",
        "key_revoked",
        "refresh_reuse_detected",
        "token_revoked",
    }
)
_REVOKING_ACTIONS = frozenset(
    {"revoke_session", "disable_client"}
)  # admin_action events that revoke


class StoreRevocationSource:
    """A ``jotauth.guard.RevocationSource`` reading the feed table directly."""

    def __init__(
        self,
        store: SQLStore,
        *,
        clock: Callable[[], float] = time.time,
        publisher: Publisher | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self._view: RevocationView | None = None
        self._cursor = 0
        self._lock = threading.Lock()

    def attach(self, view: RevocationView) -> None:
        """Load every revocation still relevant into ``view``."""
        self._view = view
        self.sync()
        view.ready = True

    def close(self) -> None:
        """Nothing to release: no thread, no connection held."""
        self._view = None

    def sync(self, *, push: bool = False) -> int:
        """Apply the feed events after the last one applied (and push them); how many."""
        view = self._view
        if view is None:
            return 0
        applied = 0
        with self._lock:
            while True:
                records = self.store.revocations_after(self._cursor, now=self.clock())
                if not records:
                    return applied
                events = [record.as_event() for record in records]
                applied += view.apply(events)
                self._cursor = records[-1].seq
                if push and self.publisher is not None:
                    self.publisher.publish(events)

    async def observe(self, event: AuthEvent) -> None:
        """EventBus subscriber: after a revoking event, pull the new feed entries."""
        revoking = event.type in _REVOKING or (
            event.type == "admin_action" and event.detail.get("action") in _REVOKING_ACTIONS
        )
        if revoking and self._view is not None:
            await anyio.to_thread.run_sync(lambda: self.sync(push=True))
