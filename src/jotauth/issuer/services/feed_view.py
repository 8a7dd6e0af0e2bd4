"""The revocation feed, read into memory, for introspection's revocation check.

A guard keeps a ``RevocationView`` of the feed so that checking a token costs no round trip;
introspection of a service token asked the database instead (one statement per request,
half of an introspection's cost). ``FeedView`` gives the issuer the guard's view, filled from
its own database:

- It is read again (the feed entries after its cursor: usually one short query that finds
  nothing) at most every ``JOTAUTH_REVOCATION_CACHE_SECONDS`` (default 2), so a revocation
  made by *another* process (worker, instance, ``jotauth`` CLI) is honoured here at most that
  long after it committed, as guards honour it after their poll interval.
- A revocation made in *this* process is honoured at once: the store tells the view after it
  committed (``jotauth.store.sql.changes``), and the next check reads the feed first. A read
  that was under way when the change happened is not taken for a read after it.
- 0 switches the view off: introspection then asks the database for every token, as before.

The feed holds what revokes a service token (its jti, its client's disabling as a ``user``
event, its signing key); the client's current row comes from ``ClientCache``. If the feed
cannot be read, the check fails (the request errors), it never answers from an old view.
"""

import math
import threading
import time
from collections.abc import Callable

from jotauth.guard.revocation import RevocationView
from jotauth.store.sql import SQLStore
from jotauth.store.sql.changes import REVOCATION

__all__ = ["FeedView"]


class FeedView:
    """``current()``: a RevocationView at most ``seconds`` behind the database (module doc)."""

    def __init__(
        self,
        store: SQLStore,
        *,
        seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: the server's; a read is old once it is ``seconds`` old, or from the
        future (the clock was set back), so a clock step never stretches the staleness."""
        self.store = store
        self.seconds = seconds
        self.clock = clock
        self.view = RevocationView()
        self._cursor = 0
        self._synced_at = -math.inf
        self._synced = -1  # the change generation the last read started at
        self._generation = 0
        self._lock = threading.Lock()  # one read of the feed at a time
        self._counting = threading.Lock()  # never held across a read: writers never wait
        store.changes.subscribe(self._changed)

    def fresh(self) -> bool:
        """Whether ``view`` may be read as it is now (no read of the feed due; never blocks)."""
        return self._synced == self._generation and 0 <= self.clock() - self._synced_at < (
            self.seconds
        )

    def current(self) -> RevocationView:
        """The view, read up to the feed's end first when it is stale (blocking)."""
        if self.fresh():
            return self.view
        with self._lock:
            if self.fresh():
                return self.view
            generation, started = self._generation, self.clock()
            while True:
                page = self.store.feed_page(self._cursor, now=started)
                self.view.apply(record.as_event() for record in page.records)
                self._cursor = page.cursor
                if not page.more:
                    break
            self.view.purge(started)
            self._synced_at, self._synced = started, generation
        return self.view

    def _changed(self, kind: str, key: str | None) -> None:
        if kind == REVOCATION:
            with self._counting:
                self._generation += 1
