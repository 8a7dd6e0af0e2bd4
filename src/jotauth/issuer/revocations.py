"""Pushes this server's new revocations over Redis pub/sub to every guard that subscribes.

The issuer itself checks revocation once per request, in the database
(``api/deps.authenticate``: immediate in every worker), so its own guard keeps no revocation
view. Guards of other services learn revocations from the feed (``GET /revocations``) and,
with ``JOTAUTH_REDIS_URL``, from this push (``jotauth.guard.redis_source``): after every
revoking event of this process the feed entries committed since the last push are published.
Entries committed by other workers are pushed with this worker's next revoking event (and by
theirs); a guard applies an entry twice harmlessly.
"""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio.to_thread

from jotauth.issuer.events import AuthEvent
from jotauth.store.sql import SQLStore

__all__ = ["FeedPublisher", "Publisher"]


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


class FeedPublisher:
    """An EventBus subscriber pushing the feed entries committed since its last push."""

    def __init__(
        self, store: SQLStore, publisher: Publisher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self._cursor = store.last_revocation_seq()  # guards load older entries from the feed
        self._lock = threading.Lock()

    def sync(self) -> int:
        """Publish the feed entries after the last one pushed; how many."""
        pushed = 0
        with self._lock:
            while True:
                page = self.store.feed_page(self._cursor, now=self.clock())
                self._cursor = page.cursor
                events = [record.as_event() for record in page.records]
                if events:
                    self.publisher.publish(events)
                    pushed += len(events)
                if not page.more:
                    return pushed

    async def observe(self, event: AuthEvent) -> None:
        """After a revoking event, push the new feed entries."""
        revoking = event.type in _REVOKING or (
            event.type == "admin_action" and event.detail.get("action") in _REVOKING_ACTIONS
        )
        if revoking:
            await anyio.to_thread.run_sync(self.sync)
