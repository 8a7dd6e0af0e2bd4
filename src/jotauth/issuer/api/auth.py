"""Login, refresh, logout, password change, sign-up and "who am I" (JSON API)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api.body import field, optional_field, read_json
from jotauth.issuer.api.deps import authenticate, client, service

__all__ = ["router"]

router = APIRouter(tags=["auth"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _json_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {
            "required": bool(required),
            "content": {"application/json": {"schema": schema}},
        }
    }


_STR = {"type": "string"}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _limit(request: Request) -> int:
    return int(request.app.state.settings.max_body_bytes)


@router.post(
    "/login",
    summary="Log in with a username and password",
    openapi_extra=_json_body({"username": _STR, "password": _STR}, ["username", "password"]),
)
async def login(request: Request) -> JSONResponse:
    """Returns an access token, its lifetime, and a refresh token (the tutorial's POST /login)."""
    data = await read_json(request, _limit(request))
    username = field(data, "username", max_length=1024)
    password = field(data, "password", max_length=4096)
    pair = await service(request).login(username, password, client(request))
    return JSONResponse(pair.body(), headers=_NO_STORE)


@router.post(
    "/refresh",
    summary="Exchange a refresh token for a new pair",
    openapi_extra=_json_body({"refresh_token": _STR}, ["refresh_token"]),
)
async def refresh(request: Request) -> JSONResponse:
    """Rotates the refresh token; the old one stops working (reuse revokes the session)."""
    data = await read_json(request, _limit(request))
    pair = await service(request).refresh(
        field(data, "refresh_token", max_length=512), client(request)
    )
    return JSONResponse(pair.body(), headers=_NO_STORE)


@router.post(
    "/logout",
    summary="End this session",
    openapi_extra={**_json_body({"refresh_token": _STR}, []), "security": _BEARER},
)
async def logout(request: Request) -> JSONResponse:
    """Revokes the session's refresh tokens and denylists this access token until it expires."""
    principal = await authenticate(request)
    data = await read_json(request, _limit(request), optional=True)
    token = optional_field(data, "refresh_token", max_length=512)
    await service(request).logout(dict(principal.claims), client(request), token)
    return JSONResponse({"status": "logged_out"}, headers=_NO_STORE)


@router.post(
    "/logout-all",
    summary="End every session of the user",
    openapi_extra={"security": _BEARER},
)
async def logout_all(request: Request) -> JSONResponse:
    """Every access and refresh token of the user issued until now stops working."""
    principal = await authenticate(request)
    await service(request).logout_all(dict(principal.claims), client(request))
    return JSONResponse({"status": "logged_out_everywhere"}, headers=_NO_STORE)


@router.post(
    "/password",
    summary="Change the password",
    openapi_extra={
        **_json_body(
            {"current_password": _STR, "new_password": _STR},
            ["current_password", "new_password"],
        ),
        "security": _BEARER,
    },
)
async def change_password(request: Request) -> JSONResponse:
    """Ends every other session; answers a fresh access token for this one."""
    principal = await authenticate(request)
    data = await read_json(request, _limit(request))
    result = await service(request).change_password(
        dict(principal.claims),
        field(data, "current_password", max_length=4096),
        field(data, "new_password", max_length=4096),
        client(request),
    )
    body = result if isinstance(result, dict) else result.body()
    return JSONResponse(body, headers=_NO_STORE)


@router.post(
    "/register",
    summary="Create an account (when registration is open)",
    status_code=201,
    openapi_extra=_json_body({"username": _STR, "password": _STR}, ["username", "password"]),
)
async def register(request: Request) -> JSONResponse:
    """Creates a user without roles or permissions; 403 registration_closed by default."""
    data = await read_json(request, _limit(request))
    user = await service(request).register(
        field(data, "username", max_length=1024),
        field(data, "password", max_length=4096),
        client(request),
    )
    return JSONResponse({"id": user.sub, "username": user.username}, status_code=201)


@router.get("/me", summary="Who the token says you are", openapi_extra={"security": _BEARER})
async def me(request: Request) -> JSONResponse:
    """The token's subject, username, roles, permissions, scope and expiry."""
    principal = await authenticate(request)
    claims = principal.claims
    return JSONResponse(
        {
            "sub": principal.sub,
            "username": principal.username,
            "roles": sorted(principal.roles),
            "permissions": claims.get("permissions", {}),
            "scope": claims.get("scope", ""),
            "client_id": principal.client_id,
            "exp": claims.get("exp"),
        }
    )


@router.get(
    "/profile", summary="The tutorial's protected route", openapi_extra={"security": _BEARER}
)
async def profile(request: Request) -> JSONResponse:
    """``{"message": "Welcome, <username>!"}``, exactly as the tutorial's demo server."""
    principal = await authenticate(request)
    return JSONResponse({"message": f"Welcome, {principal.username or principal.sub}!"})
