"""Login, refresh, logout, password change, sign-up and "who am I" (JSON API)."""

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from jotauth.issuer.api import cookies, models
from jotauth.issuer.api.body import BodyRoute
from jotauth.issuer.api.deps import Authenticated, authenticate, client, service
from jotauth.issuer.api.dpop import caller_with, dpop_checks, request_proof, settle
from jotauth.issuer.api.openapi import bearer, errors
from jotauth.issuer.errors import InvalidRequestError
from jotauth.issuer.settings import Settings

__all__ = ["router"]

router = APIRouter(tags=["auth"], route_class=BodyRoute)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_DPOP_400: Final = (
    "`invalid_request`, or RFC 9449 `invalid_dpop_proof` (the `DPoP` proof header) / "
    "`use_dpop_nonce` (prove again with the `DPoP-Nonce` sent)"
)
_BAD_LOGIN: Final = {
    400: _DPOP_400,
    401: "`invalid_grant`: wrong username or password (one answer for all)",
}
_BAD_REFRESH: Final = {
    400: _DPOP_400,
    401: "`invalid_grant`: the refresh token is unknown, used up, expired or revoked, or bound "
    "to a DPoP key and sent without that key's proof",
    403: "`csrf_failed`: browser cookie mode, the X-CSRF-Token header is missing or wrong",
}
_CSRF: Final = {
    403: "`csrf_failed`: browser cookie mode, the X-CSRF-Token header is missing or wrong"
}
_EMPTY_LOGOUT: Final = models.LogoutRequest.model_validate({})  # /logout's body may be empty
# /refresh's body may be empty when the browser's refresh cookie carries the token.
_EMPTY_REFRESH: Final = models.RefreshRequest.model_validate({})


def _tokens(request: Request, body: dict[str, Any], *, in_cookies: bool) -> Response:
    """The token response: the JSON body, or in browser mode the tokens in cookies."""
    policy = cookies.policy(request)
    headers = {**_NO_STORE, **dpop_checks(request).nonce_headers()}
    if policy is not None and in_cookies:
        return policy.deliver(request, body, headers)
    return JSONResponse(body, headers=headers)


@router.post(
    "/login",
    summary="Log in with a username and password",
    response_model=models.TokenResponse,
    responses=errors(
        400, 401, 413, 415, 422, 429, described=_BAD_LOGIN, guard=False, challenge=False
    ),
)
async def login(request: Request, body: models.LoginRequest) -> Response:
    """Returns an access token, its lifetime, and a refresh token (the tutorial's POST /login).

    In browser mode (``X-Token-Delivery: cookie``) the tokens come as cookies, and a refused
    login clears the browser's old ones (``api/cookies.py``). With a ``DPoP`` proof header
    (RFC 9449) both tokens are bound to the client's key (``token_type: DPoP``).
    """
    policy = cookies.policy(request)
    in_cookies = policy is not None and policy.wants_cookies(request)
    if in_cookies:
        cookies.clear_on_refusal(request)
    proof = request_proof(request, "/login")
    jkt = None if proof is None else proof.jkt
    caller = caller_with(request, proof)
    pair = await service(request).login(body.username, body.password, caller, jkt=jkt)
    await settle(proof)
    return _tokens(request, pair.body(), in_cookies=in_cookies)


@router.post(
    "/refresh",
    summary="Exchange a refresh token for a new pair",
    response_model=models.TokenResponse,
    responses=errors(
        400, 401, 403, 413, 415, 422, 429, described=_BAD_REFRESH, guard=False, challenge=False
    ),
)
async def refresh(request: Request, body: models.RefreshRequest = _EMPTY_REFRESH) -> Response:
    """Rotates the refresh token; the old one stops working (reuse revokes the session).

    In browser mode the token may come from the refresh cookie instead of the body (after the
    guard's CSRF check); the answer is then in cookies, and a refusal clears them. A session
    bound to a DPoP key refreshes only with a proof by that key.
    """
    policy = cookies.policy(request)
    from_cookie = None if policy is None else cookies.refresh_from_cookie(request, policy)
    in_cookies = policy is not None and (from_cookie is not None or policy.wants_cookies(request))
    if in_cookies:
        cookies.clear_on_refusal(request)
    token = body.refresh_token if body.refresh_token is not None else from_cookie
    if token is None:
        raise InvalidRequestError("refresh_token is required")
    proof = request_proof(request, Settings.refresh_path)
    jkt = None if proof is None else proof.jkt
    pair = await service(request).refresh(token, caller_with(request, proof), jkt=jkt)
    await settle(proof)
    return _tokens(request, pair.body(), in_cookies=in_cookies)


