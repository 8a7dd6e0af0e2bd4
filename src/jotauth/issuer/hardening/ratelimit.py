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
  window, the same whether it is taken or not (see ``attempts``).
* **Per account, refresh**: failed refreshes attributable to a user and refresh family
  (reuse detected, session ended or expired, account disabled) are counted per user and per
  family; past the limit further refreshes of that user or family answer 429 until the
  window ends. A successful login clears the user's count (not the family's: a dead family
  stays dead). Refresh tokens the store does not know cannot be attributed: the IP bucket
  paces them.
* **Per IP and action** (login, refresh, register): a token bucket allows a burst, then paces
  to a steady rate (see ``tokenbucket``). Every attempt costs a token, success or not.

With a Redis URL both live in Redis and are shared by every worker and instance; otherwise
they live in the process (fine for one worker, documented as such). When Redis is
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
from typing import TYPE_CHECKING, Any, TypeVar

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from jotauth.issuer.errors import RateLimitedError
from jotauth.issuer.hardening.attempts import AttemptStore, MemoryAttempts, RedisAttempts, Rule
from jotauth.issuer.hardening.settings import HardeningSettings
from jotauth.issuer.hardening.tokenbucket import MemoryTokenBucket, RedisTokenBucket, TokenBucket
from jotauth.issuer.services.users import username_key
from jotauth.store.breaker import CircuitBreaker, State

if TYPE_CHECKING:
    from jotauth.issuer.hardening.metrics import HardeningMetrics

__all__ = ["Decision", "RateLimiter", "account_key"]

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


def account_key(username: str) -> str:
    """A stable, opaque key per account: the name in the one form the issuer compares names
    in (``username_key``: PRECIS, case- and width-insensitive), hashed, never the raw name."""
    normal = username_key(username)
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _redis_limits_url(url: str) -> str:
    return url if url.startswith("async+") else "async+" + url


def _refused(wait: float, scope: str) -> Decision:
    return Decision(False, max(1, math.ceil(wait)), scope)


class RateLimiter:
    """Every limit behind ``check`` and the ``record_*`` calls fed by the issuer's events.

    ``window_clock`` drives the registration and refresh windows (the issuer's clock, so tests
    move time instead of sleeping); ``attempts`` replaces their store.
    """

    def __init__(
        self,
        settings: HardeningSettings,
        *,
        clock: Callable[[], float] = time.time,
        bucket: TokenBucket | None = None,
        window_clock: Callable[[], float] = time.time,
        attempts: AttemptStore | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: "HardeningMetrics | None" = None,
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_refused = on_refused
        self._clock = clock
        self.metrics = metrics
        self.breaker = breaker or CircuitBreaker(
            "rate limit store", fallback="failing open", on_change=self._state_changed
        )
        self._account = limits.parse(settings.account_limit)
        self._account_any = limits.parse(settings.account_any_limit)
        self._register = Rule.parse(settings.register_limit)
        self._refresh = Rule.parse(settings.refresh_limit)
        storage: Storage
        if settings.redis_url:
            from jotauth.store.redis_client import client_options  # imports redis

            storage = RedisStorage(
                _redis_limits_url(settings.redis_url),
                implementation="redispy",
                key_prefix="jotauth:limits",
                **client_options(asyncio=True),
            )
            default_bucket: TokenBucket = RedisTokenBucket(
                settings.redis_url, settings.ip_burst, settings.ip_rate
            )
            default_attempts: AttemptStore = RedisAttempts(settings.redis_url, clock=window_clock)
        else:
            storage = MemoryStorage()
            default_bucket = MemoryTokenBucket(settings.ip_burst, settings.ip_rate)
            default_attempts = MemoryAttempts(clock=window_clock)
        self._storage = storage
        self._window = MovingWindowRateLimiter(storage)
        self.bucket = bucket if bucket is not None else default_bucket
        self.attempts = attempts if attempts is not None else default_attempts

    @property
    def shared(self) -> bool:
        """True when the counters are shared through Redis."""
        return self.settings.redis_url is not None

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
        if ip:
            wait = await self.bucket.take(f"{action}:{ip}")
            if wait > 0:
                return _refused(wait, "ip")
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
            wait = await self.attempts.attempt("register:" + account_key(username), self._register)
            if wait > 0:
                return _refused(wait, "account")
        elif action == "refresh" and (user_id or family_id):
            for scope, key in _refresh_keys(user_id, family_id):
                wait = await self.attempts.blocked(key, self._refresh)
                if wait > 0:
                    return _refused(wait, scope)
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
        if self.on_refused is not None:
            self.on_refused(action, decision.scope)
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
        Whoever counts the failure that fills a window raises a marker for as long as that
        refusal lasts (in Redis: seen by every instance), and only while it is up are the
        owner's windows tested.
        """
        return await self._guarded(self.attempts.marked(_LOCK_MARKER), False)

    async def record_refresh_failure(self, user_id: str | None, family_id: str | None) -> None:
        """Count one failed refresh against its user and its family (whichever is known)."""
        await self._guarded(self._record_refresh_failure(user_id, family_id), None)

    async def _record_refresh_failure(self, user_id: str | None, family_id: str | None) -> None:
        for _, key in _refresh_keys(user_id, family_id):
            await self.attempts.attempt(key, self._refresh)
            wait = await self.attempts.blocked(key, self._refresh)
            if wait > 0:
                await self.attempts.mark(_LOCK_MARKER, wait)

    async def clear_refresh_failures(self, user_id: str) -> None:
        """A successful login proves the user: forget the user's (not a family's) failures."""
        await self._guarded(self.attempts.clear(f"refresh-user:{user_id}"), None)

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
        """Release connections (Redis) held by the limiter."""
        await self.bucket.aclose()
        await self.attempts.aclose()
        bridge: Any = getattr(self._storage, "bridge", None)
        aclose = getattr(getattr(bridge, "storage", None), "aclose", None)
        if callable(aclose):
            await aclose()

    def _failed_open(self) -> None:
        if self.metrics is not None:
            self.metrics.ratelimit_fail_open.inc()

    def _state_changed(self, state: State) -> None:
        if self.metrics is not None:
            self.metrics.dependency_up.labels(dependency="ratelimit_store").set(
                1 if state == "closed" else 0
            )


def _pair(key: str, ip: str | None) -> str:
    """The (account, address) key; without an address (no client known) the account alone."""
    return f"{key}:{ip}" if ip else key


def _refresh_keys(user_id: str | None, family_id: str | None) -> list[tuple[str, str]]:
    keys = []
    if user_id:
        keys.append(("account", f"refresh-user:{user_id}"))
    if family_id:
        keys.append(("family", f"refresh-family:{family_id}"))
    return keys
