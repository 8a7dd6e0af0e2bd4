"""Admin API: users, sessions and keys, for tokens holding the ``admin`` permission.

Reads need ``admin:read`` and changes ``admin:write`` (``admin:*`` or ``{"admin": ["*"]}``
grants both). Every change emits an ``admin_action`` event naming the admin.
"""

from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import models
from jotauth.issuer.api.body import BodyRoute
from jotauth.issuer.api.deps import AdminWriter, client, require_admin, service
from jotauth.issuer.api.openapi import bearer, errors
from jotauth.issuer.api.paging import (
    MAX_CURSOR,
    decode_session_cursor,
    decode_user_cursor,
    encode_cursor,
)
from jotauth.issuer.errors import InvalidRequestError, NotFoundError
from jotauth.store.records import FamilyRecord, KeyRecord, UserRecord

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"], route_class=BodyRoute)
_READ = bearer("admin:read")
_WRITE = bearer("admin:write")
_NO_USER = {404: "`not_found`: no user with this id"}
# Query parameters are bounded where they are declared (a 400 from FastAPI's validation): an
# offset past 2**63 overflowed SQLite and PostgreSQL integers, a NUL broke PostgreSQL text.
MAX_OFFSET: Final = 1_000_000_000
USER_ID_PATTERN: Final = r"^[0-9]{1,18}$"


def user_json(user: UserRecord) -> dict[str, Any]:
    """A user as the admin API shows it (never the hash)."""
    return {
        "id": user.sub,
        "username": user.username,
        "roles": user.roles,
        "permissions": user.permissions,
        "disabled": user.disabled,
        "created_at": int(user.created_at),
    }


def session_json(family: FamilyRecord) -> dict[str, Any]:
    """A login session."""
    return {
        "id": family.id,
        "user_id": str(family.user_id),
        "client_id": family.client_id,
        "created_at": int(family.created_at),
        "last_used_at": int(family.last_used_at),
        "expires_at": int(family.expires_at),
        "revoked": family.revoked_at is not None,
        "revoke_reason": family.revoke_reason,
        "ip": family.ip,
        "user_agent": family.user_agent,
    }


def key_json(key: KeyRecord) -> dict[str, Any]:
    """A key of the ring (public part only)."""
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "created_at": int(key.created_at),
        "activated_at": None if key.activated_at is None else int(key.activated_at),
        "retire_after": None if key.retire_after is None else int(key.retire_after),
    }


