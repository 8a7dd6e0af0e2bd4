"""Per-IP token buckets: a burst is allowed, a sustained flood is paced.

A bucket holds at most ``capacity`` tokens and refills at ``rate`` tokens per second; each
attempt takes one. ``limits`` offers windows, not buckets, so the bucket is written here in
two forms with one behaviour: in memory (one process) and in Redis (every worker and
instance share it, updated atomically by a Lua script that reads Redis's own clock so that
servers with skewed clocks still agree).
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, Protocol

from jotauth.errors import MissingDependencyError

__all__ = ["MemoryTokenBucket", "RedisTokenBucket", "TokenBucket"]

# Keeps memory bounded under a flood of spoofed addresses: the least recently seen buckets go.
_MAX_MEMORY_BUCKETS: Final = 100_000

_LUA: Final = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


class TokenBucket(Protocol):
    """Take one token for ``key``: 0.0 when allowed, else the seconds until one is free."""

    async def take(self, key: str) -> float: ...

    async def aclose(self) -> None: ...


class MemoryTokenBucket:
    """Buckets of one process; ``clock`` is injectable so tests never sleep."""

    def __init__(
        self, capacity: float, rate: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str) -> float:
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > _MAX_MEMORY_BUCKETS:
            self._buckets.popitem(last=False)
        return wait

    async def aclose(self) -> None:
        self._buckets.clear()


class RedisTokenBucket:
    """Buckets in Redis, shared by every worker and instance pointing at the same server."""

    def __init__(
        self, url: str, capacity: float, rate: float, *, prefix: str = "jotauth:bucket:"
    ) -> None:
        try:
            from redis.asyncio import Redis  # only deployments with Redis import it
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(
                "JOTAUTH_REDIS_URL needs the redis client", "redis", exc
            ) from None

        from jotauth.store.redis_client import client_options

        self.capacity = capacity
        self.rate = rate
        self.prefix = prefix
        self._redis: Any = Redis.from_url(url, **client_options(asyncio=True))
        self._script: Any = self._redis.register_script(_LUA)

    async def take(self, key: str) -> float:
        wait = await self._script(keys=[self.prefix + key], args=[self.capacity, self.rate])
        value = float(wait.decode() if isinstance(wait, bytes) else wait)
        return value if math.isfinite(value) else 0.0

    async def aclose(self) -> None:
        await self._redis.aclose()
