"""Brute-force limits for login, refresh and registration.

Two independent limits, after OWASP's authentication cheat sheet:

* **Per account** (login only): failed logins for one username are counted in a moving window
  (``limits``, default 5 per 15 minutes). Once the window is full the account answers 429
  before any password is checked, until the oldest failure leaves the window. Attempts while
  locked are not counted, so the lockout ends at most one window after the first failure: an
  attacker can slow a real user down but never lock them out for good. A successful login
  clears the count. The limit applies to any username, existing or not, so a 429 says nothing
  about which accounts exist.
* **Per IP and action** (login, refresh, register): a token bucket allows a burst, then paces
  to a steady rate (see ``tokenbucket``). Every attempt costs a token, success or not.

With a Redis URL both live in Redis and are shared by every worker and instance; otherwise
they live in the process (fine for one worker, documented as such). When Redis is
unreachable the limiter fails open and logs it, so an outage of the counter store does not
become an outage of logins.
"""

import hashlib
import logging
import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from jotauth.issuer.hardening.settings import HardeningSettings
from jotauth.issuer.hardening.tokenbucket import MemoryTokenBucket, RedisTokenBucket, TokenBucket

__all__ = ["Decision", "RateLimiter", "account_key"]

logger = logging.getLogger("jotauth.ratelimit")


@dataclass(frozen=True)
class Decision:
    """The answer for one attempt: allowed, or refused for ``retry_after`` whole seconds."""

    allowed: bool
    retry_after: int = 0
    scope: str = ""


ALLOW = Decision(True)


def account_key(username: str) -> str:
    """A stable, opaque key per account: case- and width-insensitive, never the raw name."""
    normal = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _redis_limits_url(url: str) -> str:
    return url if url.startswith("async+") else "async+" + url


class RateLimiter:
    """Both limits behind three calls: ``check``, ``record_failure``, ``record_success``."""

    def __init__(
        self,
        settings: HardeningSettings,
        *,
        clock: Callable[[], float] = time.time,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._account = limits.parse(settings.account_limit)
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                _redis_limits_url(settings.redis_url),
                implementation="redispy",
                key_prefix="jotauth:limits",
                socket_timeout=2,
                socket_connect_timeout=2,
            )
            default_bucket: TokenBucket = RedisTokenBucket(
                settings.redis_url, settings.ip_burst, settings.ip_rate
            )
        else:
            storage = MemoryStorage()
            default_bucket = MemoryTokenBucket(settings.ip_burst, settings.ip_rate)
        self._storage = storage
        self._window = MovingWindowRateLimiter(storage)
        self.bucket = bucket if bucket is not None else default_bucket

    @property
    def shared(self) -> bool:
        """True when the counters are shared through Redis."""
        return self.settings.redis_url is not None

    async def check(self, action: str, ip: str | None, username: str | None) -> Decision:
        """Take the IP's token for ``action``, then test the account's failure window."""
        try:
            if ip:
                wait = await self.bucket.take(f"{action}:{ip}")
                if wait > 0:
                    return Decision(False, max(1, math.ceil(wait)), "ip")
            if username is not None and action == "login":
                key = account_key(username)
                if not await self._window.test(self._account, "account", key):
                    stats = await self._window.get_window_stats(self._account, "account", key)
                    retry = max(1, math.ceil(stats.reset_time - self._clock()))
                    return Decision(False, retry, "account")
        except Exception as exc:  # noqa: BLE001 - fail open, loudly
            self._storage_failed(exc)
        return ALLOW

    async def record_failure(self, username: str) -> None:
        """Count one failed login for ``username``."""
        try:
            await self._window.hit(self._account, "account", account_key(username))
        except Exception as exc:  # noqa: BLE001 - fail open, loudly
            self._storage_failed(exc)

    async def record_success(self, username: str) -> None:
        """A successful login forgets the account's earlier failures."""
        try:
            await self._window.clear(self._account, "account", account_key(username))
        except Exception as exc:  # noqa: BLE001 - fail open, loudly
            self._storage_failed(exc)

    async def aclose(self) -> None:
        """Release connections (Redis) held by the limiter."""
        await self.bucket.aclose()
        bridge: Any = getattr(self._storage, "bridge", None)
        aclose = getattr(getattr(bridge, "storage", None), "aclose", None)
        if callable(aclose):
            await aclose()

    @staticmethod
    def _storage_failed(exc: Exception) -> None:
        logger.error(
            "rate limit store unavailable, failing open: %s", type(exc).__name__, exc_info=False
        )
