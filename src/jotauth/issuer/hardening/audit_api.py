"""``GET /admin/audit``: the audit trail, filtered, for administrators.

The events are those the issuer records in its ``audit_events`` table (every login, refresh,
reuse detection, logout, password change, key event and admin action, with time, user, IP,
user agent and outcome). Filters: ``type``, ``user_id``, ``outcome``, ``since``/``until`` (ISO
8601 or Unix seconds) and ``limit`` (1-1000, newest first). The caller needs the admin
permission, checked by the issuer's own guard (``app.state.guard``), the same way as every
other admin route. Details are scrubbed again on the way out, in case a secret was ever
stored.
"""

import dataclasses
import datetime as dt
import functools
import inspect
from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from jotauth.errors import JotauthError
from jotauth.issuer.hardening.audit_log import event_record
from jotauth.issuer.hardening.redact import scrub

__all__ = ["ADMIN_REQUIREMENTS", "parse_time", "router", "serialize_event"]

# Any one of these grants reading the audit trail (the issuer's admin permission).
ADMIN_REQUIREMENTS: Final = ("admin:read", "audit:read")
_OUTCOMES: Final = ("success", "failure")

router = APIRouter(tags=["admin"])


def parse_time(value: str | None, name: str) -> float | None:
    """ISO 8601 (``2026-01-02T03:04:05Z``, naive means UTC) or Unix seconds -> Unix seconds."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
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
    record = event_record(_Obj(data))
    record.pop("log", None)
    record["type"] = record.pop("event")
    for key in ("id", "seq"):
        if key in data and isinstance(data[key], int | str):
            record[key] = data[key]
    out: dict[str, Any] = scrub(record)
    return out


class _Obj:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.__dict__.update(data)
        at = data.get("at")
        if isinstance(at, dt.datetime):
            self.at = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()


def _error(status: int, code: str, description: str) -> HTTPException:
    return HTTPException(status, detail={"error": code, "error_description": description})


async def _require_admin(request: Request) -> None:
    guard = getattr(request.app.state, "guard", None)
    if guard is None:
        raise _error(503, "unavailable", "the admin API is not configured on this server")
    headers = request.headers
    try:
        token = guard.extract(
            headers.getlist("authorization"),
            headers.get("cookie"),
            request.method,
            None,
        )
        principal = await guard.authenticate(token)
    except JotauthError as exc:
        raise _error(401, "invalid_token", "an admin access token is required") from exc
    if not any(principal.has_scope(r) for r in ADMIN_REQUIREMENTS):
        raise _error(403, "insufficient_scope", "reading the audit log needs the admin permission")


@router.get("/admin/audit", summary="Query the audit trail (admin)")
async def list_audit(
    request: Request,
    type: Annotated[str | None, Query(max_length=64)] = None,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Audit events matching every filter given, newest first."""
    try:
        await _require_admin(request)
    except HTTPException as exc:
        return JSONResponse(exc.detail, exc.status_code, headers={"Cache-Control": "no-store"})
    try:
        start = parse_time(since, "since")
        end = parse_time(until, "until")
    except ValueError as exc:
        return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)
    if outcome is not None and outcome not in _OUTCOMES:
        return JSONResponse(
            {"error": "invalid_request", "error_description": "outcome is success or failure"},
            400,
        )
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
    return JSONResponse({"events": events, "count": len(events)})
