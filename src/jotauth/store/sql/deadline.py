"""A client-side deadline for database connections: the socket is shut down when it passes.

psycopg has no read timeout: a statement sent to a server that stopped answering (frozen by
SIGSTOP, a VM paused, a network path that drops packets while the kernel on the far side still
acknowledges them) waits forever, and so does the request thread holding it. PostgreSQL's own
``statement_timeout`` cannot help, the server being the one that is stuck.

One daemon thread per engine keeps the deadline of each checked-out connection. When a
deadline passes, it shuts the connection's socket down (``shutdown(2)``, never ``close``: the
descriptor stays the driver's). The waiting driver call then fails at once with "server closed
the connection unexpectedly", which SQLAlchemy sees as a disconnect: the connection is
invalidated, the error becomes ``StoreUnavailableError`` and the request answers 503.
"""

import heapq
import itertools
import logging
import socket
import threading
import time
from typing import Any

__all__ = ["Watchdog"]

logger = logging.getLogger("jotauth.store")


class Watchdog:
    """Deadlines per connection; ``arm`` (re)starts one, ``disarm`` ends it."""

    def __init__(self, *, name: str = "jotauth-watchdog") -> None:
        self._name = name
        self._lock = threading.Condition()
        self._deadlines: dict[int, tuple[float, int, Any]] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None
        self.fired = 0
        """How many connections were cut (for tests and metrics)."""

    def arm(self, connection: Any, seconds: float) -> None:
        """``connection`` (a DB-API connection with ``fileno()``) must answer within ``seconds``."""
        deadline = time.monotonic() + seconds
        with self._lock:
            token = next(self._counter)
            self._deadlines[id(connection)] = (deadline, token, connection)
            heapq.heappush(self._heap, (deadline, token, id(connection)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif self._heap[0][1] == token:
                self._lock.notify()

    def disarm(self, connection: Any) -> None:
        """The connection is back in the pool (or gone): no deadline any more."""
        with self._lock:
            self._deadlines.pop(id(connection), None)

    def _run(self) -> None:
        while True:
            with self._lock:
                while True:
                    now = time.monotonic()
                    while self._heap and self._stale(self._heap[0]):
                        heapq.heappop(self._heap)
                    if self._heap and self._heap[0][0] <= now:
                        _, _, key = heapq.heappop(self._heap)
                        _, _, connection = self._deadlines.pop(key)
                        break
                    wait = self._heap[0][0] - now if self._heap else None
                    self._lock.wait(wait)
            self.fired += 1
            _cut(connection)

    def _stale(self, entry: tuple[float, int, int]) -> bool:
        current = self._deadlines.get(entry[2])
        return current is None or current[1] != entry[1]


def _cut(connection: Any) -> None:
    """Shut the connection's socket down so the driver's pending read fails now."""
    try:
        fd = int(connection.fileno())
    except Exception:  # noqa: BLE001 - already closed or broken: nothing to cut
        return
    try:
        with socket.socket(fileno=socket.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return
    logger.debug("database connection cut after its deadline")
