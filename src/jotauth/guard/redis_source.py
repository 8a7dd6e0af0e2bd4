"""Revocations pushed over Redis pub/sub, for services that cannot wait a poll interval.

The issuer (or any publisher) sends feed events as JSON on a channel — one event object or
an array of them, in the same shape as the revocation feed's ``events``::

    RedisRevocationSource.publish(client, [{"type": "token", "jti": "...", "exp": 1764390000}])

Pub/sub delivers only to connected subscribers: a service that was down or reconnecting misses
what was published meanwhile. Pair it with the polling feed (``RevocationSources(redis, feed)``)
so the feed fills any gap, while Redis makes revocations effective within milliseconds.

This module imports ``redis`` (``jotauth[issuer]`` has it); the rest of the guard does not.
"""

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

from jotauth.errors import MissingDependencyError
from jotauth.guard.revocation import RevocationSource, RevocationView

try:
    import redis
except ModuleNotFoundError as exc:
    raise MissingDependencyError(
        "jotauth.guard.redis_source needs the redis client", "redis", exc
    ) from None

__all__ = ["DEFAULT_CHANNEL", "RedisRevocationSource", "RevocationSources"]

logger = logging.getLogger("jotauth.guard")

DEFAULT_CHANNEL: Final = "jotauth:revocations"
_MAX_BACKOFF: Final = 30.0


class RedisRevocationSource:
    """A ``RevocationSource`` subscribed to a Redis channel, in a daemon thread."""

    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._view: RevocationView | None = None
        self._client: Any = None
        self.subscribed = threading.Event()
        """Set while subscribed (tests and health checks wait on it)."""
        self.received = 0

    @staticmethod
    def publish(
        client: Any,
        events: Mapping[str, Any] | Iterable[Mapping[str, Any]],
        channel: str = DEFAULT_CHANNEL,
    ) -> int:
        """Publish events on ``channel``; returns how many subscribers received them."""
        payload = events if isinstance(events, Mapping) else list(events)
        return int(client.publish(channel, json.dumps(payload, separators=(",", ":"))))

    def attach(self, view: RevocationView) -> None:
        """Subscribe and start applying events to ``view``."""
        if self._view is not None:
            raise RuntimeError("this RedisRevocationSource already feeds a view")
        self._view = view
        self._thread = threading.Thread(
            target=self._run, name="jotauth-redis-revocations", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Unsubscribe and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def handle(self, data: bytes | str) -> int:
        """Apply one message's events to the view; malformed messages are logged and skipped."""
        view = self._view
        if view is None:
            raise RuntimeError("attach the source to a view first")
        try:
            payload = json.loads(data)
        except ValueError:
            logger.warning("jotauth.guard: ignoring a non-JSON message on %s", self.channel)
            return 0
        events = [payload] if isinstance(payload, dict) else payload
        if not isinstance(events, list):
            logger.warning("jotauth.guard: ignoring a message on %s: not events", self.channel)
            return 0
        applied = view.apply(events)
        self.received += applied
        return applied

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                try:
                    pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    backoff = 0.5
                    while not self._stop.is_set():
                        message = pubsub.get_message(timeout=0.5)
                        if message is not None and message.get("type") == "message":
                            self.handle(message["data"])
                finally:
                    self.subscribed.clear()
                    pubsub.close()
                    client.close()
            except redis.RedisError as exc:
                logger.warning(
                    "jotauth.guard: Redis revocations on %s: %s; retrying in %.1fs",
                    self.channel,
                    type(exc).__name__,
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)


class RevocationSources:
    """Several sources feeding one view, e.g. Redis for speed and the feed for completeness."""

    def __init__(self, *sources: RevocationSource) -> None:
        if not sources:
            raise ValueError("RevocationSources needs at least one source")
        self.sources = sources

    def attach(self, view: RevocationView) -> None:
        """Attach every source to ``view``."""
        for source in self.sources:
            source.attach(view)

    def close(self) -> None:
        """Close every source."""
        for source in self.sources:
            source.close()
