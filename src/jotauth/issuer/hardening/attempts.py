"""Bounded attempt windows per key: the per-account limits on registration and refresh.

A window opens at the first counted attempt for a key and lasts ``seconds``; once it holds
``amount`` attempts, the key is refused until the window ends. Refused attempts are never
counted, so a refusal lasts at most one window after the first attempt, however hard an
attacker keeps trying: a real user is slowed down, never locked out for good.

``limits`` (used for the login windows) reads ``time.time()`` inside, so its windows cannot be
tested without sleeping. These windows take the issuer's clock instead (injectable, as every
other clock of the server), in two forms with one behaviour: in memory (one process) and in
Redis (every worker and instance share it; one Lua script per call, atomic). Redis is given
the servers' clock rather than its own so that tests can move time; servers already need
synchronized clocks for token ``exp`` and ``iat``.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import limits

from jotauth.errors import MissingDependencyError

__all__ = ["AttemptStore", "MemoryAttempts", "RedisAttempts", "Rule"]

# Keeps memory bounded under a flood of distinct names: the least recently used windows go.
_MAX_MEMORY_KEYS: Final = 100_000

# ARGV: amount, seconds, now, count ("1": count the attempt when allowed, "0": only look).
# Returns the seconds the key is still refused for, "0" when the attempt is allowed.
_LUA: Final = """
local amount = tonumber(ARGV[1])
local seconds = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'n', 'start')
local n = tonumber(state[1])
local start = tonumber(state[2])
-- The start is kept as the caller's string: Lua's tostring keeps only 14 digits.
local start_text = state[2]
if n == nil or start == nil or now >= start + seconds or now < start - seconds then
  n = 0
  start = now
  start_text = ARGV[3]
end
if n >= amount then
  return tostring(start + seconds - now)
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'n', n + 1, 'start', start_text)
  redis.call('PEXPIRE', KEYS[1], math.ceil((start + seconds - now) * 1000) + 1000)
end
return '0'
"""

# KEYS[1] a marker, ARGV[1] milliseconds: keep it alive at least that long, never shorten it.
_MARK_LUA: Final = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 1
"""


@dataclass(frozen=True)
class Rule:
    """``amount`` attempts per window of ``seconds``, read from a ``limits`` string."""

    amount: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> "Rule":
        """``"5 per 15 minutes"`` -> ``Rule(5, 900)``; ValueError when it does not parse."""
        item = limits.parse(text)
        return cls(int(item.amount), float(item.get_expiry()))


class AttemptStore(Protocol):
    """Windows of counted attempts; every method returns the seconds left refused, or 0."""

    async def attempt(self, key: str, rule: Rule) -> float:
        """Count one attempt unless ``key`` is refused already."""
        ...

    async def blocked(self, key: str, rule: Rule) -> float:
        """Look without counting."""
        ...

    async def clear(self, key: str) -> None:
        """Forget the window of ``key``."""
        ...

    async def mark(self, name: str, seconds: float) -> None:
        """Raise marker ``name`` for at least ``seconds`` (a cheap "some key is refused")."""
        ...

    async def marked(self, name: str) -> bool:
        """Whether marker ``name`` is up."""
        ...

    async def aclose(self) -> None: ...


class MemoryAttempts:
    """Windows of one process, on an injectable clock."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._marks: dict[str, float] = {}

    def _step(self, key: str, rule: Rule, count: bool) -> float:
        now = self._clock()
        n, start = self._windows.pop(key, (0, now))
        if now >= start + rule.seconds or now < start - rule.seconds:
            n, start = 0, now
        wait = 0.0
        if n >= rule.amount:
            wait = start + rule.seconds - now
        elif count:
            n += 1
        if n:
            self._windows[key] = (n, start)
            if len(self._windows) > _MAX_MEMORY_KEYS:
                self._windows.popitem(last=False)
        return wait

    async def attempt(self, key: str, rule: Rule) -> float:
        return self._step(key, rule, True)

    async def blocked(self, key: str, rule: Rule) -> float:
        return self._step(key, rule, False)

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    async def mark(self, name: str, seconds: float) -> None:
        until = self._clock() + seconds
        self._marks[name] = max(until, self._marks.get(name, until))

    async def marked(self, name: str) -> bool:
        return self._clock() < self._marks.get(name, -math.inf)

    async def aclose(self) -> None:
        self._windows.clear()
        self._marks.clear()


class RedisAttempts:
    """Windows in Redis, shared by every worker and instance pointing at the same server."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        prefix: str = "jotauth:attempts:",
    ) -> None:
        try:
            from redis.asyncio import Redis  # only deployments with Redis import it
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(
                "JOTAUTH_REDIS_URL needs the redis client", "redis", exc
            ) from None

        from jotauth.store.redis_client import client_options

        self.prefix = prefix
        self._clock = clock
        self._redis: Any = Redis.from_url(url, **client_options(asyncio=True))
        self._script: Any = self._redis.register_script(_LUA)
        self._mark: Any = self._redis.register_script(_MARK_LUA)

    async def _run(self, key: str, rule: Rule, count: bool) -> float:
        args = [rule.amount, repr(rule.seconds), repr(float(self._clock())), "1" if count else "0"]
        wait = await self._script(keys=[self.prefix + key], args=args)
        value = float(wait.decode() if isinstance(wait, bytes) else wait)
        return value if math.isfinite(value) else 0.0

    async def attempt(self, key: str, rule: Rule) -> float:
        return await self._run(key, rule, True)

    async def blocked(self, key: str, rule: Rule) -> float:
        return await self._run(key, rule, False)

    async def clear(self, key: str) -> None:
        await self._redis.delete(self.prefix + key)

    async def mark(self, name: str, seconds: float) -> None:
        await self._mark(keys=[self.prefix + name], args=[math.ceil(seconds * 1000) + 1000])

    async def marked(self, name: str) -> bool:
        return bool(await self._redis.exists(self.prefix + name))

    async def aclose(self) -> None:
        await self._redis.aclose()
