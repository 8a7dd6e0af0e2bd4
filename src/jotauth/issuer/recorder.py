"""Stores every auth event in the ``audit_events`` table (the queryable audit trail)."""

import anyio.to_thread

from jotauth.issuer.events import AuthEvent
from jotauth.store.sql import SQLStore

__all__ = ["AuditRecorder"]


class AuditRecorder:
    """An EventBus subscriber writing each event to the store, off the event loop."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store

    async def __call__(self, event: AuthEvent) -> None:
        await anyio.to_thread.run_sync(self.record, event)

    def record(self, event: AuthEvent) -> None:
        """Write one event (blocking)."""
        self.store.add_audit_event(
            type=event.type,
            outcome=event.outcome,
            user_id=event.user_id,
            username=event.username,
            ip=event.ip,
            user_agent=event.user_agent,
            detail=dict(event.detail),
            at=event.at,
        )
