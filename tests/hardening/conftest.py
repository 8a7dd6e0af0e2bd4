"""A small stand-in auth app for testing the hardening middleware in isolation.

The real issuer is exercised in ``test_issuer_integration.py``; here a minimal FastAPI app
with the same HTTP contract (login, refresh, logout, /me, events on ``app.state.events``)
lets each middleware be tested on its own, fast, with no database.
"""

import contextlib
import hashlib
import inspect
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from jotauth.issuer.events import AuthEvent, EventType
from jotauth.issuer.hardening import install_hardening
from jotauth.issuer.settings import Settings


def Event(
    type: str,
    outcome: str,
    user_id: str | None = None,
    username: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuthEvent:
    """A real AuthEvent, as the issuer emits it."""
    return AuthEvent(
        EventType(type), outcome, user_id, username, ip, user_agent, detail or {}, time.time()
    )


class Bus:
    """Same contract as jotauth.issuer.events.EventBus: subscribers may be sync or async."""

    def __init__(self) -> None:
        self.subscribers: list[Callable[[Any], Any]] = []

    def subscribe(self, callback: Callable[[Any], Any]) -> None:
        self.subscribers.append(callback)

    async def emit(self, event: Any) -> None:
        for callback in self.subscribers:
            result = callback(event)
            if inspect.isawaitable(result):
                await result


USERS = {"john": "password123"}


def build_app(settings: Settings) -> FastAPI:
    app = FastAPI()
    bus = Bus()
    app.state.events = bus
    refresh_tokens: dict[str, str] = {}
    access_tokens: dict[str, str] = {}

    def pair(username: str) -> dict[str, Any]:
        access = (
            "eyJhbGciOiJFZERTQSJ9." + secrets.token_urlsafe(16) + "." + secrets.token_urlsafe(8)
        )
        refresh = secrets.token_urlsafe(32)
        access_tokens[access] = username
        refresh_tokens[refresh] = username
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 900,
            "refresh_token": refresh,
            "refresh_expires_in": 3600,
        }

    def ip(request: Request) -> str | None:
        return request.client.host if request.client else None

    @app.post("/login")
    async def login(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = await request.json()
        else:
            data = dict(await request.form())
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        if USERS.get(username) != password:
            await bus.emit(Event("login_failed", "failure", username=username, ip=ip(request)))
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "bad username or password"}, 401
            )
        await bus.emit(Event("login_succeeded", "success", username=username, ip=ip(request)))
        return JSONResponse(pair(username))

    @app.post("/refresh")
    async def refresh(request: Request) -> JSONResponse:
        data = await request.json()
        username = refresh_tokens.pop(str(data.get("refresh_token")), None)
        if username is None:
            return JSONResponse({"error": "invalid_grant", "error_description": "bad token"}, 401)
        await bus.emit(Event("token_refreshed", "success", username=username))
        return JSONResponse(pair(username))

    def who(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return access_tokens.get(token) if scheme.lower() == "bearer" else None

    @app.get("/me")
    async def me(request: Request) -> JSONResponse:
        user = who(request)
        if user is None:
            return JSONResponse({"error": "invalid_token", "jotauth_code": "bad_signature"}, 401)
        return JSONResponse({"username": user})

    @app.post("/logout")
    async def logout(request: Request) -> JSONResponse:
        user = who(request)
        if user is None:
            return JSONResponse({"error": "invalid_token"}, 401)
        await bus.emit(Event("logout", "success", username=user))
        return JSONResponse({"ok": True})

    @app.post("/register")
    async def register(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"size": len(body), "sha": hashlib.sha256(body).hexdigest()}, 201)

    @app.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse({"keys": []}, headers={"Cache-Control": "public, max-age=300"})

    install_hardening(app, settings)
    return app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client(
    app: FastAPI, ip: str = "203.0.113.7", base: str = "https://auth.test"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url=base
    )


@pytest.fixture
def make_app() -> Callable[..., FastAPI]:
    """Build the stand-in app with the given Settings (keyword overrides)."""

    def _make(**overrides: Any) -> FastAPI:
        return build_app(Settings(**overrides))

    return _make


@pytest.fixture
def make_client() -> Callable[..., httpx.AsyncClient]:
    """An in-process client for an app, with a chosen peer IP."""
    return client


class Receiver:
    """A real webhook receiver on 127.0.0.1: records POSTs, can fail or stall on purpose."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        self.status = 500
        self.delay = 0.0
        self.got = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(receiver.status)
                    self.end_headers()
                    return
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.got.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.attempts = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Any:
    """A webhook receiver listening on a free 127.0.0.1 port."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def make_issuer(tmp_path: Any) -> Any:
    """The real auth server (SQLite file, john / password123) with the given Settings overrides.

    The brute-force limits live in the issuer's use cases, so they are tested on it, not on a
    stand-in.
    """
    from jotauth.issuer.app import create_app

    apps: list[Any] = []

    async def _make(database: str = "db.sqlite", **overrides: Any) -> FastAPI:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / database}",
            issuer="https://auth.test",
            audience="jotauth",
            mode="production",
            master_key=bytes(range(32)),
            argon2_time_cost=1,
            argon2_memory_cost=64,
            argon2_parallelism=1,
            registration_open=True,
            **overrides,
        )
        app = create_app(settings)
        apps.append(app)
        from jotauth.issuer.errors import ConflictError

        with contextlib.suppress(ConflictError):
            await app.state.auth.create_user("john", "password123")
        return app

    yield _make
    for app in apps:
        app.state.store.close()
