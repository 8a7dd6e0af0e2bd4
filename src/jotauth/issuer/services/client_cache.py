"""The client records the token and introspection endpoints read, kept for a few seconds.

Every client_credentials, introspection and revocation request authenticates its client, and
the client's row was one database round trip of each (most of an introspection's cost, with
the revocation check). This copy answers from memory for ``JOTAUTH_CLIENT_CACHE_SECONDS``
(default 5; 0 reads the database every time):

- A change made in this process (disable, enable, rotate-secret, update, register, through
  the admin API in this worker) reaches the copy at once: the store tells it after commit
  (``jotauth.store.sql.changes``), and a read that was under way when it happened does not
  put its older row back.
- A change made by another process (another worker, another instance, ``jotauth client``
  from a shell) is seen here at most that many seconds later: until then a client disabled
  there still authenticates here, and a secret rotated there is still accepted here along
  with the new one. Tokens issued meanwhile are no way around a disabling: disabling
  publishes a revocation of every token the client holds that was issued before it
  (``set_client_disabled``), and introspection and guards refuse them.
- At most ``max_entries`` clients are kept (least recently used go first), so a stream of
  made-up client ids evicts entries rather than growing memory. An unknown client id is
  remembered as unknown too (the same time), so such a stream costs no more reads than
  known ones.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from jotauth.store.records import ClientRecord
from jotauth.store.sql import SQLStore
from jotauth.store.sql.changes import CLIENT

__all__ = ["ClientCache"]

_MAX_ENTRIES: Final = 4096


class ClientCache:
    """``get(client_id)``: the client's row, at most ``seconds`` old (see the module doc)."""

    def __init__(
        self,
        store: SQLStore,
        *,
        seconds: float,
        max_entries: int = _MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: the server's; a copy is old once it is ``seconds`` old, or from the
        future (the clock was set back), so a clock step never stretches the staleness."""
        self.store = store
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, ClientRecord | None]] = OrderedDict()
        self._generation = 0
        """Bumped by every change this process makes: a read that started before it keeps
        its answer to itself (it may predate the change)."""
        self._lock = threading.Lock()
        store.changes.subscribe(self._changed)

    def cached(self, client_id: str) -> tuple[bool, ClientRecord | None]:
        """``(True, the client or None)`` from memory, or ``(False, None)`` when ``get`` must
        read the database; never blocks, so the event loop may ask it."""
        if self.seconds <= 0:
            return False, None
        now = self.clock()
        with self._lock:
            found = self._entries.get(client_id)
            if found is None or not 0 <= now - found[0] < self.seconds:
                return False, None
            self._entries.move_to_end(client_id)
            return True, found[1]

    def get(self, client_id: str) -> ClientRecord | None:
        """The client, or None when no client has this id (blocking: run it in a thread)."""
        if self.seconds <= 0:
            return self.store.get_client(client_id)
        hit, record = self.cached(client_id)
        if hit:
            return record
        now = self.clock()
        with self._lock:
            generation = self._generation
        record = self.store.get_client(client_id)
        with self._lock:
            if generation == self._generation:
                self._entries[client_id] = (now, record)
                self._entries.move_to_end(client_id)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return record

    def forget(self, client_id: str | None = None) -> None:
        """Drop one client's copy (every copy when None)."""
        with self._lock:
            self._generation += 1
            if client_id is None:
                self._entries.clear()
            else:
                self._entries.pop(client_id, None)

    def _changed(self, kind: str, key: str | None) -> None:
        if kind == CLIENT:
            self.forget(key)

    def __len__(self) -> int:
        return len(self._entries)
