"""``POST /oauth/token``: RFC 6749 password and refresh_token grants, form-encoded.

Public clients only (no client secret); ``client_id`` is recorded in the token. Errors use the
RFC 6749 section 5.2 codes: invalid_request, invalid_grant (400), unsupported_grant_type.
"""

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import models
from jotauth.issuer.api.authorize import exchange_code
from jotauth.issuer.api.body import read_form
from jotauth.issuer.api.deps import client, service
from jotauth.issuer.api.openapi import errors, form_body
from jotauth.issuer.errors import InvalidRequestError, UnsupportedGrantTypeError

__all__ = ["router"]

router = APIRouter(tags=["oauth"])

_OAUTH_400: Final = {
    400: "RFC 6749 5.2: `invalid_request`, `invalid_scope`, `invalid_grant` (wrong credentials "
    "or refresh token) or `unsupported_grant_type`",
    415: "`invalid_request`: the body is not `application/x-www-form-urlencoded`",
}


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise InvalidRequestError(f"{name} is required for this grant")
    return value


@router.post(
    "/oauth/token",
    summary="OAuth 2.0 token endpoint",
    response_model=models.TokenResponse,
    responses=errors(400, 413, 415, 422, 429, described=_OAUTH_400),
    openapi_extra=form_body(models.TokenRequest),
)
async def token(request: Request) -> JSONResponse:
    """Password grant (RFC 6749 4.3) and refresh (section 6)."""
    form = await read_form(request, int(request.app.state.settings.max_body_bytes))
    grant = form.get("grant_type")
    auth = service(request)
    if not grant:
        raise InvalidRequestError("grant_type is required")
    client_id = form.get("client_id") or None
    if client_id is not None and len(client_id) > 128:
        raise InvalidRequestError("client_id is longer than 128 characters")
    if client_id is not None and not all(" " <= char <= "~" for char in client_id):
        raise InvalidRequestError("client_id may contain printable ASCII only (RFC 6749 A.1)")
    if grant == "password":
        pair = await auth.login(
            _required(form, "username"),
            _required(form, "password"),
            client(request),
            client_id=client_id,
            scope=form.get("scope"),
        )
    elif grant == "refresh_token":
        pair = await auth.refresh(_required(form, "refresh_token"), client(request))
    elif grant == "authorization_code":
        body = await exchange_code(request, form)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
    else:
        raise UnsupportedGrantTypeError(
            "grant_type must be authorization_code, password or refresh_token"
        )
    return JSONResponse(pair.body(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
