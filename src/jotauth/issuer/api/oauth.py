"""``POST /oauth/token``: RFC 6749 client_credentials, refresh_token and password grants.

Only the dispatch lives here: the form is read once, the client's credentials parsed once
(``api/client_auth.py``), and each grant is one call into ``services/provider.py``, which
holds the rules. Errors use the RFC 6749 section 5.2 codes: invalid_request, invalid_client
(401, with a Basic challenge when the Basic header was used), invalid_grant,
unauthorized_client, unsupported_grant_type, invalid_scope, and RFC 8707's invalid_target.
"""

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.api import models
from jotauth.issuer.api.authorize import exchange_code
from jotauth.issuer.api.body import form
from jotauth.issuer.api.client_auth import credentials_of
from jotauth.issuer.api.deps import oauth_provider
from jotauth.issuer.api.dpop import caller_with, dpop_checks, request_proof, settle
from jotauth.issuer.api.openapi import errors, form_body
from jotauth.issuer.errors import InvalidRequestError, UnsupportedGrantTypeError

__all__ = ["router"]

router = APIRouter(tags=["oauth"])
_PATH: Final = "/oauth/token"

_OAUTH_400: Final = {
    400: "RFC 6749 5.2: `invalid_request`, `invalid_scope`, `invalid_grant` (wrong credentials "
    "or refresh token, or a DPoP-bound refresh token without its key's proof), "
    "`unauthorized_client`, `unsupported_grant_type` (the password grant when off), RFC 8707 "
    "`invalid_target`, or RFC 9449 `invalid_dpop_proof` / `use_dpop_nonce` (with `DPoP-Nonce`)",
    401: "`invalid_client`: client authentication failed (`WWW-Authenticate: Basic` when the "
    "Basic header was used)",
    415: "`invalid_request`: the body is not `application/x-www-form-urlencoded`",
}


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidRequestError(f"{name} is required for this grant")
    return value


@router.post(
    _PATH,
    summary="OAuth 2.0 token endpoint",
    response_model=models.TokenResponse,
    responses=errors(
        400, 401, 413, 415, 422, 429, described=_OAUTH_400, guard=False, challenge=False
    ),
    openapi_extra=form_body(models.TokenRequest),
)
async def token(
    request: Request, body: Annotated[models.TokenRequest, Depends(form(models.TokenRequest))]
) -> JSONResponse:
    """client_credentials (RFC 6749 4.4), refresh (section 6) and, when turned on, the
    password grant (4.3); the client authenticates as it registered (section 2.3). A ``DPoP``
    proof (RFC 9449) binds the tokens to the client's key (``token_type: DPoP``)."""
    credentials = credentials_of(request, body)
    provider = oauth_provider(request)
    proof = request_proof(request, _PATH)
    caller = caller_with(request, proof)
    jkt = None if proof is None else proof.jkt
    answer: dict[str, object]
    if body.grant_type == "client_credentials":
        targets = [t for t in (body.resource, body.audience) if t]
        answer = (
            await provider.client_credentials(
                credentials, caller, scope=body.scope, targets=targets, jkt=jkt
            )
        ).body()
    elif body.grant_type == "password":
        pair = await provider.password(
            credentials, body.username or None, body.password or None, caller, scope=body.scope,
            jkt=jkt,
        )  # fmt: skip
        answer = pair.body()
    elif body.grant_type == "refresh_token":
        pair = await provider.refresh(
            credentials, _required(body.refresh_token, "refresh_token"), caller, jkt=jkt
        )
        answer = pair.body()
    elif body.grant_type == "authorization_code":
        fields = {"code": body.code, "redirect_uri": body.redirect_uri}
        fields["code_verifier"] = body.code_verifier
        answer = await exchange_code(
            request, {k: v for k, v in fields.items() if v is not None}, credentials,
            proof=proof,
        )  # fmt: skip
    else:
        raise UnsupportedGrantTypeError(
            "grant_type must be authorization_code, client_credentials or refresh_token"
            + (" or password" if request.app.state.settings.password_grant_enabled else "")
        )
    await settle(proof)
    headers = {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        **dpop_checks(request).nonce_headers(),
    }
    return JSONResponse(answer, headers=headers)
