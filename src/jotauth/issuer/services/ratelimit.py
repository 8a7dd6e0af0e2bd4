"""Brute-force limits for login, refresh and registration.

Per-account and per-IP limits, after OWASP's authentication cheat sheet:

* **Per account and client address** (login, and the current password of a password
  change): failed logins for one (username, address) pair are counted in a moving window
  (``limits``, default 5 per 15 minutes, ``JOTAUTH_RATELIMIT_ACCOUNT``). Once the window is
  full that pair answers 429 before any password is checked, until the oldest failure leaves
  the window. Attempts while refused are not counted, so the refusal ends at most one window
  after the first failure. A successful login from that address clears its count. Because
  the key holds the address, an attacker guessing from elsewhere cannot lock the owner out
  (OWASP: a lockout must not become a denial-of-service tool).
* **Per account, every address** (login): failures for one username from all addresses are
  counted too (default 20 per hour, ``JOTAUTH_RATELIMIT_ACCOUNT_ANY``). Past it the account
  answers 429 with Retry-After to addresses it does not know, which slows guessing spread
  over many addresses to 20 guesses an hour; an address that logged in successfully to the
  account in the last 30 days (its "known" mark) is still let through to the password check,
  so the owner logs in from their usual address during such an attack. The limits apply to
  any username, existing or not, so a 429 says nothing about which accounts exist.
* **Per account, registration**: attempts to register one (normalized) username are counted,
  whatever their outcome, and past the limit that name answers 429 for the rest of the
  window, the same whether it is taken or not.
* **Per account, refresh**: failed refreshes attributable to a user and refresh family
  (reuse detected, session ended or expired, account disabled) are counted per user and per
  family; past the limit further refreshes of that user or family answer 429 until the
  window ends. A successful login clears the user's count (not the family's: a dead family
  stays dead). Refresh tokens the store does not know cannot be attributed: the per-IP
  limit paces them.
* **Per IP and action** (login, refresh, register): ``JOTAUTH_RATELIMIT_IP_BURST`` attempts
  in a moving window of burst / rate seconds (default 20 per 40 s): a burst is allowed, and
  the sustained rate is held to ``JOTAUTH_RATELIMIT_IP_RATE`` per second. Every attempt
  counts, success or not.

Every counter is a ``limits`` window (only the expiry of ``limits``' memory storage is
replaced by hand, see ``_MemoryStorage``): the registration and
refresh windows are fixed windows (they open at the first attempt, so hammering a refused
key never extends the refusal), the others moving windows. Two small uses of windows as
markers: an address the account logged in from is "known" while a 1-per-30-days window
holds its entry, and "some refresh is refused" is a moving window that holds an entry for
one refresh window after each window that filled (see ``refresh_locks_possible``).

``limits`` reads ``time.time()`` itself, so its windows are tested with short windows and
real time, never with the issuer's injectable clock.

With a Redis URL the counters live in Redis (``limits``' ``RedisStorage``) and are shared by
every worker and instance; otherwise they live in the process (fine for one worker,
documented as such). One storage, hence one Redis connection pool, serves the limits and the
alert windows of a process (``limits_storage``); the revocation publisher keeps its own,
synchronous client (``redis.Redis`` and ``redis.asyncio`` cannot share a pool). When Redis is
unreachable the limiter fails open, so an outage of the counter store does not become an
outage of logins; a circuit breaker (``jotauth.store.breaker``) then skips Redis for a
cool-down, so a hung Redis costs one request one timeout instead of every request several,
and the outage is logged once per change of state and counted
(``jotauth_ratelimit_fail_open``, ``jotauth_dependency_up``).
"""

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.memory import Entry
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from jotauth.errors import MissingDependencyError
from jotauth.issuer.errors import RateLimitedError
from jotauth.issuer.services.users import username_key
from jotauth.issuer.settings import Settings
from jotauth.store.breaker import CircuitBreaker, State

__all__ = [
    "Decision",
    "LimiterMonitor",
    "RateLimiter",
    "account_key",
    "close_storage",
    "limits_storage",
]

logger = logging.getLogger("jotauth.ratelimit")


@dataclass(frozen=True)
class Decision:
    """The answer for one attempt: allowed, or refused for ``retry_after`` whole seconds."""

    allowed: bool
    retry_after: int = 0
    scope: str = ""


ALLOW = Decision(True)
T = TypeVar("T")
_LOCK_MARKER = "refresh-locks"
# How long an address that logged in to an account stays "known" to it (see the docstring).
_KNOWN_ADDRESS = limits.RateLimitItemPerDay(1, 30)
# Entries of the "some refresh is refused" window: one per window that filled; rare.
_MAX_MARKS = 100_000


