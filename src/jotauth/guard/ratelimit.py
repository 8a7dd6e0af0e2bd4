"""A client's tier rate limit, enforced at the service from its token's claims.

The issuer puts the figures into each client_credentials token (``"tier": "gold",
"rate_limit": {"requests": 600, "window": 60}``); a guard with a ``ClientRateLimiter``
counts each request against ``requests`` per ``window`` seconds for the token's
``client_id``, so the limit holds at the gateway without asking the issuer. Counting is the
``limits`` library's (a fixed window, in memory for one process or in Redis so that every
instance of a service shares one count): windows and storage are not jotauth's to write.

A store that fails (Redis down) admits the request and logs once per outage: a rate limit
protects capacity, and refusing every request because the counter is away would be the
outage it exists to prevent. Tokens without ``rate_limit`` are not counted.
"""

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from jotauth import jose
from jotauth.errors import MissingDependencyError
from jotauth.guard.errors import RateLimitedError

try:
    import limits
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter
except ModuleNotFoundError as exc:
    raise MissingDependencyError(
        "jotauth.guard.ratelimit needs the limits library", "ratelimit", exc
    ) from None

__all__ = ["ClientRateLimiter", "limit_of"]

logger = logging.getLogger("jotauth.guard")

_NAMESPACE: Final = "jotauth-guard"
_MAX_WINDOW: Final = 86400


def limit_of(claims: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(requests, window seconds)`` from a token's ``rate_limit`` claim, or None.

    A claim of another shape is the issuer's mistake or a forgery that passed no signature
    check; either way it is refused (``InvalidClaimError``) rather than read as "no limit".
    """
    value = claims.get("rate_limit")
    if value is None:
        return None
    if isinstance(value, Mapping):
        requests, window = value.get("requests"), value.get("window", 60)
        if (
            type(requests) is int
            and type(window) is int
            and requests > 0
            and 0 < window <= _MAX_WINDOW
        ):
            return requests, window
    raise jose.InvalidClaimError(
        "rate_limit", "invalid", 'rate_limit must be {"requests": N, "window": seconds}'
    )


class ClientRateLimiter:
    """Counts requests per client against the limit its token carries.

    ``storage``: a ``limits`` storage URI, ``"memory://"`` (default) or ``"redis://..."``
    (shared by every instance). ``blocking`` says whether a check does network I/O, so the
    async adapters run it in a worker thread.
    """

    def __init__(
        self,
        storage: str = "memory://",
        *,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        self._storage = storage_from_string(storage, **options)
        self._limiter = FixedWindowRateLimiter(self._storage)
        self.blocking = not storage.startswith("memory://")
        self._clock = clock
        self._failing = False

    def hit(self, client_id: str, requests: int, window: int) -> None:
        """Count one request of ``client_id``; RateLimitedError past ``requests``/``window``."""
        item = limits.RateLimitItemPerSecond(requests, window, namespace=_NAMESPACE)
        try:
            admitted = self._limiter.hit(item, client_id)
            if admitted:
                self._recovered()
                return
            reset = self._limiter.get_window_stats(item, client_id).reset_time
        except Exception as exc:  # noqa: BLE001 - any storage failure admits (see module doc)
            if not self._failing:
                logger.warning("jotauth guard: rate-limit storage failed, admitting: %s", exc)
            self._failing = True
            return
        self._recovered()
        raise RateLimitedError(math.ceil(max(1.0, reset - self._clock())))

    def _recovered(self) -> None:
        if self._failing:
            logger.warning("jotauth guard: rate-limit storage answers again")
            self._failing = False
