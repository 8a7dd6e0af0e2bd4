"""``POST /oauth/introspect`` (RFC 7662) and ``POST /oauth/revoke`` (RFC 7009).

Both take a form (``token``, ``token_type_hint``) and authenticate the client as the token
endpoint does; the rules (what a client may learn, what it may revoke) are in
``services/introspection.py``.
"""

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import models
from jotauth.issuer.api.body import form
from jotauth.issuer.api.client_auth import credentials_of
from jotauth.issuer.api.deps import client, oauth_provider
from jotauth.issuer.api.openapi import errors, form_body
from jotauth.issuer.errors import InvalidRequestError

__all__ = ["router"]

router = APIRouter(tags=["oauth"])

_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_HINTS: Final = ("access_token", "refresh_token")
_ERRORS: Final = errors(
    400, 401, 413, 415,
    described={
        400: "`invalid_request`: no token, or two client authentication methods",
        401: "`invalid_client`: client authentication failed",
    },
    guard=False, challenge=False,
)  # fmt: skip


Query = Annotated[models.TokenQuery, Depends(form(models.TokenQuery))]


def _token(query: models.TokenQuery) -> tuple[str, str | None]:
    if not query.token:
        raise InvalidRequestError("token is required")
    hint = query.token_type_hint
    return query.token, hint if hint in _HINTS else None  # an unknown hint is ignored (7009 2.1)


@router.post(
    "/oauth/introspect",
    summary="Token introspection (RFC 7662)",
    response_model=models.Introspection,
    responses=_ERRORS,
    openapi_extra=form_body(models.TokenQuery),
)
async def introspect(request: Request, query: Query) -> JSONResponse:
    """Whether a token is active for the calling client, and what it says."""
    token, hint = _token(query)
    provider = oauth_provider(request)
    answer = await provider.introspect(credentials_of(request, query), token, hint, client(request))
    return JSONResponse(answer, headers=_NO_STORE)


@router.post(
    "/oauth/revoke",
    summary="Token revocation (RFC 7009)",
    response_model=models.Revoked,
    responses=_ERRORS,
    openapi_extra=form_body(models.TokenQuery),
)
async def revoke(request: Request, query: Query) -> JSONResponse:
    """Revoke one of the calling client's tokens; 200 whatever the token was (RFC 7009 2.2)."""
    token, hint = _token(query)
    provider = oauth_provider(request)
    await provider.revoke(credentials_of(request, query), token, hint, client(request))
    return JSONResponse({}, headers=_NO_STORE)
