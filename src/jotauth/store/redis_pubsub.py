"""Pushes revocation events over Redis pub/sub, the only module of the store importing redis.

Guards that subscribe (``jotauth.guard.redis_source.RedisRevocationSource``) learn of a logout
within milliseconds instead of at their next feed poll. The message is a JSON array of feed
events on the channel ``jotauth:revocations``, the same shape as ``GET /revocations``.
Pub/sub is best effort: a publish that fails is logged and the feed remains the source of
truth, so Redis being down never breaks a logout.
"""

import json
import logging
from collections.abc import Sequence
from typing import Any, Final

from jotauth.errors import MissingDependencyError

try:
    import redis
except ModuleNotFoundError as exc:
    raise MissingDependencyError("JOTAUTH_REDIS_URL needs the redis client", "redis", exc) from None

__all__ = ["CHANNEL", "RedisPublisher"]

logger = logging.getLogger("jotauth.store")

CHANNEL: Final = "jotauth:revocations"


class RedisPublisher:
    """Publishes lists of feed events; one connection pool per process."""

    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        self.channel = channel
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def publish(self, events: Sequence[dict[str, Any]]) -> int:
        """Send ``events``; returns how many subscribers got them (0 when Redis failed)."""
        if not events:
            return 0
        try:
            return int(self._client.publish(self.channel, json.dumps(list(events))))
        except redis.RedisError as exc:
            logger.warning("revocations not pushed to Redis (%s); the feed still has them",
                           type(exc).__name__)  # fmt: skip
            return 0

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
