"""Pushes revocation events over Redis pub/sub, the only module of the store importing redis.

Guards that subscribe (``jotauth.guard.redis_source.RedisRevocationSource``) learn of a logout
within milliseconds instead of at their next feed poll. The message is a JSON array of feed
events on the channel ``jotauth:revocations``, the same shape as ``GET /revocations``.
Pub/sub is best effort: a publish that fails is skipped and the feed remains the source of
truth, so Redis being down never breaks a logout. Events published while Redis is out are
not sent again when it returns: every guard following the feed as well (as
``RevocationSources(redis, feed)`` does) gets them at its next poll. A circuit breaker
(``jotauth.store.breaker``) skips Redis for a cool-down after a failure, so a hung Redis
delays one logout by one timeout, not every logout by one each; the outage is logged once.
"""

import json
from collections.abc import Sequence
from typing import Any, Final

from jotauth.errors import MissingDependencyError

try:
    import redis
except ModuleNotFoundError as exc:
    raise MissingDependencyError("JOTAUTH_REDIS_URL needs the redis client", "redis", exc) from None

from jotauth.store.breaker import CircuitBreaker
from jotauth.store.redis_client import client_options

__all__ = ["CHANNEL", "RedisPublisher"]

CHANNEL: Final = "jotauth:revocations"


class RedisPublisher:
    """Publishes lists of feed events; one connection pool per process."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        timeout: float = 2.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.channel = channel
        self.breaker = breaker or CircuitBreaker(
            "Redis (revocation push)",
            fallback="revocations not pushed to Redis, the feed still has them",
        )
        self._client = redis.Redis.from_url(url, **client_options(asyncio=False, timeout=timeout))

    def publish(self, events: Sequence[dict[str, Any]]) -> int:
        """Send ``events``; returns how many subscribers got them (0 when Redis failed)."""
        if not events or not self.breaker.allow():
            return 0
        try:
            received = int(self._client.publish(self.channel, json.dumps(list(events))))
        except redis.RedisError as exc:
            self.breaker.failure(exc)
            return 0
        self.breaker.success()
        return received

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
