"""What the per-account refresh limit costs a refresh (not a test; run it by hand).

    .venv/bin/python tests/hardening/measure_refresh_limits.py [DATABASE_URL]

The limit must know whose session a refresh token is before rotating it: one indexed lookup
by hash (``refresh_owner``) plus the window checks, done only while some user or family is
refused (a marker says so). Three real auth servers (``create_app``, the given database or
temporary SQLite files) are driven in process over httpx ASGITransport: as shipped with no
refusal in force, as shipped while a refusal is in force (marker up: every refresh is looked
up), and with the lookup taken out (``owner_of=None``) — everything else identical, the
per-IP bucket opened wide. Rounds are interleaved and the median of the per-round medians
reported, because the machine is shared.
"""

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from typing import Any

import httpx

from jotauth.issuer.app import create_app
from jotauth.issuer.hardening.ratelimit_middleware import RateLimitMiddleware
from jotauth.issuer.settings import Settings

ROUNDS, PER_ROUND = 7, 60
MASTER = secrets.token_bytes(32)


def build(url: str, with_lookup: bool) -> Any:
    settings = Settings(
        database_url=url,
        issuer="https://auth.test",
        audience="jotauth",
        mode="production",
        master_key=MASTER,
        argon2_time_cost=1,
        argon2_memory_cost=64,
        argon2_parallelism=1,
        refresh_grace=0,
    )
    app = create_app(settings)
    if not with_lookup:
        middleware: list[Any] = app.user_middleware
        for item in middleware:
            if item.cls is RateLimitMiddleware:
                item.kwargs["owner_of"] = None
    return app


async def login(c: httpx.AsyncClient, name: str) -> str:
    r = await c.post("/login", json={"username": name, "password": "correct-horse-battery"})
    token: str = r.json()["refresh_token"]
    return token


async def one_round(c: httpx.AsyncClient, token: str) -> tuple[list[float], str]:
    times = []
    for _ in range(PER_ROUND):
        start = time.perf_counter()
        r = await c.post("/refresh", json={"refresh_token": token})
        times.append(time.perf_counter() - start)
        assert r.status_code == 200, r.text
        token = r.json()["refresh_token"]
    return times, token


async def main(url_a: str, url_b: str, url_c: str) -> None:
    os.environ["JOTAUTH_RATELIMIT_IP_BURST"] = "1000000"
    os.environ["JOTAUTH_AUDIT_LOG"] = "false"
    apps = {
        "shipped, nobody refused": build(url_a, True),
        "shipped, a refusal in force": build(url_b, True),
        "lookup taken out": build(url_c, False),
    }
    marked = apps["shipped, a refusal in force"].state.hardening.limiter.attempts
    await marked.mark("refresh-locks", 3600)
    clients, tokens = {}, {}
    for label, app in apps.items():
        name = f"m{secrets.token_hex(4)}"
        await app.state.auth.create_user(name, "correct-horse-battery")
        clients[label] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://auth.test"
        )
        tokens[label] = await login(clients[label], name)
    medians: dict[str, list[float]] = {label: [] for label in apps}
    for _ in range(ROUNDS):
        for label in apps:
            times, tokens[label] = await one_round(clients[label], tokens[label])
            medians[label].append(statistics.median(times))
    base = statistics.median(medians["lookup taken out"])
    for label in apps:
        value = statistics.median(medians[label])
        sys.stdout.write(
            f"POST /refresh {label}: {value * 1e3:.2f} ms ({(value - base) * 1e3:+.2f} ms)\n"
        )
    sys.stdout.write(
        f"({ROUNDS} interleaved rounds x {PER_ROUND} refreshes, median of round medians)\n"
    )
    for label, client in clients.items():
        await client.aclose()
        apps[label].state.store.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        asyncio.run(main(sys.argv[1], sys.argv[1], sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            urls = [f"sqlite:///{tmp}/{name}.sqlite" for name in "abc"]
            asyncio.run(main(*urls))
