"""The fault test of issue 13: three servers, one PostgreSQL, one Redis, each dependency killed,
frozen and brought back while clients log in, refresh and log out.

What users rely on, checked over real sockets on 127.0.0.1: no 500 ever; a 503 only while
PostgreSQL is out, always with ``Retry-After``; a Redis outage costs nothing visible; no
request waits longer than the configured deadlines allow; and every logout that answered 200
reaches a guard that follows Redis and the revocation feed. Bounded: a fixed schedule of
about 30 s of outages, at most ``CYCLES`` login/refresh/logout cycles per client thread.
"""

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.outage import (
    SERVICE_TOKEN,
    PrivatePostgres,
    PrivateRedis,
    private_postgres,
    private_redis,
    serve_env,
    time_limit,
    wait_until_refused,
)
from tests.serve_process import ServeProcess, running_serve

from jotauth.guard import Guard, RevocationFeed
from jotauth.guard.redis_source import RedisRevocationSource, RevocationSources

pytestmark = pytest.mark.slow

JOHN = {"username": "john", "password": "password123"}
ISSUER = "https://auth.jotauth.test"  # one issuer behind a load balancer, three instances
THREADS = 6
CYCLES = 1000
# JOTAUTH_DB_*=2 s: a pool wait (2) + a failed ping (2) + a reconnect (2), or a statement's
# client-side deadline (2 + 1) with a Redis timeout (2) before it; plus a loaded machine.
DEADLINE = 10.0


@dataclass(frozen=True)
class Call:
    path: str
    started: float
    took: float
    status: int  # 0: no HTTP answer (timeout, connection reset)
    retry_after: str | None
    error: str = ""


class Clients:
    """Client threads cycling login -> refresh -> logout over the servers, recording every call."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = bases
        self.calls: list[Call] = []
        self.logged_out: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(THREADS)
        ]

    def _call(self, client: httpx.Client, path: str, **kwargs: object) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response: httpx.Response | None = client.post(path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError:
            response = None
        call = Call(
            path,
            started,
            time.monotonic() - started,
            0 if response is None else response.status_code,
            None if response is None else response.headers.get("retry-after"),
            "" if response is None or response.status_code == 200 else response.text[:200],
        )
        with self._lock:
            self.calls.append(call)
        return response if response is not None and response.status_code == 200 else None

    def _run(self, number: int) -> None:
        clients = [httpx.Client(base_url=b, timeout=DEADLINE + 5) for b in self.bases]
        try:
            for cycle in range(CYCLES):
                if self.stop.is_set():
                    return
                first, second, third = (
                    clients[(number + cycle + k) % len(clients)] for k in range(3)
                )
                login = self._call(first, "/login", json=JOHN)
                if login is None:
                    time.sleep(0.2)
                    continue
                pair = login.json()
                rotated = self._call(
                    second, "/refresh", json={"refresh_token": pair["refresh_token"]}
                )
                if rotated is None:
                    time.sleep(0.2)
                    continue
                token = rotated.json()["access_token"]
                out = self._call(third, "/logout", headers={"Authorization": f"Bearer {token}"})
                if out is not None:
                    with self._lock:
                        self.logged_out.append(token)
                time.sleep(0.15)
        finally:
            for client in clients:
                client.close()


def _guard(base: str, redis_url: str) -> Guard:
    guard = Guard(
        issuer=ISSUER,
        audience="jotauth",
        jwks_url=f"{base}/.well-known/jwks.json",
        algorithms=["EdDSA"],
        revocation=RevocationSources(
            RedisRevocationSource(redis_url),
            RevocationFeed(f"{base}/revocations", service_token=SERVICE_TOKEN, interval=1.0),
        ),
    )
    guard.start()
    return guard


def _outages(pg: PrivatePostgres, redis: PrivateRedis) -> list[tuple[str, float, float]]:
    """Run the schedule; the (dependency, start, end) of each outage, monotonic seconds."""
    windows: list[tuple[str, float, float]] = []

    def out(name: str, begin: Callable[[], None], end: Callable[[], None], hold: float) -> None:
        start = time.monotonic()
        begin()
        time.sleep(hold)
        end()
        windows.append((name, start, time.monotonic()))
        time.sleep(2.5)

    time.sleep(2.0)
    out("redis", redis.kill, redis.start, 3.0)
    out("redis", redis.freeze, redis.thaw, 4.0)
    out("postgres", pg.kill, pg.start, 4.0)
    out("postgres", pg.freeze, pg.thaw, 4.0)
    return windows


def test_three_servers_survive_postgres_and_redis_killed_frozen_and_restarted(
    tmp_path: Path,
) -> None:
    """Zero 500s, 503 + Retry-After only while PostgreSQL is out, every wait bounded, every
    logout reaching a feed-following guard, while each dependency is killed, frozen, restarted."""
    with time_limit(120), contextlib.ExitStack() as stack:
        pg = stack.enter_context(private_postgres())
        redis = stack.enter_context(private_redis())
        servers: list[ServeProcess] = []
        for n in range(3):
            folder = tmp_path / f"server-{n}"
            folder.mkdir()
            env = serve_env(pg.url, JOTAUTH_REDIS_URL=redis.url, JOTAUTH_ISSUER=ISSUER)
            servers.append(stack.enter_context(running_serve(folder, "--demo", env=env)))
        guard = _guard(servers[0].base, redis.url)
        stack.callback(guard.close)
        clients = Clients([s.base for s in servers])
        for thread in clients.threads:
            thread.start()
        try:
            windows = _outages(pg, redis)
            time.sleep(2.0)
        finally:
            clients.stop.set()
            for thread in clients.threads:
                thread.join(DEADLINE + 10)

        calls = clients.calls
        statuses = {c.status for c in calls}
        odd = [c for c in calls if c.status not in (200, 503)]
        assert statuses <= {200, 503}, ([c.error for c in odd[:3]], odd[:3], windows)
        assert sum(c.status == 200 for c in calls) > 50
        assert any(c.status == 503 for c in calls)  # the PostgreSQL outages were seen
        assert all(c.retry_after for c in calls if c.status == 503)
        slowest = max(calls, key=lambda c: c.took)
        assert slowest.took <= DEADLINE, slowest
        pg_out = [(start, end) for name, start, end in windows if name == "postgres"]
        for call in calls:
            if call.status == 503:
                # A 503 answers a request that was in flight while PostgreSQL was out.
                assert any(
                    start - 0.1 <= call.started + call.took and call.started <= end + 3.0
                    for start, end in pg_out
                ), (call, windows)

        assert len(clients.logged_out) > 10
        wait_until_refused(guard, clients.logged_out, 15, interval=0.2)

        for server in servers:
            assert httpx.get(server.base + "/healthz", timeout=5).status_code == 200
            assert httpx.post(server.base + "/login", json=JOHN, timeout=5).status_code == 200
            log = server.output()
            assert "Traceback" not in log, log[-3000:]
            assert log.count("unavailable (") <= 8, log[-3000:]
