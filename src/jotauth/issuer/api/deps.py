"""Who is calling: the bearer token checked by the issuer's own guard, then the store.

The guard checks signature, issuer, audience, ``typ`` and lifetime from memory; the store then
answers whether the token was revoked since (its jti, its user's not-before, a disabled user,
its key), so a logout takes effect on this server immediately, in every worker.
"""

from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request

from jotauth import jose
from jotauth.guard import Guard, Principal, RevokedTokenError
from jotauth.issuer.errors import ForbiddenError
from jotauth.issuer.services.auth import AuthService, Client

__all__ = [
    "AdminWriter",
    "Authenticated",
    "authenticate",
    "client",
    "require_admin",
    "service",
]


def service(request: Request) -> AuthService:
    """The app's AuthService."""
    auth: AuthService = request.app.state.auth
    return auth


def client(request: Request) -> Client:
    """IP and User-Agent of the caller."""
    ip = request.client.host if request.client else None
    return Client(ip, request.headers.get("user-agent"))


async def authenticate(request: Request) -> Principal:
    """The principal of the request's bearer token, or the guard/revocation error."""
    guard: Guard = request.app.state.guard
    token = guard.extract(request.headers.getlist("authorization"))
    principal = await guard.authenticate(token)
    claims = principal.claims
    jti = principal.jti
    iat = claims.get("iat")
    sid = claims.get("sid")
    kid = guard_kid(token)
    store = service(request).store
    reason = await anyio.to_thread.run_sync(
        lambda: store.revoked_reason(
            jti=jti,
            sub=principal.sub,
            iat=iat if isinstance(iat, int | float) else 0,
            kid=kid,
            sid=sid if isinstance(sid, str) and sid else None,
        )
    )
    if reason is not None:
        raise RevokedTokenError("revoked", f"the token was revoked: {reason}")
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
