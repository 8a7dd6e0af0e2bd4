"""FastAPI: ``Depends(guard.require("articles:read"))``, documented as a security scheme.

    from jotauth.guard.fastapi import Guard
    guard = Guard(issuer="https://auth.example.com", audience="articles")
    guard.install(app)                   # flat RFC 6750 JSON error bodies (optional)

    @app.post("/articles")
    async def create(user: Principal = Depends(guard.require("articles:create"))): ...

Each dependency is an HTTP Bearer security scheme, so ``/docs`` shows the lock and the
"Authorize" button on every protected route. When ``GuardMiddleware`` already
authenticated the request, the dependency reuses its principal instead of verifying twice.

The same dependencies protect ``@app.websocket`` routes: they take the connection as a
Starlette ``HTTPConnection`` (a ``Request`` exists only on HTTP routes), apply the
middleware's cross-site rule to cookie tokens on the handshake, and refuse a handshake by
closing it with 1008 (policy violation) before it is accepted, as the middleware does.
"""

from collections.abc import Awaitable, Callable, Collection
from typing import Any, cast

from jotauth.errors import JotauthError, MissingDependencyError
from jotauth.guard import guard as _core
from jotauth.guard.access import AccessRule
from jotauth.guard.asgi import GUARD_KEY, csrf_method, dpop_request, principal_from_scope
from jotauth.guard.errors import GuardError, MissingTokenError
from jotauth.guard.principal import Principal
from jotauth.guard.response import ErrorResponse, error_response

try:
    from fastapi import FastAPI, HTTPException, WebSocketException
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.responses import JSONResponse
    from fastapi.security.base import SecurityBase
    from starlette.requests import HTTPConnection
    from starlette.websockets import WebSocket
except ModuleNotFoundError as exc:
    raise MissingDependencyError("jotauth.guard.fastapi needs FastAPI", "fastapi", exc) from None

__all__ = ["Guard", "GuardHTTPException", "Requirement"]

_SCHEME_DESCRIPTION = (
    "A jotauth access token: `Authorization: Bearer <token>`, or for a token bound to a key "
    "`Authorization: DPoP <token>` with a `DPoP` proof header (RFC 9449)."
)


class GuardHTTPException(HTTPException):
    """An HTTPException carrying the guard's RFC 6750 answer (``detail`` is the JSON body)."""

    def __init__(self, answer: ErrorResponse) -> None:
        super().__init__(answer.status, detail=answer.body, headers=dict(answer.headers))
        self.answer = answer


def _json(answer: ErrorResponse) -> JSONResponse:
    headers = {**dict(answer.headers), "Cache-Control": "no-store"}
    return JSONResponse(answer.body, answer.status, headers=headers)


_POLICY_VIOLATION = 1008  # RFC 6455 7.4.1, what GuardMiddleware closes a refused handshake with


async def _handle(connection: HTTPConnection, exc: Exception) -> JSONResponse | None:
    if isinstance(exc, GuardHTTPException):
        answer = exc.answer
    elif isinstance(exc, GuardError):
        answer = error_response(exc)
    else:
        raise exc  # pragma: no cover - registered for the two classes above only
    if isinstance(connection, WebSocket):  # guard.authorize() inside a WebSocket route
        await connection.close(_POLICY_VIOLATION, str(answer.body["jotauth_code"]))
        return None
    return _json(answer)


def _refusal(connection: HTTPConnection, answer: ErrorResponse) -> Exception:
    """A refused WebSocket handshake is closed with 1008; an HTTP request gets the 401/403."""
    if connection.scope["type"] == "websocket":
        return WebSocketException(_POLICY_VIOLATION, str(answer.body["jotauth_code"]))
    return GuardHTTPException(answer)


class Requirement(SecurityBase):
    """One route's requirement, as a FastAPI dependency and an OpenAPI HTTP Bearer scheme.

    Being a ``SecurityBase`` itself (rather than depending on ``HTTPBearer``) makes it one
    dependency to resolve per request instead of two, which halves the guard's cost on a
    cached token; FastAPI still lists the scheme in OpenAPI for every route that uses it.
    """

    def __init__(
        self, guard: "Guard", needed: tuple[str, ...], *, optional: bool, rule: AccessRule
    ) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description=_SCHEME_DESCRIPTION)
        self.scheme_name = guard.scheme_name
        self.guard = guard
        self.needed = needed
        self.optional = optional
        self.rule = rule

    async def __call__(self, connection: HTTPConnection) -> Principal | None:
        guard = self.guard
        scope = connection.scope
        dpop = False
        try:
            principal = principal_from_scope(scope, guard)
            if principal is None:
                headers = connection.headers
                cookie = guard.cookie
                method: str = scope.get("method", "GET")
                if cookie is not None and scope["type"] == "websocket":
                    origin, host = headers.get("origin"), headers.get("host")
                    method = csrf_method(
                        "websocket",
                        method,
                        None if origin is None else origin.encode("latin-1"),
                        None if host is None else host.encode("latin-1"),
                    )
                token, dpop = guard.extract_credentials(
                    headers.getlist("authorization"),
                    headers.get("cookie"),
                    method,
                    None if cookie is None else headers.get(cookie.csrf_header),
                    origin=headers.get("origin"),
                    host=headers.get("host"),
                )
                principal = await guard.authenticate(
                    token,
                    dpop=dpop_request(scope, headers.getlist("dpop"), headers.get("host"))
                    if dpop
                    else None,
                )
                scope["auth"] = principal
                scope[GUARD_KEY] = guard
            await guard.admit(principal, self.rule, scope)
        except MissingTokenError as exc:
            if self.optional:
                return None
            raise _refusal(connection, guard.refusal(exc, dpop=dpop)) from None
        except JotauthError as exc:
            raise _refusal(connection, guard.refusal(exc, dpop=dpop)) from None
        return principal


class Guard(_core.Guard):
    """A ``jotauth.guard.Guard`` whose ``require`` returns FastAPI dependencies."""

    def __init__(self, *, scheme_name: str = "jotauth", **options: Any) -> None:
        super().__init__(**options)
        self.scheme_name = scheme_name

    def install(self, app: FastAPI) -> None:
        """Answer guard errors with the flat ``{"error", "error_description", ...}`` body.

        Also turns a ``GuardError`` raised inside a route, such as ``guard.authorize(user,
        ["articles:delete"])`` for an object-level rule, into its 403/401 answer (in a
        WebSocket route: a close with 1008).
        """
        # One handler for both kinds of connection; Starlette's types name one kind per handler.
        handler = cast(Any, _handle)
        app.add_exception_handler(GuardHTTPException, handler)
        app.add_exception_handler(GuardError, handler)

    def require(
        self,
        *requirements: str,
        clients: Collection[str] | None = None,
        tiers: Collection[str] | None = None,
    ) -> Callable[..., Awaitable[Principal]]:
        """A dependency returning the Principal, requiring every scope/permission given
        (and, with ``clients`` / ``tiers``, a token of one of those clients or tiers)."""
        rule = self.rule(requirements, clients=clients, tiers=tiers)
        return cast(
            Callable[..., Awaitable[Principal]],
            Requirement(self, rule.scopes, optional=False, rule=rule),
        )

    def optional(self) -> Callable[..., Awaitable[Principal | None]]:
        """A dependency returning the Principal, or None when no token was sent."""
        return Requirement(self, (), optional=True, rule=self.rule())
