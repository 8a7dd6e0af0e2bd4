"""Telling this process's caches, after commit, that a row they copy has changed.

The issuer keeps two short-lived copies of database state for its hottest reads (the client
records, and a view of the revocation feed: ``jotauth.issuer.services.client_cache`` and
``feed_view``). Another process's change reaches them when their copy expires; a change made
*in this process* must reach them at once, so the store methods that make one tell
``Changes`` when their transaction has committed (never before: a cache refilled between
the write and the commit would keep the old row). Listeners are called in the writer's
thread and must be quick and must not raise.
"""

import threading
from collections.abc import Callable
from typing import Final

__all__ = ["CLIENT", "REVOCATION", "ChangeListener", "Changes"]

CLIENT: Final = "client"
"""A client row was created or changed; the key is its client_id."""
REVOCATION: Final = "revocation"
"""A revocation feed event was committed (token, session, user, key); no key."""

ChangeListener = Callable[[str, str | None], None]


class Changes:
    """The listeners of one store's committed changes."""

    def __init__(self) -> None:
        self._listeners: tuple[ChangeListener, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener(kind, key)`` after every committed change of this store."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def notify(self, kind: str, key: str | None = None) -> None:
        """Tell every listener (called by the store after commit)."""
        for listener in self._listeners:
            listener(kind, key)
