"""Stores every auth event in the ``audit_events`` table (the queryable audit trail)."""

import anyio.to_thread

from jotauth.issuer.events import AuthEvent
from jotauth.store.sql import SQLStore
from jotauth.store.sql.audit import AuditEntry

__all__ = ["AuditRecorder"]


class AuditRecorder:
    """An EventBus subscriber writing each event to the store, off the event loop.

    ``entry`` is the same row for a use case that writes it in its own transaction
    (``EventBus.audit_entry``), so both ways record exactly the same columns.
    """

    def __init__(self, store: SQLStore) -> None:
        self.store = store

    async def __call__(self, event: AuthEvent) -> None:
        await anyio.to_thread.run_sync(self.record, event)

    def entry(self, event: AuthEvent) -> AuditEntry:
        """The audit row of ``event``."""
        return AuditEntry(
            type=event.type,
            outcome=event.outcome,
            user_id=event.user_id,
            username=event.username,
            ip=event.ip,
            user_agent=event.user_agent,
            detail=dict(event.detail),
            at=event.at,
        )

    def record(self, event: AuthEvent) -> None:
        """Write one event (blocking)."""
        entry = self.entry(event)
        self.store.add_audit_event(
            type=entry.type,
            outcome=entry.outcome,
            user_id=entry.user_id,
            username=entry.username,
            ip=entry.ip,
            user_agent=entry.user_agent,
            detail=entry.detail,
            at=entry.at,
        )