class LimiterMonitor(Protocol):
    """Who hears of the limiter's refusals and outages (the metrics; the use cases import no
    observer, so the app hands one in)."""

    def refused(self, action: str, scope: str) -> None:
        """An attempt at ``action`` was refused by the ``scope`` limit."""

    def failed_open(self) -> None:
        """A check was let through unchecked: the counter store failed or is skipped."""

    def store_up(self, up: bool) -> None:
        """The counter store's circuit breaker closed (True) or opened (False)."""


def account_key(username: str) -> str:
    """A stable, opaque key per account: the name in the one form the issuer compares names
    in (``username_key``: PRECIS, case- and width-insensitive), hashed, never the raw name."""
    normal = username_key(username)
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _MemoryStorage(MemoryStorage):
    """``limits``' memory storage, with its expiry made cheap and bounded.

    The one piece written here. ``limits`` 5.8's memory storage starts a background task on
    every hit that walks every key and hands each key's list to a thread
    (``asyncio.to_thread``) to find its expired entries: per refresh that is one thread hop
    per key held, about half a millisecond with a handful of addresses, more with many. Its
    ``clear`` also races that task (the task lists the keys, a ``clear`` pops one, the task
    dies with ``KeyError``). Here the three writing methods are the same algorithms without
    the task:

    * a moving window's list is cut to ``limit`` entries on each hit (an entry past the
      ``limit``-th newest is older than any window that can refuse, so it is never read
      again), which bounds every key's memory;
    * keys whose newest entry or whose fixed window has expired are dropped by a sweep that
      runs at most once per ``sweep_interval`` seconds, in batches of ``sweep_batch`` keys
      per call, so no request walks the whole storage.

    Everything here is synchronous between awaits, so the per-key locks are not needed.
    """

    def __init__(self, *, sweep_interval: float = 30.0, sweep_batch: int = 256) -> None:
        super().__init__()
        self._sweep_interval = sweep_interval
        self._sweep_batch = sweep_batch
        self._next_sweep = time.time() + sweep_interval
        self._pending_windows: list[str] = []
        self._pending_counters: list[str] = []

    def _sweep_some(self, now: float) -> None:
        """Drop up to one batch of expired keys; start a new pass when one is due."""
        if not self._pending_windows and not self._pending_counters:
            if now < self._next_sweep:
                return
            self._next_sweep = now + self._sweep_interval
            self._pending_windows = list(self.events)
            self._pending_counters = list(self.expirations)
        budget = self._sweep_batch
        while budget and self._pending_windows:
            budget -= 1
            key = self._pending_windows.pop()
            events = self.events.get(key)
            if events is not None and (not events or events[0].expiry <= now):
                del self.events[key]
        while budget and self._pending_counters:
            budget -= 1
            key = self._pending_counters.pop()
            if self.expirations.get(key, math.inf) <= now:
                self.storage.pop(key, None)
                del self.expirations[key]

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        self._sweep_some(now)
        if self.expirations.get(key, 0) <= now:
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
        count = self.storage[key] + amount
        self.storage[key] = count
        if count == amount:
            self.expirations[key] = now + expiry
        return count

    async def decr(self, key: str, amount: int = 1) -> int:
        if self.expirations.get(key, 0) <= time.time():
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
            return 0
        count = max(self.storage[key] - amount, 0)
        self.storage[key] = count
        return count

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        self._sweep_some(now)
        events = self.events.setdefault(key, [])
        if len(events) > limit - amount and events[limit - amount].atime >= now - expiry:
            return False
        events[:0] = [Entry(expiry)] * amount
        del events[limit:]
        return True

    async def clear(self, key: str) -> None:
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        self.events.pop(key, None)


def limits_storage(settings: Settings) -> Storage:
    """The process's one ``limits`` storage: Redis (bounded waits) when configured, else memory."""
    if not settings.ratelimit_redis_url:
        return _MemoryStorage()
    try:
        from jotauth.store.redis_client import client_options  # imports redis
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            "JOTAUTH_REDIS_URL needs the redis client", "redis", exc
        ) from None
    url = settings.ratelimit_redis_url
    return RedisStorage(
        url if url.startswith("async+") else "async+" + url,
        implementation="redispy",
        key_prefix="jotauth:limits",
        **client_options(asyncio=True),
    )


async def close_storage(storage: Storage) -> None:
    """Release the Redis connections of a ``limits`` storage (nothing for memory)."""
    bridge: Any = getattr(storage, "bridge", None)
    aclose = getattr(getattr(bridge, "storage", None), "aclose", None)
    if callable(aclose):
        await aclose()


def _refused(wait: float, scope: str) -> Decision:
    return Decision(False, max(1, math.ceil(wait)), scope)


