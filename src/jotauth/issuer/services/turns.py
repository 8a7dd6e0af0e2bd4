"""``StoreTurns``: the use cases' store calls in worker threads, a bounded number at a time.

SQLite writes one transaction at a time per file (``store/sql/sqlite_writer.py`` queues the
writers of a process), so letting 16 concurrent refreshes into 16 worker threads buys no
parallelism: they wait on the writer lock or on the GIL, each on a pooled connection of
its own whose page cache every other connection's commit invalidates. Measured with
``bench/issuer_http.py`` (16 wrk connections, one worker): a refresh took 1.09 ms of server
CPU with anyio's default limit (40 threads) and 0.82 ms with its store calls taking turns
(a ``CapacityLimiter`` of one), and served 1120/s instead of 935/s.

On PostgreSQL as many calls run at once as the pool keeps connections (``pool.size()``:
10). With anyio's 40 threads against that pool (and its 20 overflow connections),
16 concurrent refreshes kept checking out overflow connections that the pool closes again
on check-in: 330 to 410 new PostgreSQL connections (a server process forked for each) in
5 s of wrk, against 8 within the pool's size, and 600 against 700 refreshes/s.

The turns cover the store calls of ``AuthService`` only: the password check of a login
(Argon2id, tens of milliseconds, in the same hop as the user lookup) keeps anyio's default
limit, so logins still hash in parallel and a refresh never waits behind a hash. A call
waits for its turn at most ``wait`` seconds (``JOTAUTH_DB_POOL_TIMEOUT``, as long as for a
pooled connection) and then fails as StoreUnavailableError (503), as an exhausted pool did.
"""

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from jotauth.store.errors import StoreUnavailableError
from jotauth.store.sql import SQLStore

__all__ = ["StoreTurns", "in_thread", "turn_limit"]

T = TypeVar("T")


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a worker thread (anyio's default limit): the one way
    the issuer runs a blocking call (the store, the hash, the key ring) off the event loop."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))


def turn_limit(store: SQLStore) -> int | None:
    """How many store calls run at once: one on SQLite, the pool's size elsewhere."""
    engine = store.engine
    if engine.dialect.name == "sqlite":
        return 1
    size = getattr(engine.pool, "size", None)  # QueuePool's; other pools keep no bound
    return int(size()) if callable(size) else None


class StoreTurns:
    """Runs blocking store calls in worker threads, at most ``limit`` at once (None: as
    many as anyio's default limit lets run)."""

    def __init__(self, *, limit: int | None, wait: float) -> None:
        self.limit = limit
        self.wait = wait
        # One limiter per event loop (a limiter belongs to the loop it was made in).
        self._turn: RunVar[anyio.CapacityLimiter] = RunVar(f"jotauth store turns {id(self):x}")

    def _limiter(self, limit: int) -> anyio.CapacityLimiter:
        try:
            return self._turn.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(limit)
            self._turn.set(limiter)
            return limiter

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a worker thread, once a turn is free."""
        if self.limit is None:
            return await in_thread(function, *args, **kwargs)
        limiter = self._limiter(self.limit)
        with anyio.move_on_after(self.wait) as waited:
            await limiter.acquire()
        if waited.cancelled_caught:
            raise StoreUnavailableError(
                f"the database is busy: no turn for a query within {self.wait:g} s"
            )
        try:
            return await in_thread(function, *args, **kwargs)
        finally:
            limiter.release()
