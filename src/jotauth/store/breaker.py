"""A circuit breaker for the issuer's Redis clients: a hung Redis costs one timeout, not one each.

A dead Redis refuses connections at once; a hung one (frozen, blackholed) lets every call wait
out its socket timeout, and nothing stopped each request from paying it again, several times
over (a login made three Redis calls: 6 s). The breaker remembers the failure::

    closed ──failure──► open ──cool-down──► half-open ──probe ok──► closed
                          ▲                     │
                          └──── probe failed ───┘

While open, ``allow()`` is False and callers skip Redis at once, doing what they do when it is
down (the rate limiter fails open, the publisher leaves revocations to the feed). After
``cooldown`` seconds one caller is let through as the probe; its success closes the breaker,
its failure opens it for another cool-down. So a hung Redis costs one request one timeout per
cool-down, and a line is logged per change of state, never per call.

Written here rather than taken from a library: the candidates (pybreaker, aiobreaker) each
cover one of sync or async and read the wall clock; this one is used from threads and from the
event loop alike, and its clock is injectable so tests never sleep.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Final, Literal

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "State"]

logger = logging.getLogger("jotauth.store")

State = Literal["closed", "open", "half_open"]
CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"


class CircuitBreaker:
    """Closed → open after ``threshold`` failures in a row → half-open probe after ``cooldown``.

    ``name`` says what is guarded in the log lines ("rate limit store"), ``fallback`` what
    the callers do meanwhile ("failing open"); ``on_change`` is called with each new state (a
    metric). Thread-safe; every method is cheap and never blocks.
    """

    def __init__(
        self,
        name: str,
        *,
        fallback: str = "doing without it",
        cooldown: float = 5.0,
        threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        if cooldown <= 0 or threshold < 1:
            raise ValueError("cooldown must be > 0 and threshold >= 1")
        self.name = name
        self.fallback = fallback
        self.cooldown = cooldown
        self.threshold = threshold
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state: State = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._down_since = 0.0
        self._probe_started = 0.0
        self.skipped = 0
        """Calls refused while open (each one did without Redis at no cost)."""

    @property
    def state(self) -> State:
        """The current state (``open`` turns ``half_open`` only when a caller asks)."""
        return self._state

    def allow(self) -> bool:
        """Whether to try the dependency now; False means do without it."""
        with self._lock:
            if self._state == CLOSED:
                return True
            now = self._clock()
            if self._state == OPEN and now - self._opened_at >= self.cooldown:
                self._state = HALF_OPEN
                self._probe_started = now
                changed: State | None = HALF_OPEN
            elif self._state == HALF_OPEN and now - self._probe_started >= self.cooldown:
                # The probe never reported (its caller was cancelled): let another one try.
                self._probe_started = now
                changed = None
            else:
                self.skipped += 1
                return False
        if changed is not None:
            self._notify(changed)
        return True

    def success(self) -> None:
        """The call went through: close the breaker (logged when it was not closed)."""
        with self._lock:
            self._failures = 0
            if self._state == CLOSED:
                return
            down_for = self._clock() - self._down_since
            self._state = CLOSED
        logger.warning("%s is back after %.1f s", self.name, down_for)
        self._notify(CLOSED)

    def failure(self, exc: BaseException | None = None) -> None:
        """The call failed or timed out: open the breaker (logged on the change only)."""
        why = type(exc).__name__ if exc is not None else "failure"
        with self._lock:
            self._failures += 1
            if self._state == OPEN or (self._state == CLOSED and self._failures < self.threshold):
                return
            was = self._state
            self._state = OPEN
            self._opened_at = self._clock()
            if was == CLOSED:
                self._down_since = self._opened_at
        if was == CLOSED:
            logger.warning(
                "%s unavailable (%s); %s, next try in %.0f s",
                self.name,
                why,
                self.fallback,
                self.cooldown,
            )
        else:
            logger.info("%s still unavailable (%s)", self.name, why)
        self._notify(OPEN)

    def _notify(self, state: State) -> None:
        if self._on_change is not None:
            try:
                self._on_change(state)
            except Exception:  # a metric must never break the caller
                logger.exception("circuit breaker listener failed")
