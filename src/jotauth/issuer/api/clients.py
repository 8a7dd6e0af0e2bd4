"""Admin API for the client registry: ``/admin/clients`` (``admin:read`` / ``admin:write``).

A secret is in the answer of the registration and of a rotation only; nothing shows it again
(only its hash is kept). Each change emits an ``admin_action`` event naming the admin.
"""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import client_models
from jotauth.issuer.api.body import BodyRoute
from jotauth.issuer.api.deps import AdminWriter, client, client_registry, require_admin, service
from jotauth.issuer.api.openapi import bearer, errors
from jotauth.issuer.errors import InvalidRequestError
from jotauth.issuer.services.clients import ClientSpec
from jotauth.issuer.services.id_tokens import ID_TOKEN_ALG
from jotauth.store.records import ClientRecord

__all__ = ["client_json", "router", "spec_of"]

router = APIRouter(prefix="/admin/clients", tags=["admin"], route_class=BodyRoute)
_READ = bearer("admin:read")
_WRITE = bearer("admin:write")
_NOT_FOUND: Final = {404: "`not_found`: no client with this id"}
_SPEC_FIELDS: Final = frozenset(client_models.ClientRequest.model_fields)
_LISTS: Final = (
    "redirect_uris", "grant_types", "scopes", "audiences", "post_logout_redirect_uris"
)  # fmt: skip
_ID: Final = r"^[A-Za-z0-9._-]{1,64}$"


def client_json(record: ClientRecord, secret: str | None = None, *, shown: bool = False) -> Any:
    """A client as the admin API shows it; ``shown``: with ``client_secret`` (once)."""
    body: dict[str, Any] = {
        "client_id": record.client_id,
        "name": record.name,
        "type": record.type,
        "token_endpoint_auth_method": record.token_endpoint_auth_method,
        "redirect_uris": record.redirect_uris,
        "grant_types": record.grant_types,
        "scopes": record.scopes,
        "audiences": record.audiences,
        "first_party": record.first_party,
        "access_ttl": record.access_ttl,
        "id_token_signed_response_alg": record.id_token_signed_response_alg or ID_TOKEN_ALG,
        "tier": record.tier,
        "rate_limit": record.rate_limit,
        "rate_window": record.rate_window,
        "jwks": record.jwks,
        "jwks_uri": record.jwks_uri,
        "backchannel_logout_uri": record.backchannel_logout_uri,
        "post_logout_redirect_uris": record.post_logout_redirect_uris,
        "dpop_bound_access_tokens": record.dpop_bound_access_tokens,
        "disabled": record.disabled,
        "created_at": int(record.created_at),
        "secret_rotated_at": None
        if record.secret_rotated_at is None
        else int(record.secret_rotated_at),
    }
    if shown:
        body["client_secret"] = secret
    return body


