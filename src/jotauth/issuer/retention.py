"""Retention that runs by itself: the server's background task, and the policy from Settings.

Storage would otherwise grow with every refresh (a rotated token row and an audit row each)
and never shrink. The rules, and why each is safe, live with the data in
``jotauth.store.sql.retention``; this module decides when they run: every
``retention_interval`` seconds (first one interval after start, so a restart loop does not
turn into a purge loop), in batches of ``retention_batch`` rows, each its own short
transaction on a worker thread, with a pause between batches so that logins and refreshes
(on SQLite, waiting for the one write lock) get the database in between. ``jotauth db
purge`` runs the same code once, by hand.

Several workers or instances may run it at once: the deletes are idempotent, and a row two
of them pick is deleted by one and skipped by the other.
"""

import logging
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread

from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore
from jotauth.store.sql.retention import RetentionPolicy, RetentionReport

__all__ = ["MAX_BATCHES", "RetentionTask", "retention_policy"]

logger = logging.getLogger("jotauth.store")

MAX_BATCHES = 200
"""Batches one background run may take; what is left waits for the next run."""
_PAUSE = 0.02


def retention_policy(settings: Settings) -> RetentionPolicy:
    """The retention rules for ``settings``.

    Rotated refresh tokens are kept for ``refresh_idle_ttl`` (and never less than the grace
    window), which is as long as a client holding one could still have a live session;
    audit events for ``audit_retention_days`` (0: forever).
    """
    days = settings.audit_retention_days
    return RetentionPolicy(
        reuse_window=max(settings.refresh_idle_ttl, settings.refresh_grace),
        idle_ttl=settings.refresh_idle_ttl,
        audit_age=None if days == 0 else days * 86400.0,
    )


class RetentionTask:
    """Runs the store's retention every ``settings.retention_interval`` seconds while started."""

    def __init__(
        self,
        store: SQLStore,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = retention_policy(settings)
        self.clock = clock
        self._sleep = sleep
        self._pause = pause
        self._stopping = False
        self.running = False
        self.runs = 0
        self.last: RetentionReport | None = None

    def run_once(self) -> RetentionReport:
        """One bounded run, in the calling thread (``jotauth db purge`` calls it too)."""

        def between() -> bool:
            self._pause(_PAUSE)
            return not self._stopping

        report = self.store.purge(
            self.policy,
            now=self.clock(),
            batch=self.settings.retention_batch,
            max_batches=MAX_BATCHES,
            pause=between,
        )
        self.runs += 1
        self.last = report
        return report

    def stop(self) -> None:
        """Ask a run in progress to stop after its current batch (before cancelling ``run``)."""
        self._stopping = True

    async def run(self) -> None:
        """Run until cancelled: wait an interval, purge on a worker thread, repeat.

        A failed run (the database away) is logged and retried at the next interval; it never
        ends the task, and never reaches a request.
        """
        self.running = True
        self._stopping = False
        try:
            while True:
                await self._sleep(self.settings.retention_interval)
                try:
                    report = await anyio.to_thread.run_sync(self.run_once)
                except Exception as exc:  # noqa: BLE001 - logged; the next run retries
                    logger.warning("jotauth: retention run failed: %s", type(exc).__name__)
                    continue
                if report.total:
                    logger.info("jotauth: retention removed %s", report.removed)
        finally:
            self._stopping = True
            self.running = False
