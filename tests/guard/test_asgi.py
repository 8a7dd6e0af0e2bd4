"""The pure ASGI middleware, on a Starlette app, over httpx.ASGITransport."""

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from jotauth.guard import Guard
from jotauth.guard.asgi import GuardMiddleware, principal_from_scope
from jotauth.guard.testing import LocalIssuer

pytestmark = pytest.mark.anyio


async def articles(request: Request) -> JSONResponse:
    principal = principal_from_scope(request.scope)
    return JSONResponse({"sub": None if principal is None else principal.sub})


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.scope["user"].sub})
    await websocket.close()


def app_for(guard: Guard, **options: Any) -> GuardMiddleware:
    routes = [
        Route("/articles", articles, methods=["GET", "POST"]),
        Route("/health", articles),
        Route("/health/live", articles),
        WebSocketRoute("/ws", socket),
    ]
    return GuardMiddleware(Starlette(routes=routes), guard, **options)


def client(app: GuardMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


async def test_every_case(scenario: Any, check: Any) -> None:
    """Each success and error path gets the status, challenge and body RFC 6750 prescribes."""
    app = app_for(scenario.guard, scopes=["articles:read"])
    async with client(app) as c:
        for case in scenario.cases:
            response = await c.request(case.method, "/articles", headers=case.headers)
            body = response.json()
            check(case, response.status_code, response.headers, body, scenario.secrets)
            if case.status == 200:
                assert body["sub"] == "1"
            else:
                assert response.headers["cache-control"] == "no-store"


async def test_two_authorization_headers_are_invalid_request(scenario: Any) -> None:
    """Two Authorization headers are a malformed request (400)."""
    token = scenario.cases[0].headers[0][1]
    async with client(app_for(scenario.guard)) as c:
        response = await c.get("/articles", headers=[("Authorization", token)] * 2)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_optional_and_excluded_paths(issuer: LocalIssuer) -> None:
    """required=False lets anonymous requests through; bad tokens are still refused."""
    app = app_for(issuer.guard(), required=False, exclude=["/health/"])
    async with client(app) as c:
        assert (await c.get("/articles")).json() == {"sub": None}
        bad = await c.get("/articles", headers={"Authorization": "Bearer abc"})
        assert bad.status_code == 401
        assert (await c.get("/health", headers={"Authorization": "Bearer abc"})).status_code == 200
        assert (await c.get("/health/live")).status_code == 200


async def test_keys_unavailable_is_503(issuer: LocalIssuer) -> None:
    """When no keys can be fetched the answer is 503 with Retry-After, never a 500."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    guard = Guard(
        jwks_url="https://auth.test/jwks", issuer=issuer.issuer, audience="articles",
        transport=httpx.MockTransport(down),
    )  # fmt: skip
    async with client(app_for(guard)) as c:
        response = await c.get(
            "/articles", headers={"Authorization": f"Bearer {issuer.make_token()}"}
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert body["jotauth_code"] == "key_source_unavailable"
    assert "auth.test" not in body["error_description"]


async def websocket_handshake(
    app: GuardMiddleware, headers: list[tuple[bytes, bytes]]
) -> list[Any]:
    """Drive one WebSocket connection by hand and return what the app sent."""
    sent: list[Any] = []
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": headers, "query_string": b""}
    await app(scope, receive, send)
    return sent


async def test_websocket(issuer: LocalIssuer) -> None:
    """A WebSocket handshake with a valid token is accepted; without one it is closed (1008)."""
    app = app_for(issuer.guard())
    token = issuer.make_token(sub="ws").encode()
    sent = await websocket_handshake(app, [(b"authorization", b"Bearer " + token)])
    assert sent[0]["type"] == "websocket.accept"
    assert '"sub":"ws"' in sent[1]["text"]
    refused = await websocket_handshake(app, [])
    assert refused == [{"type": "websocket.close", "code": 1008, "reason": "missing_token"}]


async def test_lifespan_passes_through(issuer: LocalIssuer) -> None:
    """Non-HTTP scopes (lifespan) reach the app untouched."""
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await GuardMiddleware(inner, issuer.guard())({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


async def test_cross_site_websocket_cannot_ride_the_cookie(issuer: LocalIssuer) -> None:
    """Cross-site WebSocket hijacking: a page on another origin opens a socket and the browser
    attaches the cookie. Browsers cannot add the CSRF header to a handshake, so a cookie-borne
    token on a handshake whose Origin is not this host is refused; same origin still works."""
    app = app_for(issuer.guard(cookie="access_token"))
    token = issuer.make_token(sub="ws").encode()
    cookie = (b"cookie", b"access_token=" + token + b"; csrf_token=c")
    evil = await websocket_handshake(
        app, [(b"host", b"api.test"), (b"origin", b"https://evil.test"), cookie]
    )
    assert evil == [{"type": "websocket.close", "code": 1008, "reason": "csrf_failed"}]
    same = await websocket_handshake(
        app, [(b"host", b"api.test"), (b"origin", b"https://api.test"), cookie]
    )
    assert same[0]["type"] == "websocket.accept"
    bearer = await websocket_handshake(
        app,
        [(b"host", b"api.test"), (b"origin", b"https://evil.test"),
         (b"authorization", b"Bearer " + token)],
    )  # fmt: skip
    assert bearer[0]["type"] == "websocket.accept"  # no ambient credential: nothing to forge


async def test_cookie_requests_from_a_foreign_origin_are_refused_with_csrf_origins(
    issuer: LocalIssuer,
) -> None:
    """With csrf_origins the middleware hands Origin and Host to the guard: a POST with the
    right CSRF pair from another site is 403; from this host or a listed origin it passes."""
    app = app_for(issuer.guard(cookie="access_token", csrf_origins=["https://app.test"]))
    token = issuer.make_token(sub="c")
    cookies = {"Cookie": f"access_token={token}; csrf_token=c", "X-CSRF-Token": "c"}
    async with client(app) as c:
        evil = await c.post("/articles", headers={**cookies, "Origin": "https://evil.test"})
        assert evil.status_code == 403
        assert evil.json()["error"] == "csrf_failed"
        for origin in ("http://t", "https://app.test"):
            ok = await c.post("/articles", headers={**cookies, "Origin": origin})
            assert ok.status_code == 200, origin
            assert ok.json() == {"sub": "c"}