def spec_of(data: dict[str, Any]) -> ClientSpec:
    """A ClientSpec from the members a body gave (``ClientRequest``, unset ones left to the
    registry's defaults); the services validate the values."""
    unknown = set(data) - _SPEC_FIELDS
    if unknown:
        raise InvalidRequestError(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    if not isinstance(data.get("name"), str):
        raise InvalidRequestError("name is required (a string)")
    values = dict(data)
    for name in _LISTS:
        if name in values:
            if not isinstance(values[name], list):
                raise InvalidRequestError(f"{name} must be a list of strings")
            values[name] = tuple(values[name])
    for name in ("first_party", "dpop_bound_access_tokens"):
        if name in values and not isinstance(values[name], bool):
            raise InvalidRequestError(f"{name} must be true or false")
    for name in ("type", "token_endpoint_auth_method", "tier", "jwks_uri",
                 "backchannel_logout_uri", "id_token_signed_response_alg"):  # fmt: skip
        if values.get(name) is not None and not isinstance(values[name], str):
            raise InvalidRequestError(f"{name} must be a string")
    return ClientSpec(**values)


async def _audit(request: Request, action: str, client_id: str, by: str) -> None:
    await service(request).emit(
        "admin_action", client(request), action=action, client_id=client_id, by=by
    )


@router.get(
    "",
    summary="List clients",
    dependencies=_READ,
    response_model=client_models.ClientList,
    responses=errors(400, 401, 403),
)
async def list_clients(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")] = "",
) -> JSONResponse:
    """Clients by client_id; page with ``after`` = the last client_id seen."""
    await require_admin(request)
    records = await client_registry(request).list(limit=limit, after=after)
    return JSONResponse({"clients": [client_json(record) for record in records]})


@router.post(
    "",
    summary="Register a client",
    status_code=201,
    dependencies=_WRITE,
    response_model=client_models.RegisteredClient,
    responses=errors(400, 401, 403, 413, 415),
)
async def register_client(
    request: Request, admin: AdminWriter, body: client_models.ClientRequest
) -> JSONResponse:
    """Register a client; a secret-using client's secret is in this answer only."""
    spec = spec_of(body.model_dump(exclude_unset=True))
    record, secret = await client_registry(request).register(spec)
    await _audit(request, "register_client", record.client_id, admin.sub)
    return JSONResponse(client_json(record, secret, shown=True), status_code=201)


@router.get(
    "/{client_id}",
    summary="Show a client",
    dependencies=_READ,
    response_model=client_models.ClientView,
    responses=errors(400, 401, 403, 404, described=_NOT_FOUND),
)
async def show_client(request: Request, client_id: str) -> JSONResponse:
    """One client (never its secret)."""
    await require_admin(request)
    return JSONResponse(client_json(await client_registry(request).get(client_id)))


@router.put(
    "/{client_id}",
    summary="Replace what a client may do",
    dependencies=_WRITE,
    response_model=client_models.ClientView,
    responses=errors(400, 401, 403, 404, 413, 415, described=_NOT_FOUND),
)
async def update_client(
    request: Request, client_id: str, admin: AdminWriter, body: client_models.ClientRequest
) -> JSONResponse:
    """Replace grants, scopes, audiences, URIs, tier... (id, type and secret stay)."""
    spec = spec_of(body.model_dump(exclude_unset=True))
    record = await client_registry(request).update(client_id, spec)
    await _audit(request, "update_client", record.client_id, admin.sub)
    return JSONResponse(client_json(record))


@router.post(
    "/{client_id}/rotate-secret",
    summary="Give a client a new secret",
    dependencies=_WRITE,
    response_model=client_models.RegisteredClient,
    responses=errors(400, 401, 403, 404, 409, described={
        **_NOT_FOUND, 409: "`conflict`: the client does not use a secret"}),
)  # fmt: skip
async def rotate_secret(request: Request, client_id: str) -> JSONResponse:
    """A new secret, in this answer only; the old one stops working at once."""
    admin = await require_admin(request, "write")
    record, secret = await client_registry(request).rotate_secret(client_id)
    await _audit(request, "rotate_client_secret", record.client_id, admin.sub)
    return JSONResponse(client_json(record, secret, shown=True))


@router.post(
    "/{client_id}/disable",
    summary="Disable a client",
    dependencies=_WRITE,
    response_model=client_models.ClientView,
    responses=errors(400, 401, 403, 404, described=_NOT_FOUND),
)
async def disable_client(request: Request, client_id: str) -> JSONResponse:
    """No authentication of this client succeeds, and its tokens stop working everywhere."""
    admin = await require_admin(request, "write")
    record = await client_registry(request).set_disabled(client_id, True)
    await _audit(request, "disable_client", record.client_id, admin.sub)
    return JSONResponse(client_json(record))


@router.post(
    "/{client_id}/enable",
    summary="Enable a client",
    dependencies=_WRITE,
    response_model=client_models.ClientView,
    responses=errors(400, 401, 403, 404, described=_NOT_FOUND),
)
async def enable_client(request: Request, client_id: str) -> JSONResponse:
    """Let a disabled client authenticate again (its old tokens stay revoked)."""
    admin = await require_admin(request, "write")
    record = await client_registry(request).set_disabled(client_id, False)
    await _audit(request, "enable_client", record.client_id, admin.sub)
    return JSONResponse(client_json(record))
