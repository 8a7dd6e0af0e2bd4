"""Pure ASGI middleware (Starlette, FastAPI, Litestar, any ASGI app); no framework import.

Requests with ``Authorization: DPoP`` hand the guard their ``DPoP`` headers, method, scheme,
``Host`` and raw path, so that key-bound tokens are checked against a proof (RFC 9449).
Authenticated requests get the ``Principal`` in ``scope["auth"]`` and ``scope["user"]`` (so
Starlette's ``request.user`` and ``request.auth`` work). Failures are answered here with the
RFC 6750 response from ``jotauth.guard.response``; a WebSocket handshake that fails is closed
with code 1008 (policy violation) before it is accepted.
"""

from collections.abc import Awaitable, Callable, Collection, MutableMapping, Sequence
from typing import Any

from jotauth.errors import JotauthError
from jotauth.guard.dpop import DPoPRequest, decoded_path, raw_path
from jotauth.guard.errors import MissingTokenError
from jotauth.guard.guard import Guard
from jotauth.guard.principal import Principal

__all__ = [
    "GUARD_KEY",
    "GuardMiddleware",
    "csrf_method",
    "dpop_request",
    "principal_from_scope",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


GUARD_KEY = "jotauth.guard"
"""The scope key naming the guard that verified ``scope["auth"]``."""


def principal_from_scope(scope: Scope, guard: Guard | None = None) -> Principal | None:
    """The principal the middleware stored, if the request was authenticated.

    With ``guard``, only a principal that this very guard verified (its issuer, audience,
    ``typ`` and revocations): another guard's principal is not evidence for this one.
    """
    principal = scope.get("auth")
    if guard is not None and scope.get(GUARD_KEY) is not guard:
        return None
    return principal if isinstance(principal, Principal) else None


def excluded(path: str, prefixes: Collection[str]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or below one of them."""
    for prefix in prefixes:
        base = prefix.rstrip("/")
        if path == base or path.startswith(base + "/"):
            return True
    return False


def _cross_origin(origin: bytes, host: bytes | None) -> bool:
    """Whether a handshake's ``Origin`` names another host than the one it was sent to."""
    _, sep, netloc = origin.partition(b"://")
    return not sep or host is None or netloc.lower() != host.lower()


def csrf_method(kind: str, method: str, origin: bytes | None, host: bytes | None) -> str:
    """The method the cookie CSRF rule judges a request by (shared by the ASGI adapters).

    A browser sends cookies on a cross-site WebSocket handshake and can add no CSRF header to
    it (cross-site WebSocket hijacking), so such a handshake counts as unsafe ("WEBSOCKET"):
    a cookie token on it is refused. A handshake with no ``Origin`` (not from a browser) or
    from the host it was sent to keeps its ``GET``.
    """
    if kind == "websocket" and origin is not None and _cross_origin(origin, host):
        return "WEBSOCKET"
    return method


def dpop_request(scope: Scope, proofs: Sequence[str], host: str | None) -> DPoPRequest:
    """The DPoP facts of an ASGI request (HTTP or WebSocket handshake, which is a GET)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        path = raw_path(raw)
    else:  # a server without raw_path: the decoded path, its "%", "?" and "#" encoded again
        path = decoded_path(scope.get("path", "/").encode("utf-8", "replace") or b"/")
    return DPoPRequest(
        scope.get("method", "GET"), scope.get("scheme", "http"), host, path, tuple(proofs)
    )


class GuardMiddleware:
    """Authenticate every HTTP and WebSocket request before it reaches the app.

    ``required=False`` lets requests without any token through with ``scope["auth"] = None``
    (a token that is present but invalid is still refused). ``scopes`` are required of every
    request; ``exclude`` lists paths (and their sub-paths) left alone, e.g. ``("/health",)``.
    ``clients`` / ``tiers`` admit only tokens of those client ids or tiers; a guard with a
    ``rate_limiter`` counts each request against the client's tier limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        guard: Guard,
        *,
        required: bool = True,
        scopes: Sequence[str] = (),
        exclude: Collection[str] = (),
        clients: Collection[str] | None = None,
        tiers: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.guard = guard
        self.required = required
        self.rule = guard.rule(scopes, clients=clients, tiers=tiers)
        self.scopes = self.rule.scopes
        self.exclude = tuple(exclude)
        cookie = guard.cookie
        self._csrf_header = None if cookie is None else cookie.csrf_header.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (
            self.exclude and excluded(scope.get("path", ""), self.exclude)
        ):
            await self.app(scope, receive, send)
            return
        authorization: list[str] = []
        cookie: str | None = None
        csrf: str | None = None
        csrf_header = self._csrf_header
        origin: bytes | None = None
        host: bytes | None = None
        proofs: list[str] | None = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"host":
                host = value
            elif name == b"authorization":
                authorization.append(value.decode("latin-1"))
            elif name == b"cookie":
                cookie = (
                    value.decode("latin-1")
                    if cookie is None
                    else f"{cookie}; {value.decode('latin-1')}"
                )
            elif csrf_header is not None and name == csrf_header:
                csrf = value.decode("latin-1")
            elif name == b"dpop":
                if proofs is None:
                    proofs = []
                proofs.append(value.decode("latin-1"))
        guard = self.guard
        method = csrf_method(kind, scope.get("method", "GET"), origin, host)
        principal: Principal | None
        host_text = None if host is None else host.decode("latin-1")
        dpop = False
        try:
            token, dpop = guard.extract_credentials(
                authorization,
                cookie,
                method,
                csrf,
                origin=None if origin is None else origin.decode("latin-1"),
                host=host_text,
            )
            principal = await guard.authenticate(
                token, dpop=dpop_request(scope, proofs or (), host_text) if dpop else None
            )
            await guard.admit(principal, self.rule, scope)
        except MissingTokenError as exc:
            if self.required:
                await self._refuse(kind, exc, send, dpop)
                return
            principal = None
        except JotauthError as exc:
            await self._refuse(kind, exc, send, dpop)
            return
        scope["auth"] = principal
        scope["user"] = principal
        scope[GUARD_KEY] = guard
        await self.app(scope, receive, send)

    async def _refuse(self, kind: str, exc: JotauthError, send: Send, dpop: bool) -> None:
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": exc.code})
            return
        answer = self.guard.refusal(exc, dpop=dpop)
        body = answer.body_bytes()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        headers += [
            (name.lower().encode(), value.encode("latin-1")) for name, value in answer.headers
        ]
        headers.append((b"cache-control", b"no-store"))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
