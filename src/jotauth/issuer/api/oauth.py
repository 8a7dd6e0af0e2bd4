"""``POST /oauth/token``: RFC 6749 client_credentials, refresh_token and password grants.

Only the dispatch lives here: the form is read once, the client's credentials parsed once
(``api/client_auth.py``), and each grant is one call into ``services/provider.py``, which
holds the rules. Errors use the RFC 6749 section 5.2 codes: invalid_request, invalid_client
(401, with a Basic challenge when the Basic header was used), invalid_grant,
unauthorized_client, unsupported_grant_type, invalid_scope, and RFC 8707's invalid_target.
"""

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import models
from jotauth.issuer.api.body import read_form
from jotauth.issuer.api.client_auth import credentials_of
from jotauth.issuer.api.deps import client, oauth_provider
from jotauth.issuer.api.openapi import errors, form_body
from jotauth.issuer.errors import InvalidRequestError, UnsupportedGrantTypeError

__all__ = ["router"]

router = APIRouter(tags=["oauth"])

_OAUTH_400: Final = {
    400: "RFC 6749 5.2: `invalid_request`, `invalid_scope`, `invalid_grant` (wrong credentials "
    "or refresh token), `unauthorized_client`, `unsupported_grant_type` (the password grant "
    "when off) or RFC 8707 `invalid_target`",
    401: "`invalid_client`: client authentication failed (`WWW-Authenticate: Basic` when the "
    "Basic header was used)",
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
    responses=errors(
        400, 401, 413, 415, 422, 429, described=_OAUTH_400, guard=False, challenge=False
    ),
    openapi_extra=form_body(models.TokenRequest),
)
async def token(request: Request) -> JSONResponse:
    """client_credentials (RFC 6749 4.4), refresh (section 6) and, when turned on, the
    password grant (4.3); the client authenticates as it registered (section 2.3)."""
    form = await read_form(request, int(request.app.state.settings.max_body_bytes))
    grant = form.get("grant_type")
    if not grant:
        raise InvalidRequestError("grant_type is required")
    client_id = form.get("client_id") or None
    if client_id is not None and len(client_id) > 128:
        raise InvalidRequestError("client_id is longer than 128 characters")
    if client_id is not None and not all(" " <= char <= "~" for char in client_id):
        raise InvalidRequestError("client_id may contain printable ASCII only (RFC 6749 A.1)")
    credentials = credentials_of(request, form)
    provider = oauth_provider(request)
    caller = client(request)
    body: dict[str, object]
    if grant == "client_credentials":
        targets = [form[name] for name in ("resource", "audience") if form.get(name)]
        body = (
            await provider.client_credentials(
                credentials, caller, scope=form.get("scope"), targets=targets
            )
        ).body()
    elif grant == "password":
        pair = await provider.password(
            credentials,
            form.get("username") or None,
            form.get("password") or None,
            caller,
            scope=form.get("scope"),
        )
        body = pair.body()
    elif grant == "refresh_token":
        pair = await provider.refresh(credentials, _required(form, "refresh_token"), caller)
        body = pair.body()
    else:
        raise UnsupportedGrantTypeError(
            "grant_type must be client_credentials or refresh_token"
            + (" or password" if request.app.state.settings.password_grant_enabled else "")
        )
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
