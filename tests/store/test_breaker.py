"""The circuit breaker in front of the issuer's Redis clients, on an injected clock."""

import logging

import pytest

from jotauth.store.breaker import CircuitBreaker, State


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, changes: list[State] | None = None, **options: float) -> CircuitBreaker:
    record = None if changes is None else changes.append
    return CircuitBreaker("test store", clock=clock, on_change=record, **options)  # type: ignore[arg-type]


def test_closed_lets_every_call_through() -> None:
    """A healthy dependency is always tried; successes change nothing."""
    b = breaker(Clock())
    for _ in range(3):
        assert b.allow()
        b.success()
    assert b.state == "closed"


def test_one_failure_opens_and_calls_are_skipped_until_the_cooldown() -> None:
    """After a failure (a timeout) callers skip the dependency at once, for the cool-down."""
    clock = Clock()
    b = breaker(clock, cooldown=5.0)
    assert b.allow()
    b.failure(TimeoutError())
    assert b.state == "open"
    clock.now += 4.9
    assert not b.allow()
    assert not b.allow()
    assert b.skipped == 2


def test_half_open_lets_exactly_one_probe_through() -> None:
    """After the cool-down one caller probes; the others keep skipping while it runs."""
    clock = Clock()
    b = breaker(clock, cooldown=5.0)
    b.failure()
    clock.now += 5.0
    assert b.allow()
    assert b.state == "half_open"
    assert not b.allow()


def test_probe_success_closes_and_failure_reopens_for_another_cooldown() -> None:
    """A probe that succeeds closes the breaker; one that fails opens it for a new cool-down."""
    clock = Clock()
    changes: list[State] = []
    b = breaker(clock, changes, cooldown=5.0)
    b.failure()
    clock.now += 5.0
    assert b.allow()
    b.failure()
    assert b.state == "open"
    clock.now += 4.0
    assert not b.allow()
    clock.now += 1.0
    assert b.allow()
    b.success()
    assert b.state == "closed"
    assert b.allow()
    assert changes == ["open", "half_open", "open", "half_open", "closed"]


def test_a_lost_probe_is_replaced_after_another_cooldown() -> None:
    """A probe whose caller never reported (cancelled) does not keep the breaker half-open."""
    clock = Clock()
    b = breaker(clock, cooldown=5.0)
    b.failure()
    clock.now += 5.0
    assert b.allow()
    clock.now += 5.0
    assert b.allow()


def test_threshold_counts_failures_in_a_row() -> None:
    """With threshold 3 the breaker opens on the third failure in a row; a success resets it."""
    b = breaker(Clock(), threshold=3)
    b.failure()
    b.failure()
    b.success()
    b.failure()
    b.failure()
    assert b.state == "closed"
    b.failure()
    assert b.state == "open"


def test_logs_once_per_change_of_state(caplog: pytest.LogCaptureFixture) -> None:
    """A hundred failed or skipped calls log one line going down and one coming back."""
    clock = Clock()
    b = CircuitBreaker("rate limit store", fallback="failing open", clock=clock)
    with caplog.at_level(logging.INFO, logger="jotauth.store"):
        for _ in range(100):
            if b.allow():
                b.failure(ConnectionError())
        clock.now += 5.0
        assert b.allow()
        b.success()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "rate limit store unavailable (ConnectionError); failing open, next try in 5 s",
        "rate limit store is back after 5.0 s",
    ]


def test_a_failing_listener_never_breaks_the_caller() -> None:
    """The state-change callback (a metric) raising is logged, not propagated."""

    def broken(_state: State) -> None:
        raise RuntimeError("metric")

    b = CircuitBreaker("x", on_change=broken, clock=Clock())
    b.failure()
    assert b.state == "open"


def test_rejects_nonsense_settings() -> None:
    """A zero cool-down or threshold is refused."""
    with pytest.raises(ValueError, match="cooldown"):
        CircuitBreaker("x", cooldown=0)
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker("x", threshold=0)