class RateLimiter:
    """Every limit behind ``check`` and the services' seam (``services.limits``).

    ``storage`` is the process's ``limits`` storage (``limits_storage``), shared with the
    alert rules; the limiter closes it only when it made it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        storage: Storage | None = None,
        breaker: CircuitBreaker | None = None,
        monitor: LimiterMonitor | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.monitor = monitor
        self.breaker = breaker or CircuitBreaker(
            "rate limit store", fallback="failing open", on_change=self._state_changed
        )
        self._account = limits.parse(settings.account_limit)
        self._account_any = limits.parse(settings.account_any_limit)
        self._register = limits.parse(settings.register_limit)
        self._refresh = limits.parse(settings.refresh_limit)
        # A refresh refusal lasts at most one refresh window from the moment it began.
        self._locks = limits.RateLimitItemPerSecond(_MAX_MARKS, int(self._refresh.get_expiry()))
        burst = max(1, int(settings.ip_burst))
        self._ip = limits.RateLimitItemPerSecond(burst, max(1, math.ceil(burst / settings.ip_rate)))
        self._owns_storage = storage is None
        self._storage = storage if storage is not None else limits_storage(settings)
        self._window = MovingWindowRateLimiter(self._storage)
        self._fixed = FixedWindowRateLimiter(self._storage)

    async def check(
        self,
        action: str,
        ip: str | None,
        username: str | None,
        *,
        user_id: str | None = None,
        family_id: str | None = None,
    ) -> Decision:
        """Take the IP's token for ``action``, then test the account's window.

        ``username`` is the login or registration name (a registration attempt is counted
        here, when allowed); ``user_id`` and ``family_id`` the owner of a presented refresh
        token.
        """
        return await self._guarded(self._check(action, ip, username, user_id, family_id), ALLOW)

    async def _check(
        self,
        action: str,
        ip: str | None,
        username: str | None,
        user_id: str | None,
        family_id: str | None,
    ) -> Decision:
        if ip and not await self._window.hit(self._ip, "ip", action, ip):
            stats = await self._window.get_window_stats(self._ip, "ip", action, ip)
            return _refused(stats.reset_time - self._clock(), "ip")
        if username is not None and action == "login":
            key = account_key(username)
            pair = _pair(key, ip)
            if not await self._window.test(self._account, "account", pair):
                stats = await self._window.get_window_stats(self._account, "account", pair)
                return _refused(stats.reset_time - self._clock(), "account")
            if not await self._window.test(self._account_any, "account-any", key) and not (
                ip and not await self._window.test(_KNOWN_ADDRESS, "known", pair)
            ):
                stats = await self._window.get_window_stats(self._account_any, "account-any", key)
                return _refused(stats.reset_time - self._clock(), "account")
        elif username is not None and action == "register":
            key = account_key(username)
            if not await self._fixed.test(self._register, "register", key):
                stats = await self._fixed.get_window_stats(self._register, "register", key)
                return _refused(stats.reset_time - self._clock(), "account")
            await self._fixed.hit(self._register, "register", key)
        elif action == "refresh" and (user_id or family_id):
            for scope, namespace, key in _refresh_keys(user_id, family_id):
                if not await self._fixed.test(self._refresh, namespace, key):
                    stats = await self._fixed.get_window_stats(self._refresh, namespace, key)
                    return _refused(stats.reset_time - self._clock(), scope)
        return ALLOW

    async def _guarded(self, call: Awaitable[T], default: T) -> T:
        """``call`` unless the breaker is open; ``default`` (fail open) when the store fails."""
        if not self.breaker.allow():
            close = getattr(call, "close", None)
            if callable(close):
                close()  # never awaited: say so to the coroutine, not to the warnings filter
            self._failed_open()
            return default
        try:
            result = await call
        except Exception as exc:  # noqa: BLE001 - fail open, once loudly
            self.breaker.failure(exc)
            self._failed_open()
            return default
        self.breaker.success()
        return result

    # -- the services' seam (services.limits.AttemptLimits) ----------------------------------

    def _raise(self, action: str, decision: Decision) -> None:
        if decision.allowed:
            return
        if self.monitor is not None:
            self.monitor.refused(action, decision.scope)
        logger.warning(
            "rate limited %s by %s limit for %ss", action, decision.scope, decision.retry_after
        )
        raise RateLimitedError(decision.retry_after, decision.scope)

    async def admit_login(self, username: str, ip: str | None) -> None:
        """RateLimitedError when the address or the account is over its login limit."""
        self._raise("login", await self.check("login", ip, username))

    async def login_failed(self, username: str, ip: str | None) -> None:
        """Count a wrong password against the account and the (account, address) pair."""
        await self.record_failure(username, ip)

    async def login_succeeded(self, username: str, user_id: str, ip: str | None = None) -> None:
        """The right password: forget the pair's login and the user's refresh failures, and
        remember the address as one the account's owner uses."""
        await self.record_success(username, ip)
        await self.clear_refresh_failures(user_id)

    async def admit_register(self, username: str, ip: str | None) -> None:
        """Count a sign-up attempt for the name; RateLimitedError past the limit."""
        self._raise("register", await self.check("register", ip, username))

    async def admit_refresh(
        self, ip: str | None, user_id: str | None, family_id: str | None
    ) -> None:
        """RateLimitedError for a paced address, or a locked user or family."""
        if (user_id or family_id) and not await self.refresh_locks_possible():
            user_id = family_id = None  # nobody is locked: skip the per-owner lookups
        decision = await self.check("refresh", ip, None, user_id=user_id, family_id=family_id)
        self._raise("refresh", decision)

    async def refresh_failed(self, user_id: str | None, family_id: str | None) -> None:
        """Count a failed refresh against its user and family."""
        await self.record_refresh_failure(user_id, family_id)

    async def refresh_locks_possible(self) -> bool:
        """False while no user or family is refused, so refreshes skip the owner lookup.

        Testing a user's and a family's windows costs two round trips; refusals are rare.
        Whoever counts the failure that fills a window adds an entry to a moving window as
        long as one refresh window (in Redis: seen by every instance); a refusal never
        outlasts the entry added when it began, and only while the window holds an entry are
        the owner's windows tested.
        """
        return await self._guarded(self._locks_possible(), False)

    async def _locks_possible(self) -> bool:
        stats = await self._window.get_window_stats(self._locks, _LOCK_MARKER)
        return stats.remaining < self._locks.amount

    async def record_refresh_failure(self, user_id: str | None, family_id: str | None) -> None:
        """Count one failed refresh against its user and its family (whichever is known)."""
        await self._guarded(self._record_refresh_failure(user_id, family_id), None)

    async def _record_refresh_failure(self, user_id: str | None, family_id: str | None) -> None:
        for _, namespace, key in _refresh_keys(user_id, family_id):
            if not await self._fixed.test(self._refresh, namespace, key):
                continue  # refused already: a refusal is never extended
            await self._fixed.hit(self._refresh, namespace, key)
            if not await self._fixed.test(self._refresh, namespace, key):
                await self._window.hit(self._locks, _LOCK_MARKER)

    async def clear_refresh_failures(self, user_id: str) -> None:
        """A successful login proves the user: forget the user's (not a family's) failures."""
        await self._guarded(self._fixed.clear(self._refresh, "refresh-user", user_id), None)

    async def record_failure(self, username: str, ip: str | None = None) -> None:
        """Count one failed login for ``username`` from ``ip``."""
        await self._guarded(self._record_failure(account_key(username), ip), None)

    async def _record_failure(self, key: str, ip: str | None) -> None:
        await self._window.hit(self._account, "account", _pair(key, ip))
        await self._window.hit(self._account_any, "account-any", key)

    async def record_success(self, username: str, ip: str | None = None) -> None:
        """A successful login forgets the pair's earlier failures and marks ``ip`` known.

        The count over every address is kept: it measures guessing spread over many
        addresses, which one success of the owner does not make less likely.
        """
        await self._guarded(self._record_success(account_key(username), ip), None)

    async def _record_success(self, key: str, ip: str | None) -> None:
        pair = _pair(key, ip)
        await self._window.clear(self._account, "account", pair)
        if ip:
            await self._window.clear(_KNOWN_ADDRESS, "known", pair)  # known from now on
            await self._window.hit(_KNOWN_ADDRESS, "known", pair)

    async def aclose(self) -> None:
        """Release connections (Redis) held by the limiter's own storage."""
        if self._owns_storage:
            await close_storage(self._storage)

    def _failed_open(self) -> None:
        if self.monitor is not None:
            self.monitor.failed_open()

    def _state_changed(self, state: State) -> None:
        if self.monitor is not None:
            self.monitor.store_up(state == "closed")


def _pair(key: str, ip: str | None) -> str:
    """The (account, address) key; without an address (no client known) the account alone."""
    return f"{key}:{ip}" if ip else key


def _refresh_keys(user_id: str | None, family_id: str | None) -> list[tuple[str, str, str]]:
    """(scope, namespace, key) of the refresh windows of a user and a family."""
    keys = []
    if user_id:
        keys.append(("account", "refresh-user", user_id))
    if family_id:
        keys.append(("family", "refresh-family", family_id))
    return keys
