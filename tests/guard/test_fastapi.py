"""FastAPI dependencies: every error answer, OpenAPI security scheme, optional principals."""

import warnings
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from starlette.exceptions import StarletteDeprecationWarning

from jotauth import jose
from jotauth.guard import Principal
from jotauth.guard.asgi import GuardMiddleware
from jotauth.guard.fastapi import Guard
from jotauth.guard.testing import LocalIssuer

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 for its TestClient and warns, once, at import, when it runs
    # on httpx; it works on httpx, and the project keeps one HTTP client (httpx) in its locks.
    warnings.filterwarnings(
        "ignore", "Using `httpx` with `starlette.testclient`", StarletteDeprecationWarning
    )
    from starlette.testclient import TestClient

pytestmark = pytest.mark.anyio


@pytest.fixture
def guard_class() -> type[Guard]:
    """The scenario builds a FastAPI guard."""
    return Guard


def app_for(guard: Guard, *, install: bool = True) -> FastAPI:
    app = FastAPI()
    if install:
        guard.install(app)

    @app.get("/articles")
    async def list_articles(
        user: Annotated[Principal, Depends(guard.require("articles:read"))],
    ) -> Any:
        return {"sub": user.sub}

    @app.post("/articles")
    async def create(user: Annotated[Principal, Depends(guard.require("articles:read"))]) -> Any:
        return {"sub": user.sub}

    @app.delete("/articles")
    async def delete(
        user: Annotated[Principal, Depends(guard.require("articles:delete", "openid"))],
    ) -> Any:
        return {"sub": user.sub}

    @app.get("/me")
    async def me(user: Annotated[Principal | None, Depends(guard.optional())]) -> Any:
        return {"sub": None if user is None else user.sub}

    @app.get("/public")
    async def public() -> Any:
        return {"ok": True}

    return app


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


async def test_every_case(scenario: Any, check: Any) -> None:
    """Each success and error path gets the status, challenge and flat body RFC 6750 prescribes."""
    async with client(app_for(scenario.guard)) as c:
        for case in scenario.cases:
            response = await c.request(case.method, "/articles", headers=case.headers)
            check(case, response.status_code, response.headers, response.json(), scenario.secrets)


async def test_without_install_body_is_under_detail(issuer: LocalIssuer) -> None:
    """Without guard.install(app) FastAPI's own handler nests the body under "detail"."""
    guard = issuer.guard(cls=Guard)
    async with client(app_for(guard, install=False)) as c:
        response = await c.get("/articles")
    assert response.status_code == 401
    assert response.json()["detail"]["error"] == "missing_token"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_several_requirements_name_what_is_missing(issuer: LocalIssuer) -> None:
    """A 403 names each requirement the token lacks."""
    guard = issuer.guard(cls=Guard)
    token = issuer.make_token(scope="openid articles:read")
    async with client(app_for(guard)) as c:
        response = await c.delete("/articles", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["required"] == ["articles:delete"]
    assert 'scope="articles:delete"' in response.headers["www-authenticate"]


async def test_optional_principal(issuer: LocalIssuer) -> None:
    """guard.optional() gives None without a token and refuses a bad one."""
    guard = issuer.guard(cls=Guard)
    async with client(app_for(guard)) as c:
        assert (await c.get("/me")).json() == {"sub": None}
        token = issuer.make_token(sub="5")
        assert (await c.get("/me", headers={"Authorization": f"Bearer {token}"})).json() == {
            "sub": "5"
        }
        assert (await c.get("/me", headers={"Authorization": "Bearer x"})).status_code == 401


async def test_openapi_security_scheme(issuer: LocalIssuer) -> None:
    """Protected routes show the HTTP bearer scheme in OpenAPI; public ones do not."""
    guard = issuer.guard(cls=Guard)
    schema = app_for(guard).openapi()
    assert schema["components"]["securitySchemes"]["jotauth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A jotauth access token: `Authorization: Bearer <token>`, or for a "
        "token bound to a key `Authorization: DPoP <token>` with a `DPoP` proof header "
        "(RFC 9449).",
    }
    assert schema["paths"]["/articles"]["get"]["security"] == [{"jotauth": []}]
    assert schema["paths"]["/me"]["get"]["security"] == [{"jotauth": []}]
    assert "security" not in schema["paths"]["/public"]["get"]


async def test_reuses_principal_from_middleware(issuer: LocalIssuer) -> None:
    """Behind GuardMiddleware the dependency does not verify the token a second time."""
    guard = issuer.guard(cls=Guard)
    app = GuardMiddleware(app_for(guard), guard, exclude=["/public"])
    token = issuer.make_token(sub="m", scope="articles:read")
    async with client(app) as c:
        response = await c.get("/articles", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"sub": "m"}
    assert guard.cache.hits == 0
    assert guard.cache.misses == 1


async def test_principal_of_another_guard_is_not_reused(issuer: LocalIssuer) -> None:
    """Token confusion: a middleware guard for one audience must not vouch for a dependency
    guard of another. A token for "articles" must not open an "admin" route."""
    outer = issuer.guard(cls=Guard)  # audience "articles"
    admin = issuer.guard(cls=Guard, audience="admin")
    inner = FastAPI()

    @inner.get("/admin")
    async def admin_route(user: Annotated[Principal, Depends(admin.require())]) -> Any:
        return {"sub": user.sub}

    app = GuardMiddleware(inner, outer)
    token = issuer.make_token(sub="m", scope="articles:read")
    async with client(app) as c:
        response = await c.get("/admin", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"]["jotauth_code"] == "invalid_claim"
    good = issuer.make_token(sub="a", audience=["articles", "admin"])
    async with client(app) as c:
        response = await c.get("/admin", headers={"Authorization": f"Bearer {good}"})
    assert response.json() == {"sub": "a"}


def test_bad_requirement_fails_at_definition(issuer: LocalIssuer) -> None:
    """A malformed requirement string is refused when the route is declared."""
    guard = issuer.guard(cls=Guard)
    with pytest.raises(ValueError, match="resource:action"):
        guard.require("articles:")
    with pytest.raises(ValueError, match="non-empty"):
        guard.require(" ")


async def test_unreadable_roles_claim_refuses_only_routes_that_need_grants(
    issuer: LocalIssuer,
) -> None:
    """A Keycloak-like ``roles`` object passes ``require()`` and is a 401 where grants count."""
    guard = issuer.guard(cls=Guard)
    app = FastAPI()
    guard.install(app)

    @app.get("/profile")
    async def profile(user: Annotated[Principal, Depends(guard.require())]) -> Any:
        return {"sub": user.sub}

    @app.get("/articles")
    async def articles(user: Annotated[Principal, Depends(guard.require("articles:read"))]) -> Any:
        return {"sub": user.sub}

    base = jose.peek_claims(issuer.make_token(sub="k"))
    del base["scope"]
    token = jose.encode({**base, "scp": "openid profile"}, issuer.key, headers={"typ": "at+jwt"})
    claims = {**base, "roles": {"realm": ["admin"]}}
    odd = jose.encode(claims, issuer.key, headers={"typ": "at+jwt"})
    async with client(app) as c:
        for bearer in (token, odd):
            response = await c.get("/profile", headers={"Authorization": f"Bearer {bearer}"})
            assert response.json() == {"sub": "k"}
        response = await c.get("/articles", headers={"Authorization": f"Bearer {odd}"})
    assert response.status_code == 401
    assert response.json()["jotauth_code"] == "invalid_claim"
    assert '"roles" must be' in response.json()["error_description"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# -- WebSocket routes (issue 12, point 7) ---------------------------------------------------------


def websocket_app(guard: Guard) -> FastAPI:
    app = FastAPI()
    guard.install(app)

    @app.websocket("/ws")
    async def socket(
        websocket: WebSocket, user: Annotated[Principal, Depends(guard.require("articles:read"))]
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": user.sub})
        if user.sub == "object-level":
            guard.authorize(user, ["articles:delete"])  # a GuardError raised in the route
        await websocket.close()

    @app.websocket("/maybe")
    async def maybe(
        websocket: WebSocket, user: Annotated[Principal | None, Depends(guard.optional())]
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": None if user is None else user.sub})
        await websocket.close()

    return app


def _refused(client: TestClient, path: str, headers: dict[str, str]) -> WebSocketDisconnect:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect(path, headers=headers),
    ):
        pass
    return info.value


def test_websocket_route_dependency_does_not_answer_500(issuer: LocalIssuer) -> None:
    """``Depends(guard.require())`` on a WebSocket route accepts a valid token, closes on others."""
    guard = issuer.guard(cls=Guard)
    client = TestClient(websocket_app(guard))
    token = issuer.make_token(sub="ws", scope="articles:read")
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {token}"}) as ws:
        assert ws.receive_json() == {"sub": "ws"}
    for headers, reason in (
        ({}, "missing_token"),
        ({"Authorization": "Bearer not.a.token"}, "malformed_token"),
        ({"Authorization": f"Bearer {issuer.make_token(expires_in=-3600)}"}, "expired_token"),
        ({"Authorization": f"Bearer {issuer.make_token(scope='openid')}"}, "insufficient_scope"),
    ):
        closed = _refused(client, "/ws", headers)
        assert (closed.code, closed.reason) == (1008, reason)
    with client.websocket_connect("/maybe") as ws:
        assert ws.receive_json() == {"sub": None}
    assert _refused(client, "/maybe", {"Authorization": "Bearer x.y.z"}).code == 1008
    later = issuer.make_token(sub="object-level", scope="articles:read")
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {later}"}) as ws:
        assert ws.receive_json() == {"sub": "object-level"}
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
    assert (info.value.code, info.value.reason) == (1008, "insufficient_scope")


def test_websocket_dependency_refuses_cross_site_cookie_handshake(issuer: LocalIssuer) -> None:
    """Cross-site WebSocket hijacking through the dependency: the same rule as the middleware."""
    guard = issuer.guard(cls=Guard, cookie="access_token")
    client = TestClient(websocket_app(guard))  # its handshakes say Host: testserver
    token = issuer.make_token(sub="ws", scope="articles:read")
    cookie = f"access_token={token}; csrf_token=c"
    evil = _refused(client, "/ws", {"Origin": "https://evil.test", "Cookie": cookie})
    assert (evil.code, evil.reason) == (1008, "csrf_failed")
    for headers in (
        {"Origin": "http://testserver", "Cookie": cookie},  # same origin
        {"Cookie": cookie},  # no Origin: not a browser
        {"Origin": "https://evil.test", "Authorization": f"Bearer {token}"},  # nothing ambient
    ):
        with client.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_json() == {"sub": "ws"}
