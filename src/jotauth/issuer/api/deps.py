"""Who is calling: the bearer token checked by the issuer's own guard, then revocation, once.

In browser mode the guard is built with the cookie names, so the access cookie, the CSRF
double submit and the Origin check are the guard's (``jotauth.guard.credentials``).

The guard checks signature, issuer, audience, ``typ`` and lifetime from memory; then
``AuthService.revoked_reason`` asks the database whether the token was revoked since (its jti
or session, its user's not-before, a disabled user, its key), so a logout takes effect on this
server immediately, in every worker. That is the issuer's one revocation check per request:
its guard keeps no revocation view of its own.
"""

from typing import Annotated, Final

from fastapi import Depends, Request

from jotauth import jose
from jotauth.guard import Guard, Principal, RevokedTokenError
from jotauth.guard.asgi import dpop_request
from jotauth.guard.dpop import DPoPRequest
from jotauth.guard.revocation import REVOKED
from jotauth.issuer.errors import ForbiddenError
from jotauth.issuer.services.auth import AuthService, Client
from jotauth.issuer.services.clients import ClientService
from jotauth.issuer.services.provider import OAuthProvider

__all__ = [
    "AdminWriter",
    "Authenticated",
    "authenticate",
    "client",
    "client_registry",
    "oauth_provider",
    "require_admin",
    "service",
    "verify_token",
]


def service(request: Request) -> AuthService:
    """The app's AuthService."""
    auth: AuthService = request.app.state.auth
    return auth


def oauth_provider(request: Request) -> OAuthProvider:
    """The app's OAuthProvider (token endpoint grants, introspection, revocation)."""
    provider: OAuthProvider = request.app.state.provider
    return provider


def client_registry(request: Request) -> ClientService:
    """The app's ClientService (the admin API's client registry)."""
    clients: ClientService = request.app.state.clients
    return clients


def client(request: Request) -> Client:
    """IP and User-Agent of the caller."""
    ip = request.client.host if request.client else None
    return Client(ip, request.headers.get("user-agent"))


async def authenticate(request: Request) -> Principal:
    """The principal of the request's access token, or the guard/revocation error.

    ``Authorization: DPoP <token>`` hands the guard the request's DPoP proof (RFC 9449 7): a
    token bound to a key (``cnf.jkt``) works only that way, with a proof by that key for this
    method and URL (under ``JOTAUTH_ISSUER``); the guard refuses it as ``Bearer``.
    """
    guard: Guard = request.app.state.guard
    headers = request.headers
    cookie = guard.cookie
    if cookie is None:
        token, by_dpop = guard.extract_credentials(headers.getlist("authorization"))
    else:  # browser mode: the guard reads the access cookie and checks CSRF and Origin
        token, by_dpop = guard.extract_credentials(
            headers.getlist("authorization"),
            headers.get("cookie"),
            request.method,
            headers.get(cookie.csrf_header),
            origin=headers.get("origin"),
            host=headers.get("host"),
        )
    dpop = None
    if by_dpop:
        request.state.dpop = True  # api/errors.py answers with the DPoP challenge
        dpop = dpop_request(request.scope, headers.getlist("dpop"), headers.get("host"))
    return await verify_token(guard, service(request), token, dpop=dpop)


# The store's reasons in the words a guard answers the same revocations with
# (``jotauth.guard.revocation.REVOKED``), so a client reads one message wherever it is refused.
_REVOKED_SAYS: Final = {
    "token revoked": REVOKED["token"],
    "session ended (logged out, or revoked)": REVOKED["session"],
    "session ended (logged out everywhere or password changed)": REVOKED["user"],
    "signing key revoked": REVOKED["key"],
    "user disabled": "the account of this token is disabled",
    "user no longer exists": "the account of this token no longer exists",
}


async def verify_token(
    guard: Guard, auth: AuthService, token: str, *, dpop: DPoPRequest | None = None
) -> Principal:
    """The principal of ``token``: the guard's checks, then the one revocation check.

    Asked of the database on every request (the token's jti and session, its user's
    not-before, a disabled user, its key), so a logout takes effect in every worker at once;
    a refusal is counted in the guard's counters like its own. ``dpop``: the request's DPoP
    facts when it used the DPoP scheme.
    """
    principal = await guard.authenticate(token, dpop=dpop)
    claims = principal.claims
    jti = principal.jti
    iat = claims.get("iat")
    sid = claims.get("sid")
    kid = guard_kid(token)
    reason = await auth.revoked_reason(
        jti=jti,
        sub=principal.sub,
        iat=iat if isinstance(iat, int | float) else 0,
        kid=kid,
        sid=sid if isinstance(sid, str) and sid else None,
    )
    if reason is not None:
        says = _REVOKED_SAYS.get(reason, f"the token was revoked ({reason}); sign in again")
        error = RevokedTokenError("revoked", says)
        guard.record_rejection(error)
        raise error
    return principal


def guard_kid(token: str) -> str | None:
    """The kid of a token already verified (header only)."""
    kid = jose.peek_header(token).get("kid")
    return kid if isinstance(kid, str) else None


async def require_admin(request: Request, action: str = "read") -> Principal:
    """A principal holding the admin permission (``admin:<action>`` or ``admin:*``)."""
    principal = await authenticate(request)
    if not principal.can("admin", action):
        raise ForbiddenError(f"this needs the admin:{action} permission")
    return principal


async def _admin_writer(request: Request) -> Principal:
    return await require_admin(request, "write")


# As parameters of a route with a body: FastAPI solves dependencies before it reports a body's
# validation errors, so a caller without a valid token (or the permission) gets 401 (403),
# not a 400 about a body it should not have sent.
Authenticated = Annotated[Principal, Depends(authenticate)]
AdminWriter = Annotated[Principal, Depends(_admin_writer)]
