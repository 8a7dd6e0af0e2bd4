"""Store calls take turns (at most ``limit`` at once, a bounded wait), or run side by side."""

import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.from_thread
import pytest

from jotauth.issuer.runtime import build_runtime
from jotauth.issuer.services.turns import StoreTurns
from jotauth.store.errors import StoreUnavailableError

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
    turns = StoreTurns(limit=1, wait=30)
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
    turns = StoreTurns(limit=None, wait=30)
    barrier = threading.Barrier(2, timeout=30)  # both must be inside at once to pass

    def meet() -> str:
        barrier.wait()
        return "met"

    async with anyio.create_task_group() as tasks:
        for _ in range(2):
            tasks.start_soon(turns.run, meet)
    assert not barrier.broken


async def test_errors_and_keyword_arguments_go_through() -> None:
    turns = StoreTurns(limit=1, wait=30)

    def divide(a: int, *, by: int) -> float:
        return a / by

    assert await turns.run(divide, 6, by=3) == 2
    with pytest.raises(ZeroDivisionError):
        await turns.run(divide, 1, by=0)


async def test_a_call_waits_for_its_turn_a_bounded_time() -> None:
    """Past ``wait`` the call fails as the store being unavailable (503), never runs late."""
    turns = StoreTurns(limit=1, wait=0.05)
    release, ran = threading.Event(), []
    busy = anyio.Event()

    def hold() -> None:
        anyio.from_thread.run_sync(busy.set)
        release.wait(30)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(turns.run, hold)
        await busy.wait()
        with pytest.raises(StoreUnavailableError, match="no turn"):
            await turns.run(ran.append, 1)
        release.set()
    assert ran == []
    assert await turns.run(ran.append, 2) is None  # the turn is free again
    assert ran == [2]


def test_one_instance_serves_one_event_loop_after_another() -> None:
    """The limiter belongs to a loop: a second loop (the next test client) gets its own."""
    turns = StoreTurns(limit=1, wait=30)
    for _ in range(2):
        assert anyio.run(turns.run, lambda: 7) == 7


def test_the_auth_service_takes_one_turn_on_sqlite_and_the_pool_size_elsewhere(
    database_url: str, kit: Any
) -> None:
    runtime = build_runtime(kit.make_settings(database_url))
    try:
        sqlite = database_url.startswith("sqlite")
        assert runtime.auth._turns.limit == (1 if sqlite else runtime.store.engine.pool.size())
    finally:
        runtime.store.close()


def test_waiting_for_a_revocations_not_before_holds_no_turn(sqlite_url: str, kit: Any) -> None:
    """Right after a user-wide revocation a new token waits for the next whole second (its
    not-before); that wait happens outside the store turns, or on SQLite (one turn) every
    other store call of the process would stall behind it for up to a second."""
    import time

    from jotauth.issuer.services.auth import Client

    runtime = build_runtime(kit.make_settings(sqlite_url))
    auth = runtime.auth
    marks = threading.local()
    take_turn = auth._turns.run

    async def run_marked(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def marked() -> Any:
            marks.in_turn = True
            try:
                return function(*args, **kwargs)
            finally:
                marks.in_turn = False

        return await take_turn(marked)

    waits: list[bool] = []

    def sleep(seconds: float) -> None:
        waits.append(getattr(marks, "in_turn", False))
        time.sleep(seconds)

    auth._turns.run = run_marked  # type: ignore[method-assign]
    auth.tokens.sleep = sleep

    async def main() -> None:
        user = await auth.create_user("john", "password123")
        await auth._store(auth.tokens.end_all_sessions, user.id, reason="logout_all")
        pair = await auth.login("john", "password123", Client())
        assert pair.access_token

    try:
        anyio.run(main)
    finally:
        runtime.store.close()
    assert waits == [False]
