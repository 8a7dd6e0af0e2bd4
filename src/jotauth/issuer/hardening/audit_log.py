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
from typing import Any, Final

from jotauth.issuer.hardening.redact import scrub

__all__ = ["AuditLogger", "ensure_audit_handler", "event_record"]

LOGGER_NAME: Final = "jotauth.audit"
_HANDLER_FLAG: Final = "_jotauth_audit_handler"


def event_record(event: Any) -> dict[str, Any]:
    """One AuthEvent as a JSON-ready, scrubbed dict."""
    at = getattr(event, "at", None)
    when = (
        dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")
        if isinstance(at, int | float)
        else None
    )
    record = {
        "log": "audit",
        "event": getattr(event, "type", None),
        "outcome": getattr(event, "outcome", None),
        "at": when,
        "user_id": getattr(event, "user_id", None),
        "username": getattr(event, "username", None),
        "ip": getattr(event, "ip", None),
        "user_agent": getattr(event, "user_agent", None),
        "detail": getattr(event, "detail", None) or {},
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

    def __call__(self, event: Any) -> None:
        record = event_record(event)
        level = logging.WARNING if record["event"] == "refresh_reuse_detected" else logging.INFO
        self.logger.log(level, json.dumps(record, sort_keys=True, default=str))
