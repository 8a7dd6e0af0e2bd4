"""``GET /admin/audit``: the audit trail, filtered, for administrators.

The events are those the issuer records in its ``audit_events`` table (every login, refresh,
reuse detection, logout, password change, key event and admin action, with time, user, IP,
user agent and outcome). Filters: ``type``, ``user_id``, ``outcome``, ``since``/``until`` (ISO
8601 or Unix seconds) and ``limit`` (1-1000, newest first). The caller needs the
``admin:read`` permission, checked by the issuer's own ``require_admin`` (its guard plus the
revocation check), exactly as every other admin route. Details are scrubbed again on the
way out, in case a secret was ever stored.
"""

import dataclasses
import datetime as dt
import functools
import inspect
import math
from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from jotauth.issuer.api.deps import require_admin
from jotauth.issuer.api.errors import error_json
from jotauth.issuer.api.models import AuditList
from jotauth.issuer.api.openapi import bearer, errors
from jotauth.issuer.observability.audit_log import audit_record
from jotauth.issuer.observability.redact import scrub

__all__ = ["parse_time", "router", "serialize_event"]

_OUTCOMES: Final = ("success", "failure")

router = APIRouter(tags=["admin"])


def parse_time(value: str | None, name: str) -> float | None:
    """ISO 8601 (``2026-01-02T03:04:05Z``, naive means UTC) or Unix seconds -> Unix seconds."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise ValueError(f"{name} must be a finite number of Unix seconds")
        return number
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name} must be an ISO 8601 time (2026-01-02T03:04:05Z) or Unix seconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def serialize_event(item: Any) -> dict[str, Any]:
    """A stored audit event (dataclass, mapping or row object) as a scrubbed JSON dict."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        data: Mapping[str, Any] = dataclasses.asdict(item)
    elif isinstance(item, Mapping):
        data = item
    else:
        data = {k: getattr(item, k) for k in dir(item) if not k.startswith("_")}
    record = audit_record(
        type=_text(data.get("type")),
        outcome=_text(data.get("outcome")),
        at=_timestamp(data.get("at")),
        user_id=_text(data.get("user_id")),
        username=_text(data.get("username")),
        ip=_text(data.get("ip")),
        user_agent=_text(data.get("user_agent")),
        detail=data.get("detail") if isinstance(data.get("detail"), Mapping) else None,
    )
    record.pop("log", None)
    record["type"] = record.pop("event")
    for key in ("id", "seq"):
        if key in data and isinstance(data[key], int | str):
            record[key] = data[key]
    out: dict[str, Any] = scrub(record)
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _timestamp(at: Any) -> float | None:
    """Seconds since the epoch from a stored ``at`` (a number, or a datetime, naive = UTC)."""
    if isinstance(at, dt.datetime):
        return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()
    return float(at) if isinstance(at, int | float) else None


@router.get(
    "/admin/audit",
    summary="Query the audit trail (admin)",
    dependencies=bearer("admin:read"),
    response_model=AuditList,
    responses=errors(400, 401, 403),
)
async def list_audit(
    request: Request,
    type: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None,
    user_id: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    outcome: Annotated[str | None, Query(pattern="^(success|failure)$")] = None,
    since: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z:.+ \-]*$")] = None,
    until: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z:.+ \-]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Audit events matching every filter given, newest first."""
    await require_admin(request, "read")
    try:
        start = parse_time(since, "since")
        end = parse_time(until, "until")
    except ValueError as exc:
        return error_json(400, "invalid_request", str(exc))
    if start is not None and end is not None and start > end:
        return error_json(400, "invalid_request", "since is after until")
    if outcome is not None and outcome not in _OUTCOMES:
        return error_json(400, "invalid_request", "outcome is success or failure")
    query = functools.partial(
        request.app.state.store.list_audit_events,
        type=type,
        user_id=user_id,
        outcome=outcome,
        since=start,
        until=end,
        limit=limit,
    )
    # The SQL store is synchronous: keep its I/O off the event loop.
    result = await run_in_threadpool(query)
    if inspect.isawaitable(result):
        result = await result
    events = [serialize_event(item) for item in result]
    return JSONResponse(
        {"events": events, "count": len(events)}, headers={"Cache-Control": "no-store"}
    )
