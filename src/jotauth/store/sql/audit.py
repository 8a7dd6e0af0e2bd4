"""The audit trail of auth events."""

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select

from jotauth.store.records import AuditRecord
from jotauth.store.sql._rows import timestamp
from jotauth.store.sql._statements import INSERT_AUDIT
from jotauth.store.sql.models import Audit

__all__ = ["AuditQueries"]


def _text(value: str | None, limit: int) -> str | None:
    """A caller-supplied string cut to ``limit``; NUL, which PostgreSQL text refuses, as U+FFFD."""
    return None if value is None else value[:limit].replace("\x00", "\ufffd")


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
        with self.engine.begin() as connection:
            connection.execute(
                INSERT_AUDIT,
                {
                    "type": type,
                    "outcome": outcome,
                    "user_id": user_id,
                    "username": _text(username, 256),
                    "ip": _text(ip, 64),
                    "user_agent": _text(user_agent, 256),
                    "detail": detail,
                    "at": at,
                },
            )

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