def _user_id(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise NotFoundError(f"no user with id {value[:20]!r}")
    return int(value)


@router.get(
    "/users",
    summary="List users",
    dependencies=_READ,
    response_model=models.UserList,
    responses=errors(
        400, 401, 403, described={400: "`invalid_request`: `after` is not a cursor of this list"}
    ),
)
async def list_users(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
    offset: Annotated[
        int | None, Query(ge=0, le=MAX_OFFSET, deprecated=True, include_in_schema=False)
    ] = None,
) -> JSONResponse:
    """Users by id, ``limit`` per page; ``next`` is the ``after`` of the next page (null: done)."""
    await require_admin(request)
    if offset:  # silently ignoring it would answer page one again, forever
        raise InvalidRequestError("offset paging was removed; pass after=<next of the last page>")
    start = None if after is None else decode_user_cursor(after)
    users = await service(request).list_users(limit=limit + 1, after=start)
    more = len(users) > limit
    users = users[:limit]
    return JSONResponse(
        {
            "users": [user_json(u) for u in users],
            "next": encode_cursor("u", users[-1].id) if more else None,
        }
    )


@router.post(
    "/users",
    summary="Create a user",
    status_code=201,
    dependencies=_WRITE,
    response_model=models.User,
    responses=errors(
        400, 401, 403, 409, 413, 415, described={409: "`conflict`: the username is taken"}
    ),
)
async def create_user(
    request: Request, admin: AdminWriter, body: models.CreateUserRequest
) -> JSONResponse:
    """Create a user: {"username", "password", "roles"?, "permissions"?}."""
    auth = service(request)
    user = await auth.create_user(
        body.username, body.password, roles=body.roles, permissions=body.permissions
    )
    await auth.emit("admin_action", client(request), user=user, action="create_user", by=admin.sub)
    return JSONResponse(user_json(user), status_code=201)


@router.post(
    "/users/{user_id}/disable",
    summary="Disable a user",
    dependencies=_WRITE,
    response_model=models.User,
    responses=errors(400, 401, 403, 404, described=_NO_USER),
)
async def disable_user(request: Request, user_id: str) -> JSONResponse:
    """Disable a user: every token of theirs stops working."""
    admin = await require_admin(request, "write")
    user = await service(request).set_disabled(_user_id(user_id), True, client(request), admin.sub)
    return JSONResponse(user_json(user))


@router.post(
    "/users/{user_id}/enable",
    summary="Enable a user",
    dependencies=_WRITE,
    response_model=models.User,
    responses=errors(400, 401, 403, 404, described=_NO_USER),
)
async def enable_user(request: Request, user_id: str) -> JSONResponse:
    """Let a disabled user log in again."""
    admin = await require_admin(request, "write")
    user = await service(request).set_disabled(_user_id(user_id), False, client(request), admin.sub)
    return JSONResponse(user_json(user))


@router.put(
    "/users/{user_id}/roles",
    summary="Replace a user's roles",
    dependencies=_WRITE,
    response_model=models.User,
    responses=errors(400, 401, 403, 404, 413, 415, described=_NO_USER),
)
async def set_roles(
    request: Request, user_id: str, admin: AdminWriter, body: models.RolesRequest
) -> JSONResponse:
    """Replace the roles: {"roles": [...]}; effective at the user's next refresh."""
    user = await service(request).update_grants(
        _user_id(user_id), client(request), admin.sub, roles=body.roles
    )
    return JSONResponse(user_json(user))


@router.put(
    "/users/{user_id}/permissions",
    summary="Replace a user's permissions",
    dependencies=_WRITE,
    response_model=models.User,
    responses=errors(400, 401, 403, 404, 413, 415, described=_NO_USER),
)
async def set_permissions(
    request: Request, user_id: str, admin: AdminWriter, body: models.PermissionsRequest
) -> JSONResponse:
    """Replace the permissions: {"permissions": {"articles": ["read"]}}."""
    user = await service(request).update_grants(
        _user_id(user_id), client(request), admin.sub, permissions=body.permissions
    )
    return JSONResponse(user_json(user))


@router.get(
    "/sessions",
    summary="List live sessions",
    dependencies=_READ,
    response_model=models.SessionList,
    responses=errors(
        400,
        401,
        403,
        404,
        described={
            **_NO_USER,
            400: "`invalid_request`: `after` is not a cursor of this list",
        },
    ),
)
async def list_sessions(
    request: Request,
    user_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> JSONResponse:
    """Live sessions (refresh families), newest first, optionally of one user.

    ``limit`` per page; ``next`` is the ``after`` of the next page (null: done).
    """
    await require_admin(request)
    uid = None if user_id is None else _user_id(user_id)
    start = None if after is None else decode_session_cursor(after)
    families = await service(request).list_sessions(uid, limit=limit + 1, after=start)
    more = len(families) > limit
    families = families[:limit]
    last = families[-1] if families else None
    return JSONResponse(
        {
            "sessions": [session_json(f) for f in families],
            "next": encode_cursor("s", last.created_at, last.id) if more and last else None,
        }
    )


@router.delete(
    "/sessions/{session_id}",
    summary="Revoke a session",
    dependencies=_WRITE,
    response_model=models.Status,
    responses=errors(400, 401, 403, 404, described={404: "`not_found`: no live session"}),
)
async def revoke_session(request: Request, session_id: str) -> JSONResponse:
    """Revoke one session: its refresh token and every access token it issued stop working."""
    admin = await require_admin(request, "write")
    await service(request).revoke_session(session_id, client(request), admin.sub)
    return JSONResponse({"status": "revoked"})


@router.get(
    "/keys",
    summary="List the key ring",
    dependencies=_READ,
    response_model=models.KeyList,
    responses=errors(400, 401, 403),
)
async def list_keys(request: Request) -> JSONResponse:
    """Every key of the ring with its state."""
    await require_admin(request)
    keys = await anyio.to_thread.run_sync(service(request).ring.list)
    return JSONResponse({"keys": [key_json(k) for k in keys]})


@router.post(
    "/keys/rotate",
    summary="Rotate the signing key",
    dependencies=_WRITE,
    response_model=models.RotatedKey,
    responses=errors(
        400, 401, 403, 409, described={409: "`conflict`: no next key, or HMAC (no ring)"}
    ),
)
async def rotate_key(request: Request) -> JSONResponse:
    """Promote the published next key to signing now."""
    admin = await require_admin(request, "write")
    auth = service(request)
    kid = await anyio.to_thread.run_sync(auth.ring.rotate)
    await auth.emit("key_rotated", client(request), kid=kid, by=admin.sub)
    return JSONResponse({"active": kid})


@router.post(
    "/keys/{kid}/revoke",
    summary="Revoke a key (emergency)",
    dependencies=_WRITE,
    response_model=models.Key,
    responses=errors(
        400, 401, 403, 404, 409, described={404: "`not_found`: no revocable key with this kid"}
    ),
)
async def revoke_key(request: Request, kid: str) -> JSONResponse:
    """Emergency: unpublish the key now; every token it signed is rejected."""
    admin = await require_admin(request, "write")
    if "\x00" in kid:  # names no key; PostgreSQL text refuses NUL
        raise NotFoundError("no revocable key with this kid")
    auth = service(request)
    record = await anyio.to_thread.run_sync(lambda: auth.ring.revoke(kid[:128]))
    await auth.emit("key_revoked", client(request), kid=record.kid, by=admin.sub)
    return JSONResponse(key_json(record))
