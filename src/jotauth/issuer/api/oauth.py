"""``POST /oauth/token``: RFC 6749 password and refresh_token grants, form-encoded.

Public clients only (no client secret); ``client_id`` is recorded in the token. Errors use the
RFC 6749 section 5.2 codes: invalid_request, invalid_grant (400), unsupported_grant_type.
"""

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import models
from jotauth.issuer.api.body import form
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


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidRequestError(f"{name} is required for this grant")
    return value


@router.post(
    "/oauth/token",
    summary="OAuth 2.0 token endpoint",
    response_model=models.TokenResponse,
    responses=errors(400, 413, 415, 422, 429, described=_OAUTH_400),
    openapi_extra=form_body(models.TokenRequest),
)
async def token(
    request: Request, body: Annotated[models.TokenRequest, Depends(form(models.TokenRequest))]
) -> JSONResponse:
    """Password grant (RFC 6749 4.3) and refresh (section 6)."""
    auth = service(request)
    if body.grant_type == "password":
        pair = await auth.login(
            _required(body.username, "username"),
            _required(body.password, "password"),
            client(request),
            client_id=body.client_id,
            scope=body.scope,
        )
    elif body.grant_type == "refresh_token":
        pair = await auth.refresh(_required(body.refresh_token, "refresh_token"), client(request))
    else:
        raise UnsupportedGrantTypeError("grant_type must be password or refresh_token")
    return JSONResponse(pair.body(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
