"""Auth events as JSON structured log lines on the ``jotauth.audit`` logger.

The database keeps the queryable audit trail (the issuer's recorder, ``GET /admin/audit``,
``jotauth audit``); this module writes the same events as one JSON object per line for log
shippers (Loki, ELK, CloudWatch), so security monitoring does not need database access.
Every record goes through ``redact.scrub`` first: no token, password or secret reaches a log.

Where nothing else configured logging (``jotauth serve`` configures only uvicorn's loggers),
a stderr handler is attached to ``jotauth.audit`` so the lines are not silently dropped.
"""

import datetime as dt
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any, Final

from jotauth.issuer.events import AuthEvent
from jotauth.issuer.observability.redact import scrub

__all__ = ["AuditLogger", "audit_record", "ensure_audit_handler", "event_record"]

LOGGER_NAME: Final = "jotauth.audit"
_HANDLER_FLAG: Final = "_jotauth_audit_handler"
# ``json.dumps(record, sort_keys=True, default=str)``, without a new encoder per line.
_ENCODER: Final = json.JSONEncoder(sort_keys=True, default=str)


def event_record(event: AuthEvent) -> dict[str, Any]:
    """One AuthEvent as a JSON-ready, scrubbed dict."""
    return audit_record(
        type=event.type.value,
        outcome=event.outcome,
        at=event.at,
        user_id=event.user_id,
        username=event.username,
        ip=event.ip,
        user_agent=event.user_agent,
        detail=event.detail,
    )


def audit_record(
    *,
    type: str | None,
    outcome: str | None,
    at: float | None,
    user_id: str | None,
    username: str | None,
    ip: str | None,
    user_agent: str | None,
    detail: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The audit line's fields (a live event, or one read back from the store), scrubbed."""
    when = (
        dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")
        if isinstance(at, int | float)
        else None
    )
    record = {
        "log": "audit",
        "event": type,
        "outcome": outcome,
        "at": when,
        "user_id": user_id,
        "username": username,
        "ip": ip,
        "user_agent": user_agent,
        "detail": dict(detail or {}),
    }
    scrubbed: dict[str, Any] = scrub(record)
    return scrubbed


def ensure_audit_handler() -> None:
    """Give ``jotauth.audit`` a stderr handler when no handler anywhere would print it."""
    logger = logging.getLogger(LOGGER_NAME)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if logger.hasHandlers():
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    setattr(handler, _HANDLER_FLAG, True)
    logger.addHandler(handler)


class AuditLogger:
    """An EventBus subscriber writing each event as one JSON line."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    def __call__(self, event: AuthEvent) -> None:
        record = event_record(event)
        level = logging.WARNING if record["event"] == "refresh_reuse_detected" else logging.INFO
        self.logger.log(level, _ENCODER.encode(record))
