"""A real ``jotauth serve`` process with two workers on 127.0.0.1, limits shared through Redis.

This is the deployment the brute-force policy promises to hold in: several workers, each its
own process, answering one client in turn. The sixth failure is refused whichever worker gets
it, because the counts live in Redis; headers, CORS, metrics and browser mode are checked over
a real socket.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.serve_process import CHEAP_ARGON2, running_serve

pytestmark = [pytest.mark.slow, pytest.mark.redis]

APP_ORIGIN = "http://localhost:5173"


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jotauth serve --demo --workers 2`` with hardening configured through the environment."""
    folder: Path = tmp_path_factory.mktemp("serve")
    env = {
        **CHEAP_ARGON2,
        "JOTAUTH_DATABASE_URL": f"sqlite:///{folder / 'jotauth.db'}",
        "JOTAUTH_RATELIMIT_REDIS_URL": redis_url,
        "JOTAUTH_RATELIMIT_IP_BURST": "1000",
        "JOTAUTH_CORS_ORIGINS": APP_ORIGIN,
        "JOTAUTH_COOKIE_MODE": "on",
        "JOTAUTH_REGISTRATION_OPEN": "true",
        "JOTAUTH_METRICS_TOKEN": "scrape-me",
    }
    with running_serve(folder, "--demo", "--workers", "2", env=env) as served:
        yield served.base


def test_two_workers_share_the_account_lockout(server: str) -> None:
    """Five failures spread over two workers lock the account on both; new connections each."""
    name = f"ghost-{uuid.uuid4().hex[:12]}"
    codes = []
    for _ in range(7):
        # A new connection per attempt, so the kernel spreads them over both workers.
        r = httpx.post(server + "/login", json={"username": name, "password": "x"}, timeout=10)
        codes.append(r.status_code)
    assert codes == [401] * 5 + [429, 429]


def test_two_workers_share_registration_and_refresh_limits(server: str) -> None:
    """Sign-ups for one name and failed refreshes of one user add up across both workers."""
    name = f"newcomer-{uuid.uuid4().hex[:12]}"
    codes = [
        httpx.post(server + "/register", json={"username": name, "password": "x"}).status_code
        for _ in range(7)
    ]
    assert codes == [400] * 5 + [429, 429]

    user = {"username": f"member-{uuid.uuid4().hex[:12]}", "password": "member-password-1"}
    assert httpx.post(server + "/register", json=user).status_code == 201
    live = httpx.post(server + "/login", json=user).json()["refresh_token"]
    dead = []
    for _ in range(5):
        pair = httpx.post(server + "/login", json=user).json()
        bearer = {"Authorization": f"Bearer {pair['access_token']}"}
        assert httpx.post(server + "/logout", headers=bearer).status_code == 200
        dead.append(pair["refresh_token"])
    replays = [
        httpx.post(server + "/refresh", json={"refresh_token": token}).status_code for token in dead
    ]
    assert replays == [401] * 5
    for _ in range(2):
        r = httpx.post(server + "/refresh", json={"refresh_token": live})
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 900


def test_real_socket_headers_cors_and_metrics(server: str) -> None:
    """Preflight granted for the configured origin; security headers and /metrics served."""
    preflight = httpx.options(
        server + "/login",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-token-delivery",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    evil = httpx.options(
        server + "/login",
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in evil.headers
    login = httpx.post(server + "/login", json={"username": "john", "password": "password123"})
    assert login.status_code == 200
    assert login.headers["cache-control"] == "no-store"
    assert login.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(server + "/metrics").status_code == 401
    metrics = httpx.get(server + "/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert metrics.status_code == 200
    assert "jotauth_http_request_duration_seconds" in metrics.text


def test_demo_browser_mode_over_plain_http(server: str) -> None:
    """A demo server on http:// sets cookies a browser keeps there (no Secure, no prefix)."""
    with httpx.Client(base_url=server) as c:
        r = c.post(
            "/login",
            json={"username": "john", "password": "password123"},
            headers={"X-Token-Delivery": "cookie"},
        )
        assert r.status_code == 200
        access = next(h for h in r.headers.get_list("set-cookie") if h.startswith("access_token="))
        assert "HttpOnly" in access
        assert "Secure" not in access
        assert c.get("/profile").json() == {"message": "Welcome, john!"}
        csrf = r.json()["csrf_token"]
        assert c.post("/logout").status_code == 403
        assert c.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert c.get("/profile").status_code == 401


def test_a_huge_declared_length_at_login_is_refused_at_once(server: str) -> None:
    """``Content-Length: 1000000000`` at /login answers 413 before any byte of body is sent;
    the rate-limit middleware used to buffer it first and hold the connection open."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(server)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 5) as sock:
        sock.settimeout(5)
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n"
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head[:80]


def test_undecodable_field_gets_no_guess_past_a_lock_on_two_workers(server: str) -> None:
    """The review's bypass over real sockets and Redis: a form with ``&x=%ff`` appended is
    refused (400 invalid_request, RFC 6749 appendix B) before any password is checked, on
    every worker, before and during a lock; the lock of five plain failures holds on all."""
    name = f"bypass{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=server) as admin:
        r = admin.post("/register", json={"username": name, "password": "long enough password"})
        assert r.status_code == 201, r.text
    form = f"grant_type=password&username={name}&password="
    right = form + "long%20enough%20password"
    headers = {"content-type": "application/x-www-form-urlencoded"}

    def post(body: str) -> httpx.Response:
        with httpx.Client(base_url=server) as c:  # a new connection: any worker
            return c.post("/oauth/token", content=body, headers=headers)

    for _ in range(3):
        r = post(form + "wrong&x=%ff")
        assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    for _ in range(5):
        r = post(form + "wrong")
        assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    for _ in range(4):
        r = post(right + "&x=%ff")
        assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
        assert "access_token" not in r.text
        assert post(right).status_code == 429
