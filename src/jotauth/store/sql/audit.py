"""The audit trail of auth events.

An event is written on its own (``add_audit_event``, the recorder subscribed to the issuer's
event bus) or, for the hot paths (a login's new session, a refresh's rotation), as an
``AuditEntry`` handed to the write that makes the event true, in the same transaction: a
crash between the two can no longer leave a rotation without its audit row, and the request
pays one commit, not two.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from jotauth.store.records import AuditRecord
from jotauth.store.sql._rows import timestamp
from jotauth.store.sql._statements import INSERT_AUDIT
from jotauth.store.sql.models import Audit

__all__ = ["AuditEntry", "AuditQueries", "audit_params"]


def _text(value: str | None, limit: int) -> str | None:
    """A caller-supplied string cut to ``limit``; NUL, which PostgreSQL text refuses, as U+FFFD."""
    return None if value is None else value[:limit].replace("\x00", "\ufffd")


@dataclass(frozen=True)
class AuditEntry:
    """One audit row as the caller gives it (the store cuts what is too long)."""

    type: str
    outcome: str
    user_id: str | None
    username: str | None
    ip: str | None
    user_agent: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0


def audit_params(entry: AuditEntry) -> dict[str, Any]:
    """The bind parameters of ``INSERT_AUDIT`` (and of the statements that embed it)."""
    return {
        "type": str(entry.type),
        "outcome": entry.outcome,
        "user_id": entry.user_id,
        "username": _text(entry.username, 256),
        "ip": _text(entry.ip, 64),
        "user_agent": _text(entry.user_agent, 256),
        "detail": dict(entry.detail),
        "at": entry.at,
    }


class AuditQueries:
    """The audit trail of auth events."""

    engine: Engine

    # -- audit -------------------------------------------------------------------------------

    def add_audit_event(
        self,
        *,
        type: str,
        outcome: str,
        user_id: str | None,
        username: str | None,
        ip: str | None,
        user_agent: str | None,
        detail: dict[str, Any],
        at: float,
    ) -> None:
        """Record one auth event."""
        entry = AuditEntry(type, outcome, user_id, username, ip, user_agent, detail, at)
        with self.engine.begin() as connection:
            connection.execute(INSERT_AUDIT, audit_params(entry))

    def list_audit_events(
        self,
        *,
        type: str | None = None,
        user_id: str | None = None,
        outcome: str | None = None,
        since: float | dt.datetime | None = None,
        until: float | dt.datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Audit events matching every filter given, newest first."""
        query = select(Audit).order_by(Audit.at.desc(), Audit.id.desc()).limit(limit)
        if type is not None:
            query = query.where(Audit.type == type)
        if user_id is not None:
            query = query.where(Audit.user_id == user_id)
        if outcome is not None:
            query = query.where(Audit.outcome == outcome)
        start, end = timestamp(since), timestamp(until)
        if start is not None:
            query = query.where(Audit.at >= start)
        if end is not None:
            query = query.where(Audit.at <= end)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            AuditRecord(
                id=row.id,
                type=row.type,
                outcome=row.outcome,
                user_id=row.user_id,
                username=row.username,
                ip=row.ip,
                user_agent=row.user_agent,
                detail=dict(row.detail or {}),
                at=row.at,
            )
            for row in rows
        ]
