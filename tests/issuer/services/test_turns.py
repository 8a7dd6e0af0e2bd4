"""Store calls take turns on SQLite (one at a time), and run side by side otherwise."""

import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from jotauth.issuer.runtime import build_runtime
from jotauth.issuer.services.turns import StoreTurns

pytestmark = pytest.mark.anyio


def _overlap_meter() -> tuple[Callable[[], int], Callable[[], int]]:
    """A blocking call that records how many copies of it run at once, and the peak."""
    lock, active, peak = threading.Lock(), [0], [0]

    def call() -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        threading.Event().wait(0.02)  # long enough for the others to start, if they may
        with lock:
            active[0] -= 1
        return threading.get_ident()

    return call, lambda: peak[0]


async def test_serial_calls_never_overlap_and_each_returns_its_result() -> None:
    turns = StoreTurns(serial=True)
    call, peak = _overlap_meter()
    results: list[int] = []

    async def one() -> None:
        results.append(await turns.run(call))

    async with anyio.create_task_group() as tasks:
        for _ in range(6):
            tasks.start_soon(one)
    assert len(results) == 6
    assert threading.get_ident() not in results  # worker threads, never the event loop's
    assert peak() == 1


async def test_calls_that_need_not_take_turns_run_side_by_side() -> None:
    turns = StoreTurns(serial=False)
    barrier = threading.Barrier(2, timeout=30)  # both must be inside at once to pass

    def meet() -> str:
        barrier.wait()
        return "met"

    async with anyio.create_task_group() as tasks:
        for _ in range(2):
            tasks.start_soon(turns.run, meet)
    assert not barrier.broken


async def test_errors_and_keyword_arguments_go_through() -> None:
    turns = StoreTurns(serial=True)

    def divide(a: int, *, by: int) -> float:
        return a / by

    assert await turns.run(divide, 6, by=3) == 2
    with pytest.raises(ZeroDivisionError):
        await turns.run(divide, 1, by=0)


def test_one_instance_serves_one_event_loop_after_another() -> None:
    """The limiter belongs to a loop: a second loop (the next test client) gets its own."""
    turns = StoreTurns(serial=True)
    for _ in range(2):
        assert anyio.run(turns.run, lambda: 7) == 7


def test_the_auth_service_takes_turns_on_sqlite_only(database_url: str, kit: Any) -> None:
    runtime = build_runtime(kit.make_settings(database_url))
    try:
        assert runtime.auth._turns.serial == database_url.startswith("sqlite")
    finally:
        runtime.store.close()
