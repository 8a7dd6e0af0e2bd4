"""Revocation propagation and recovery times of the auth server, with real outages.

Why: docs/issuer.md promises, per dependency, what happens when it is slow, down or back; these
are the figures behind it. Measured:

- ``propagation redis``: logout sent -> a guard subscribed to Redis refuses the token (the
  push happens before the logout answers, so this is mostly the logout's own time);
- ``propagation feed``: logout sent -> a guard polling the feed (every 1 s) refuses it;
- ``recover postgres kill``: PostgreSQL restarted (accepting queries) -> first login 200;
- ``recover postgres freeze``: SIGCONT -> first login 200;
- ``recover redis kill``: Redis restarted -> first revocation pushed to a subscribed guard
  (the guard's re-subscribe backoff and the publisher's breaker cool-down both count).

How: one ``jotauth serve`` (one worker) on a private PostgreSQL and a private Redis started by
this script (``tests/outage.py``; the shared servers are never touched), driven over
127.0.0.1. The guard checks its revocation view every millisecond, so propagation is resolved
to about 1 ms. Database timeouts are the test ones (``JOTAUTH_DB_*=2``).

Run from the repository root: ``.venv/bin/python bench/outage.py`` (about a minute);
``--logouts N`` for more samples, ``--recoveries N`` for more outages.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.outage import (  # noqa: E402 - after the path is set
    SERVICE_TOKEN,
    private_postgres,
    private_redis,
    serve_env,
)
from tests.serve_process import running_serve  # noqa: E402

from jotauth.guard import Guard, RevocationFeed, RevokedTokenError  # noqa: E402
from jotauth.guard.redis_source import RedisRevocationSource  # noqa: E402

JOHN = {"username": "john", "password": "password123"}


def _guard(base: str, source: object) -> Guard:
    guard = Guard(
        issuer=base,
        audience="jotauth",
        jwks_url=f"{base}/.well-known/jwks.json",
        algorithms=["EdDSA"],
        revocation=source,  # type: ignore[arg-type]
    )
    guard.start()
    return guard


def _refused(guard: Guard, token: str) -> bool:
    try:
        guard.authenticate_sync(token)
    except RevokedTokenError:
        return True
    return False


def _propagation(client: httpx.Client, guard: Guard, count: int) -> list[float]:
    """Seconds from sending each logout until the guard refuses its token."""
    samples = []
    for _ in range(count):
        token = client.post("/login", json=JOHN).json()["access_token"]
        assert not _refused(guard, token)
        # At a random phase of the feed's poll: a steady pace would lock onto it.
        time.sleep(random.uniform(0, 1.0))
        sent = time.perf_counter()
        client.post("/logout", headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        while not _refused(guard, token):
            if time.perf_counter() - sent > 30:
                raise RuntimeError("a logout never reached the guard")
            time.sleep(0.001)
        samples.append(time.perf_counter() - sent)
    return samples


def _until(check: Callable[[], bool], limit: float = 60) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > limit:
            raise RuntimeError("no recovery")
        time.sleep(0.01)
    return time.perf_counter() - start


def _login_ok(client: httpx.Client) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return client.post("/login", json=JOHN).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _quantiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logouts", type=int, default=50, help="samples per propagation path")
    parser.add_argument("--recoveries", type=int, default=3, help="outages per recovery figure")
    args = parser.parse_args()

    rows: list[tuple[str, list[float]]] = []
    with private_postgres() as pg, private_redis() as redis, tempfile.TemporaryDirectory() as d:
        env = serve_env(pg.url, JOTAUTH_REDIS_URL=redis.url, JOTAUTH_RATELIMIT_ENABLED="false")
        with running_serve(Path(d), "--demo", env=env) as server:
            client = httpx.Client(base_url=server.base, timeout=30)
            redis_source = RedisRevocationSource(redis.url)
            via_redis = _guard(server.base, redis_source)
            redis_source.subscribed.wait(10)
            rows.append(("propagation redis", _propagation(client, via_redis, args.logouts)))
            feed = RevocationFeed(
                f"{server.base}/revocations", service_token=SERVICE_TOKEN, interval=1.0
            )
            via_feed = _guard(server.base, feed)
            rows.append(("propagation feed", _propagation(client, via_feed, args.logouts)))
            via_feed.close()

            kills, freezes, redis_kills = [], [], []
            for _ in range(args.recoveries):
                pg.kill()
                time.sleep(2)
                pg.start()
                kills.append(_until(_login_ok(client)))
                pg.freeze()
                time.sleep(3)
                pg.thaw()
                freezes.append(_until(_login_ok(client)))
                redis.kill()
                time.sleep(2)
                redis.start()
                start = time.perf_counter()

                def pushed() -> bool:
                    # A new logout per try: a push lost while the guard re-subscribes is not
                    # re-sent (the feed covers it, but this guard follows Redis only).
                    token = client.post("/login", json=JOHN).json()["access_token"]
                    client.post("/logout", headers={"Authorization": f"Bearer {token}"})
                    deadline = time.perf_counter() + 0.2
                    while time.perf_counter() < deadline:
                        if _refused(via_redis, token):
                            return True
                        time.sleep(0.005)
                    return False

                _until(pushed)
                redis_kills.append(time.perf_counter() - start)
            rows.append(("recover postgres kill", kills))
            rows.append(("recover postgres freeze", freezes))
            rows.append(("recover redis kill", redis_kills))
            via_redis.close()
            client.close()

    load = os.getloadavg()[0]
    commit = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"commit {commit}, load average {load:.2f}, {time.strftime('%Y-%m-%d')}")
    print("| figure | samples | p50 | p99 | max |")
    print("| --- | --- | --- | --- | --- |")
    for name, samples in rows:
        p50, p99, most = _quantiles(samples)
        print(
            f"| {name} | {len(samples)} | {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms "
            f"| {most * 1000:.1f} ms |"
        )


if __name__ == "__main__":
    main()
