"""``StoreTurns``: the use cases' store calls in a worker thread, one at a time on SQLite.

SQLite writes one transaction at a time per file (``store/sql/sqlite_writer.py`` queues the
writers of a process), so letting 16 concurrent refreshes into 16 worker threads buys no
parallelism: they wait on the writer lock or on the GIL, each on a pooled connection of
its own whose page cache every other connection's commit invalidates. Measured with
``bench/issuer_http.py`` (16 wrk connections, one worker): a refresh took 1.09 ms of server
CPU with anyio's default limit (40 threads) and 0.82 ms with its store calls taking turns
(a ``CapacityLimiter`` of one), and served 1120/s instead of 935/s.

The turns cover the store calls of ``AuthService`` only: the password check of a login
(Argon2id, tens of milliseconds, in the same hop as the user lookup) keeps anyio's default
limit, so logins still hash in parallel and a refresh never waits behind a hash. On
PostgreSQL the calls keep the default limit too: the server runs many transactions at once
and each one waits on the network, not on the GIL.
"""

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

__all__ = ["StoreTurns"]

T = TypeVar("T")


class StoreTurns:
    """Runs blocking store calls in worker threads; ``serial``: one at a time (SQLite)."""

    def __init__(self, *, serial: bool) -> None:
        # One limiter per event loop (a limiter belongs to the loop it was made in).
        self._turn: RunVar[anyio.CapacityLimiter] | None = (
            RunVar(f"jotauth store turn {id(self):x}") if serial else None
        )

    @property
    def serial(self) -> bool:
        """Whether the calls take turns."""
        return self._turn is not None

    def _limiter(self) -> anyio.CapacityLimiter | None:
        if self._turn is None:
            return None  # anyio's default limiter
        try:
            return self._turn.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(1)
            self._turn.set(limiter)
            return limiter

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a worker thread, after the calls before it."""
        return await anyio.to_thread.run_sync(
            partial(function, *args, **kwargs), limiter=self._limiter()
        )
