"""Redis frozen, killed and brought back under a real ``jotauth serve`` (issue 13.6, 13.7).

Each test starts its own Redis (``tests.outage``); the shared one on 6379 is never touched.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.outage import (
    SERVICE_TOKEN,
    PrivateRedis,
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


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with time_limit(120), private_redis() as server:
        yield server


@pytest.fixture
def server(redis_server: PrivateRedis, tmp_path: Path) -> Iterator[ServeProcess]:
    env = serve_env(f"sqlite:///{tmp_path / 'jotauth.db'}", JOTAUTH_REDIS_URL=redis_server.url)
    with running_serve(tmp_path, "--demo", env=env) as served:
        yield served


def _cycle(client: httpx.Client) -> dict[str, float]:
    """Login, refresh, logout; the seconds each took."""
    took: dict[str, float] = {}
    start = time.monotonic()
    pair = client.post("/login", json=JOHN)
    took["login"] = time.monotonic() - start
    assert pair.status_code == 200, pair.text
    start = time.monotonic()
    rotated = client.post("/refresh", json={"refresh_token": pair.json()["refresh_token"]})
    took["refresh"] = time.monotonic() - start
    assert rotated.status_code == 200, rotated.text
    start = time.monotonic()
    bearer = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    out = client.post("/logout", headers=bearer)
    took["logout"] = time.monotonic() - start
    assert out.status_code == 200, out.text
    return took


def test_frozen_redis_costs_one_timeout_not_one_per_request(
    redis_server: PrivateRedis, server: ServeProcess
) -> None:
    """Redis stopped by SIGSTOP: after the first timeouts, logins, refreshes and logouts are as
    fast as with Redis dead, and the rate limiter logs the outage once (was: 6 s / 4 s / 2 s
    per request, and an ERROR line per request)."""
    with httpx.Client(base_url=server.base, timeout=30) as client:
        _cycle(client)
        redis_server.freeze()
        try:
            _cycle(client)  # pays each client's first timeout (2 s)
            rounds = [_cycle(client) for _ in range(3)]
        finally:
            redis_server.thaw()
        for took in rounds:
            assert max(took.values()) < 0.5, rounds
    log = server.output()
    assert log.count("rate limit store unavailable") == 1, log
    assert log.count("Redis (revocation push) unavailable") == 1, log
    assert "ERROR" not in log
    assert "Traceback" not in log


def test_logouts_while_redis_is_down_reach_a_guard_through_the_feed(
    redis_server: PrivateRedis, server: ServeProcess
) -> None:
    """A guard following Redis and the feed misses nothing across a Redis outage: every token
    logged out while Redis was down, or just after it came back, is refused within seconds."""
    redis_source = RedisRevocationSource(redis_server.url)
    feed = RevocationFeed(f"{server.base}/revocations", service_token=SERVICE_TOKEN, interval=1.0)
    guard = Guard(
        issuer=server.base,
        audience="jotauth",
        jwks_url=f"{server.base}/.well-known/jwks.json",
        algorithms=["EdDSA"],
        revocation=RevocationSources(redis_source, feed),
    )
    guard.start()
    try:
        assert redis_source.subscribed.wait(10)
        with httpx.Client(base_url=server.base, timeout=30) as client:
            tokens = [client.post("/login", json=JOHN).json()["access_token"] for _ in range(6)]
            for token in tokens:
                guard.authenticate_sync(token)  # valid before the logouts
            redis_server.kill()
            for token in tokens[:3]:
                bearer = {"Authorization": f"Bearer {token}"}
                assert client.post("/logout", headers=bearer).status_code == 200
            redis_server.start()
            for token in tokens[3:]:
                bearer = {"Authorization": f"Bearer {token}"}
                assert client.post("/logout", headers=bearer).status_code == 200
        wait_until_refused(guard, tokens, 10)  # two feed polls, with room for a slow machine
    finally:
        guard.close()