@router.post(
    "/logout",
    summary="End this session",
    dependencies=bearer(),
    response_model=models.Status,
    responses=errors(400, 401, 403, 413, 415, described=_CSRF),
)
async def logout(
    request: Request, principal: Authenticated, body: models.LogoutRequest = _EMPTY_LOGOUT
) -> Response:
    """Revokes the session's refresh tokens and denylists this access token until it expires."""
    token = body.refresh_token
    await service(request).logout(dict(principal.claims), client(request), token)
    return _logged_out(request, {"status": "logged_out"})


def _logged_out(request: Request, body: dict[str, str]) -> Response:
    """The logout answer; a browser logged in by cookie gets its cookies cleared."""
    response = JSONResponse(body, headers=_NO_STORE)
    policy = cookies.policy(request)
    if policy is not None and policy.by_cookie(request):
        policy.clear(response)
    return response


@router.post(
    "/logout-all",
    summary="End every session of the user",
    dependencies=bearer(),
    response_model=models.Status,
    responses=errors(400, 401, 403, described=_CSRF),
)
async def logout_all(request: Request) -> Response:
    """Every access and refresh token of the user issued until now stops working."""
    principal = await authenticate(request)
    await service(request).logout_all(dict(principal.claims), client(request))
    return _logged_out(request, {"status": "logged_out_everywhere"})


@router.post(
    "/password",
    summary="Change the password",
    dependencies=bearer(),
    response_model=models.AccessTokenResponse,
    responses=errors(
        400,
        401,
        403,
        404,
        413,
        415,
        422,
        429,
        described={
            **_CSRF,
            401: "`missing_token` / `invalid_token` from the guard, or `invalid_grant`: "
            "the current password is wrong",
            404: "`not_found`: the token's user no longer exists",
        },
    ),
)
async def change_password(
    request: Request, principal: Authenticated, change: models.PasswordChangeRequest
) -> Response:
    """Ends every other session; answers a fresh access token for this one."""
    result = await service(request).change_password(
        dict(principal.claims), change.current_password, change.new_password, client(request)
    )
    body = result if isinstance(result, dict) else result.body()
    policy = cookies.policy(request)
    by_cookie = policy is not None and policy.by_cookie(request) and "access_token" in body
    return _tokens(request, body, in_cookies=by_cookie)


@router.post(
    "/register",
    summary="Create an account (when registration is open)",
    status_code=201,
    response_model=models.Registered,
    responses=errors(
        400,
        403,
        409,
        413,
        415,
        429,
        described={
            403: "`registration_closed`: JOTAUTH_REGISTRATION_OPEN is off (the default)",
            409: "`conflict`: the username is taken",
        },
    ),
)
async def register(request: Request, body: models.RegisterRequest) -> JSONResponse:
    """Creates a user without roles or permissions; 403 registration_closed by default."""
    user = await service(request).register(body.username, body.password, client(request))
    return JSONResponse({"id": user.sub, "username": user.username}, status_code=201)


@router.get(
    "/me",
    summary="Who the token says you are",
    dependencies=bearer(),
    response_model=models.Me,
    responses=errors(400, 401),
)
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
    "/profile",
    summary="The tutorial's protected route",
    dependencies=bearer(),
    response_model=models.Profile,
    responses=errors(400, 401),
)
async def profile(request: Request) -> JSONResponse:
    """``{"message": "Welcome, <username>!"}``, exactly as the tutorial's demo server."""
    principal = await authenticate(request)
    return JSONResponse({"message": f"Welcome, {principal.username or principal.sub}!"})
