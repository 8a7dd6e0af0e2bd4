"""``GET|POST /oauth/userinfo``: the OpenID Connect UserInfo endpoint (OIDC Core 5.3).

The bearer access token is checked as every protected route checks it (guard, then the
store's revocations); it must carry the ``openid`` scope. The claims are the ones its scopes
release (``services.identity_scopes``), read from the user's record now, not from the token.
The token travels in the ``Authorization`` header on both methods (RFC 6750 2.1).
"""

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import models
from jotauth.issuer.api.deps import authenticate, service
from jotauth.issuer.api.openapi import bearer, errors
from jotauth.issuer.errors import ForbiddenError, InvalidTokenError
from jotauth.issuer.services.identity_scopes import userinfo_claims

__all__ = ["router"]

router = APIRouter(tags=["openid"])


_ROUTE: Final[dict[str, Any]] = dict(
    summary="OpenID Connect UserInfo",
    dependencies=bearer("openid"),
    response_model=models.UserInfo,
    responses=errors(
        400, 401, 403, described={403: "`insufficient_scope`: the token lacks `openid`"}
    ),
)  # the GET and the POST share one description (two operation ids)


@router.get("/oauth/userinfo", operation_id="userinfo_get", **_ROUTE)
@router.post("/oauth/userinfo", operation_id="userinfo_post", **_ROUTE)
async def userinfo(request: Request) -> JSONResponse:
    """``sub`` and the claims the token's scopes release (``profile``: preferred_username)."""
    principal = await authenticate(request)
    scopes = set(principal.scopes)
    if "openid" not in scopes:
        raise ForbiddenError("this token was not issued with the openid scope")
    user = await service(request).user_of_subject(principal.sub)
    if user is None or user.disabled:
        raise InvalidTokenError("the user of this token no longer exists")
    return JSONResponse(
        userinfo_claims(user, scopes), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )
