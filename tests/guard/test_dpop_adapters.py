"""DPoP through every adapter: ASGI middleware (HTTP and WebSocket), FastAPI dependencies (HTTP
and WebSocket), the Flask decorator and the WSGI middleware.

Each adapter must hand the guard the request's DPoP headers, method and URI, and answer with
the ``DPoP`` challenge of RFC 9449 section 7.1: the same table of cases runs through each.
"""

import json
import warnings
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NamedTuple

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket, WebSocketDisconnect
from flask import Flask
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from jotauth import jose
from jotauth.guard import Guard, Principal, fastapi as guard_fastapi, flask as guard_flask
from jotauth.guard.asgi import GuardMiddleware, principal_from_scope
from jotauth.guard.testing import LocalIssuer, dpop_headers
from jotauth.guard.wsgi import GuardWSGIMiddleware, principal_from_environ

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", "Using `httpx` with `starlette.testclient`", StarletteDeprecationWarning
    )
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def client_key() -> jose.Key:
    """The client's DPoP key (Ed25519)."""
    return jose.Key.generate("EdDSA")


class Case(NamedTuple):
    """One request and the answer it must get."""

    name: str
    method: str
    headers: dict[str, str]
    status: int
    error: str | None = None  # the challenge's (and body's) error
    check: str | None = None  # the body's dpop_check


def cases(issuer: LocalIssuer, key: jose.Key, url: str) -> list[Case]:
    """The table every adapter answers: success, replay, downgrade, bad proofs, bad tokens."""
    token = issuer.make_token(sub="7", scope="articles:read", bound_to=key)
    good = dpop_headers(key, token, "GET", url)
    expired = issuer.make_token(bound_to=key, expires_in=-3600)
    plain = issuer.make_token(sub="8", scope="articles:read")
    return [
        Case("bound token with its proof", "GET", good, 200),
        Case("replayed proof", "GET", good, 401, "invalid_dpop_proof", "jti"),
        Case("downgraded to Bearer", "GET", {"Authorization": f"Bearer {token}"}, 401,
             "invalid_token"),
        Case("no proof", "GET", {"Authorization": f"DPoP {token}"}, 401, "invalid_dpop_proof",
             "header"),
        Case("proof for another URL", "GET",
             dpop_headers(key, token, "GET", url.replace("/articles", "/admin")), 401,
             "invalid_dpop_proof", "htu"),
        Case("proof for another method", "POST", dpop_headers(key, token, "GET", url), 401,
             "invalid_dpop_proof", "htm"),
        Case("proof by another key", "GET",
             dpop_headers(jose.Key.generate("EdDSA"), token, "GET", url), 401, "invalid_token"),
        Case("expired bound token", "GET", dpop_headers(key, expired, "GET", url), 401,
             "invalid_token"),
        Case("unbound token as DPoP", "GET", dpop_headers(key, plain, "GET", url), 401,
             "invalid_token"),
        Case("unbound token as Bearer", "GET", {"Authorization": f"Bearer {plain}"}, 200),
    ]  # fmt: skip


def check(case: Case, status: int, headers: Any, body: Any) -> None:
    """The answer ``case`` must get: status, DPoP challenge with realm and algs, body."""
    assert status == case.status, (case.name, body)
    if status == 200:
        assert body["sub"] in ("7", "8"), case.name
        return
    challenge = headers.get("www-authenticate")
    assert challenge.startswith(f'DPoP realm="articles", error="{case.error}"'), (
        case.name,
        challenge,
    )
    assert 'algs="ES256 ES384 ES512 EdDSA' in challenge, case.name
    assert body["error"] == case.error, case.name
    assert body["hint"], case.name
    if case.check is not None:
        assert body["dpop_check"] == case.check, case.name
    assert headers.get("cache-control") == "no-store", case.name


def guard_for(issuer: LocalIssuer, cls: Callable[..., Guard] = Guard) -> Guard:
    """A guard requiring articles:read, with a realm so the challenge shows it."""
    return issuer.guard(cls=cls, realm="articles")


# -- ASGI middleware ------------------------------------------------------------------------------


async def articles(request: Request) -> JSONResponse:
    principal = principal_from_scope(request.scope)
    return JSONResponse({"sub": None if principal is None else principal.sub})


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.scope["user"].sub})
    await websocket.close()


def asgi_app(guard: Guard) -> GuardMiddleware:
    routes = [Route("/articles", articles, methods=["GET", "POST"]), WebSocketRoute("/ws", socket)]
    return GuardMiddleware(Starlette(routes=routes), guard, scopes=["articles:read"])


async def run_async(
    send: Callable[[str, dict[str, str]], Awaitable[httpx.Response]], table: list[Case]
) -> None:
    for case in table:
        response = await send(case.method, case.headers)
        check(case, response.status_code, response.headers, response.json())


@pytest.mark.anyio
async def test_asgi_middleware(issuer: LocalIssuer, client_key: jose.Key) -> None:
    """The ASGI middleware checks proofs and answers with the DPoP challenge."""
    app = asgi_app(guard_for(issuer))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:

        async def send(method: str, headers: dict[str, str]) -> httpx.Response:
            return await c.request(method, "/articles?page=2", headers=headers)

        await run_async(send, cases(issuer, client_key, "http://t/articles"))


async def handshake(
    app: GuardMiddleware, headers: list[tuple[bytes, bytes]], raw_path: bytes | None = b"/ws"
) -> list[Any]:
    """One WebSocket connection driven by hand: what the app sent."""
    sent: list[Any] = []
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "websocket", "scheme": "wss", "path": "/ws", "raw_path": raw_path,
             "headers": [(b"host", b"t"), *headers], "query_string": b""}  # fmt: skip
    if raw_path is None:
        del scope["raw_path"]
    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_asgi_websocket_handshake(issuer: LocalIssuer, client_key: jose.Key) -> None:
    """A WebSocket handshake (its HTTP URI is https://t/ws) needs a proof like any request."""
    app = asgi_app(guard_for(issuer))
    token = issuer.make_token(sub="7", scope="articles:read", bound_to=client_key)

    def encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
        return [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    good = encoded(dpop_headers(client_key, token, "GET", "https://t/ws"))
    sent = await handshake(app, good)
    assert sent[0]["type"] == "websocket.accept"
    assert json.loads(sent[1]["text"]) == {"sub": "7"}
    assert (await handshake(app, good))[0]["reason"] == "invalid_dpop_proof"  # replayed
    downgraded = await handshake(app, [(b"authorization", f"Bearer {token}".encode())])
    assert downgraded == [{"type": "websocket.close", "code": 1008, "reason": "token_binding"}]
    wrong = encoded(dpop_headers(client_key, token, "GET", "https://t/other"))
    assert (await handshake(app, wrong))[0]["reason"] == "invalid_dpop_proof"
    again = encoded(dpop_headers(client_key, token, "GET", "https://t/ws"))
    no_raw_path = await handshake(app, again, raw_path=None)  # a server without raw_path
    assert no_raw_path[0]["type"] == "websocket.accept"


# -- FastAPI ----------------------------------------------------------------------------------


def fastapi_app(guard: guard_fastapi.Guard) -> FastAPI:
    app = FastAPI()
    guard.install(app)
    dependency = guard.require("articles:read")

    @app.api_route("/articles", methods=["GET", "POST"])
    async def list_articles(user: Annotated[Principal, Depends(dependency)]) -> Any:
        return {"sub": user.sub}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: Annotated[Principal, Depends(dependency)]) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": user.sub})
        await websocket.close()

    return app


@pytest.mark.anyio
async def test_fastapi_dependency(issuer: LocalIssuer, client_key: jose.Key) -> None:
    """``Depends(guard.require(...))`` checks proofs and answers with the DPoP challenge."""
    app = fastapi_app(guard_for(issuer, guard_fastapi.Guard))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:

        async def send(method: str, headers: dict[str, str]) -> httpx.Response:
            return await c.request(method, "/articles", headers=headers)

        await run_async(send, cases(issuer, client_key, "http://t/articles"))


def test_fastapi_websocket_dependency(issuer: LocalIssuer, client_key: jose.Key) -> None:
    """A FastAPI WebSocket route's dependency checks the handshake's proof."""
    client = TestClient(fastapi_app(guard_for(issuer, guard_fastapi.Guard)))  # type: ignore[arg-type]
    token = issuer.make_token(sub="7", scope="articles:read", bound_to=client_key)
    good = dpop_headers(client_key, token, "GET", "http://testserver/ws")
    with client.websocket_connect("/ws", headers=good) as ws:
        assert ws.receive_json() == {"sub": "7"}
    for headers, reason in (
        (good, "invalid_dpop_proof"),  # replayed
        ({"Authorization": f"Bearer {token}"}, "token_binding"),
        (dpop_headers(client_key, token, "GET", "http://testserver/other"), "invalid_dpop_proof"),
    ):
        with (
            pytest.raises(WebSocketDisconnect) as info,
            client.websocket_connect("/ws", headers=headers),
        ):
            pass
        assert (info.value.code, info.value.reason) == (1008, reason)


# -- Flask and WSGI ---------------------------------------------------------------------------


def run_flask(app: Flask, table: list[Case]) -> None:
    client = app.test_client(use_cookies=False)
    for case in table:
        response = client.open("/articles", method=case.method, headers=case.headers)
        check(case, response.status_code, response.headers, response.get_json())


def test_flask_decorator(issuer: LocalIssuer, client_key: jose.Key) -> None:
    """``@guard.require`` checks proofs and answers with the DPoP challenge."""
    guard = guard_for(issuer, guard_flask.Guard)
    assert isinstance(guard, guard_flask.Guard)
    app = Flask(__name__)

    @app.route("/articles", methods=["GET", "POST"])
    @guard.require("articles:read")
    def view() -> Any:
        return {"sub": guard_flask.current_principal().sub}

    run_flask(app, cases(issuer, client_key, "http://localhost/articles"))


def test_wsgi_middleware(issuer: LocalIssuer, client_key: jose.Key) -> None:
    """The WSGI middleware checks proofs and answers with the DPoP challenge."""

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        principal = principal_from_environ(environ)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"sub": None if principal is None else principal.sub}).encode()]

    app = Flask(__name__)
    middleware = GuardWSGIMiddleware(inner, guard_for(issuer), scopes=["articles:read"])
    app.wsgi_app = middleware  # type: ignore[method-assign]
    run_flask(app, cases(issuer, client_key, "http://localhost/articles"))


def test_wsgi_two_dpop_headers_are_refused(issuer: LocalIssuer, client_key: jose.Key) -> None:
    """Two DPoP headers reach WSGI joined by a comma; they are refused as two, not parsed."""
    app = Flask(__name__)
    app.wsgi_app = GuardWSGIMiddleware(lambda e, s: [], guard_for(issuer))  # type: ignore[method-assign]
    token = issuer.make_token(bound_to=client_key)
    url = "http://localhost/articles"
    first, second = (
        dpop_headers(client_key, token, "GET", url),
        dpop_headers(client_key, token, "GET", url),
    )
    headers = [
        ("Authorization", first["Authorization"]),
        ("DPoP", first["DPoP"]),
        ("DPoP", second["DPoP"]),
    ]
    response = app.test_client(use_cookies=False).get("/articles", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["dpop_check"] == "header"


# -- the request's URI from what an attacker sends, through every adapter ----------------------
#
# Each case is one request as the server hands it to the app: the Host header, the raw target
# (None: a server that gives none, so the adapter has only the decoded path) and the decoded
# path, with a proof for ``htu``. The attacks were accepted before: the Host or the target
# chose the URI, or a decoded "#"/"?" cut it short. The honest cases keep working.


class Target(NamedTuple):
    """One request's URI parts and the proof's htu; ``ok``: it must be accepted."""

    name: str
    host: str
    raw: str | None
    path: str
    htu: str
    ok: bool


TARGETS = [
    Target("Host with a path and a fragment", "other.example/public#", "/admin", "/admin",
           "https://other.example/public", False),
    Target("Host with a path and a query", "api.example/public?", "/admin", "/admin",
           "https://api.example/public", False),
    Target("Host with userinfo", "evil.example@api.example", "/admin", "/admin",
           "https://api.example/admin", False),
    Target("target glued onto the host", "api.example", ".evil.example/x", ".evil.example/x",
           "https://api.example.evil.example/x", False),
    Target("decoded %23 cuts the path", "api.example", "/files%23/../secret",
           "/files#/../secret", "https://api.example/files", False),
    Target("decoded %3F cuts the path", "api.example", "/files%3Fx/secret", "/files?x/secret",
           "https://api.example/files", False),
    Target("decoded %23, no raw target", "api.example", None, "/files#/../secret",
           "https://api.example/files", False),
    Target("decoded %3F, no raw target", "api.example", None, "/files?x/secret",
           "https://api.example/files", False),
    Target("raw # in the target", "api.example", "/files#/../secret", "/files#/../secret",
           "https://api.example/files", False),
    Target("honest %3F", "api.example", "/a%3Fb", "/a?b", "https://api.example/a%3Fb", True),
    Target("honest %25", "api.example", "/a%25b", "/a%b", "https://api.example/a%25b", True),
    Target("honest %3F, no raw target", "api.example", None, "/a?b",
           "https://api.example/a%3Fb", True),
    Target("honest %25, no raw target", "api.example", None, "/a%b",
           "https://api.example/a%25b", True),
    Target("honest IPv6 host", "[::1]:8443", "/a", "/a", "https://[::1]:8443/a", True),
]  # fmt: skip


def target_headers(issuer: LocalIssuer, key: jose.Key, target: Target) -> list[tuple[str, str]]:
    """Host, Authorization and DPoP headers of ``target`` (a fresh proof for its htu)."""
    token = issuer.make_token(sub="7", scope="articles:read", bound_to=key)
    return [("host", target.host), *dpop_headers(key, token, "GET", target.htu).items()]


async def asgi_target(app: Any, kind: str, headers: list[tuple[str, str]], target: Target) -> Any:
    """Drive one ASGI request or handshake by hand: 200 / the refusal's dpop_check for HTTP,
    "accept" / the close reason for a WebSocket."""
    sent: list[Any] = []
    incoming = [{"type": "websocket.connect" if kind == "websocket" else "http.request"},
                {"type": "websocket.disconnect", "code": 1000}]  # fmt: skip

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": kind, "scheme": "wss" if kind == "websocket" else "https", "path": target.path,
        "query_string": b"", "root_path": "", "http_version": "1.1", "method": "GET",
        "headers": [(n.lower().encode(), v.encode("latin-1")) for n, v in headers],
        "server": ("127.0.0.1", 443), "client": ("127.0.0.1", 50000),
    }  # fmt: skip
    if target.raw is not None:
        scope["raw_path"] = target.raw.encode("latin-1")
    await app(scope, receive, send)
    if kind == "websocket":
        return "accept" if sent[0]["type"] == "websocket.accept" else sent[0]["reason"]
    status = sent[0]["status"]
    return 200 if status == 200 else json.loads(sent[-1]["body"]).get("dpop_check", status)


def wsgi_target(app: Any, headers: list[tuple[str, str]], target: Target) -> Any:
    """One WSGI request: 200, or the refusal's dpop_check."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    environ.update({"wsgi.url_scheme": "https", "PATH_INFO": target.path, "SCRIPT_NAME": ""})
    environ.pop("REQUEST_URI", None)
    environ.pop("RAW_URI", None)
    if target.raw is not None:
        environ["REQUEST_URI"] = environ["RAW_URI"] = target.raw
    status: list[str] = []
    body = b"".join(app(environ, lambda line, _headers, *_: status.append(line)))
    if status[0].startswith("200"):
        return 200
    return json.loads(body).get("dpop_check", status[0])


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that accepts whatever the middleware let through."""
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def catch_all_fastapi(guard: guard_fastapi.Guard) -> FastAPI:
    app = FastAPI()
    guard.install(app)
    dependency = guard.require("articles:read")

    @app.get("/{rest:path}")
    async def anything(user: Annotated[Principal, Depends(dependency)]) -> Any:
        return {"sub": user.sub}

    @app.websocket("/{rest:path}")
    async def socket(websocket: WebSocket, user: Annotated[Principal, Depends(dependency)]) -> None:
        await websocket.accept()
        await websocket.close()

    return app


def catch_all_flask(guard: guard_flask.Guard) -> Flask:
    app = Flask(__name__)

    @app.route("/", defaults={"rest": ""})
    @app.route("/<path:rest>")
    @guard.require("articles:read")
    def anything(rest: str) -> Any:
        return {"sub": guard_flask.current_principal().sub}

    return app


def expected(target: Target, kind: str) -> Any:
    if kind == "websocket":
        return "accept" if target.ok else "invalid_dpop_proof"
    return 200 if target.ok else "htu"


@pytest.mark.anyio
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_asgi_uri_comes_from_a_checked_host_and_the_whole_path(
    target: Target, kind: str, issuer: LocalIssuer, client_key: jose.Key
) -> None:
    """The ASGI middleware (HTTP and WebSocket handshake) refuses a Host or target that
    would choose the URI, and a "#" or "?" in the path cuts nothing off."""
    app = GuardMiddleware(ok_app, guard_for(issuer), scopes=["articles:read"])
    headers = target_headers(issuer, client_key, target)
    assert await asgi_target(app, kind, headers, target) == expected(target, kind)


@pytest.mark.anyio
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_fastapi_uri_comes_from_a_checked_host_and_the_whole_path(
    target: Target, kind: str, issuer: LocalIssuer, client_key: jose.Key
) -> None:
    """The FastAPI dependency (HTTP and WebSocket) makes the same checks. A target not
    starting with "/" matches no route there (404, or a closed socket), so it only must not
    get in."""
    app = catch_all_fastapi(guard_for(issuer, guard_fastapi.Guard))  # type: ignore[arg-type]
    headers = target_headers(issuer, client_key, target)
    answer = await asgi_target(app, kind, headers, target)
    if target.path.startswith("/"):
        assert answer == expected(target, kind)
    else:
        assert answer not in (200, "accept")


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_flask_uri_comes_from_a_checked_host_and_the_whole_path(
    target: Target, issuer: LocalIssuer, client_key: jose.Key
) -> None:
    """The Flask decorator: the raw target (REQUEST_URI) when the server gives one, else
    PATH_INFO with its "%", "?" and "#" encoded again."""
    app = catch_all_flask(guard_for(issuer, guard_flask.Guard))  # type: ignore[arg-type]
    headers = target_headers(issuer, client_key, target)
    assert wsgi_target(app, headers, target) == expected(target, "http")


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_wsgi_uri_comes_from_a_checked_host_and_the_whole_path(
    target: Target, issuer: LocalIssuer, client_key: jose.Key
) -> None:
    """The WSGI middleware makes the same checks."""

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    app = GuardWSGIMiddleware(inner, guard_for(issuer), scopes=["articles:read"])
    headers = target_headers(issuer, client_key, target)
    assert wsgi_target(app, headers, target) == expected(target, "http")


def test_uvicorn_h11_target_and_host_attacks_over_a_socket(
    issuer: LocalIssuer, client_key: jose.Key
) -> None:
    """The same attacks as raw bytes to uvicorn's h11 server (which hands ``.evil.example/x``
    and a "#" in the target to the app as they came): refused; an honest request passes."""
    import socket as sockets
    import threading

    import uvicorn
    from tests.browser_support import wait_for_port
    from tests.serve_process import free_port

    app = GuardMiddleware(ok_app, guard_for(issuer), scopes=["articles:read"])
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http="h11", ws="none",
                            lifespan="off", log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    token = issuer.make_token(sub="7", scope="articles:read", bound_to=client_key)

    def status(target: str, host: str, htu: str) -> bytes:
        proof = dpop_headers(client_key, token, "GET", htu)["DPoP"]
        with sockets.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: DPoP {token}"
                         f"\r\nDPoP: {proof}\r\nConnection: close\r\n\r\n".encode())  # fmt: skip
            return conn.recv(64).split(b"\r\n")[0]

    try:
        wait_for_port(port)
        assert status(".evil.example/x", "api.example", "http://api.example.evil.example/x") == (
            b"HTTP/1.1 401 Unauthorized"
        )
        assert status("/admin", "other.example/public#", "http://other.example/public") == (
            b"HTTP/1.1 401 Unauthorized"
        )
        assert status("/files#/../secret", "api.example", "http://api.example/files") == (
            b"HTTP/1.1 401 Unauthorized"
        )
        assert status("/a%3Fb", "api.example", "http://api.example/a%3Fb") == b"HTTP/1.1 200 OK"
    finally:
        server.should_exit = True
        thread.join(10)
