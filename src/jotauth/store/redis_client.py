"""The options every Redis client of the issuer is made with: bounded waits, one reconnect.

A Redis that restarted leaves each pooled connection dead; without a retry the first command
on each fails, and the circuit breaker (``jotauth.store.breaker``) would open on a Redis that
is fine again. One immediate retry on ``ConnectionError`` replaces the dead connection. A
timeout is never retried: a hung Redis would then cost every call two timeouts instead of one.
"""

from typing import Any, Final

from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["TIMEOUT", "client_options"]

TIMEOUT: Final = 2.0
"""Seconds a Redis connect or command may take."""


def client_options(*, asyncio: bool, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Keyword arguments for ``Redis.from_url`` (``redis.asyncio`` when ``asyncio``)."""
    if asyncio:
        from redis.asyncio.retry import Retry as AsyncRetry

        retry: Any = AsyncRetry(NoBackoff(), 1, (RedisConnectionError,))
    else:
        from redis.retry import Retry

        retry = Retry(NoBackoff(), 1, (RedisConnectionError,))
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": retry}
