"""Login and refresh throughput and latency of the auth server, on SQLite and PostgreSQL.

Why: Keycloak sizes a vCPU at about 120 refreshes/s and 15 password logins/s; jotauth aims far
ahead of that, as shipped (audit trail, audit log, metrics and rate limits on). This script
measures, for each database:

- ``hash``: one Argon2id verification at the configured cost (the floor under every login);
- ``login``: POST /login through the whole app (FastAPI, the middleware, the limits, Argon2id
  verify, a new session row, an EdDSA-signed access token, the audit row and log line);
- ``refresh``: POST /refresh through the whole app (lookup by hash, the guarded rotation, a
  new access token, the audit row and log line);
- ``client_credentials``: POST /oauth/token with ``client_secret_basic`` (the client read,
  a SHA-256 of the secret, an EdDSA-signed service token; no database write);
- ``introspect``: POST /oauth/introspect of a service token by a resource server client
  (its client read, the signature check, the revocation read, the token client's read);

each as requests per second, p50 and p99 latency, this process's CPU time per request (all
threads: the figure a loaded machine disturbs least), and the SQL statements and commits a
request makes (counted with a SQLAlchemy ``before_cursor_execute`` listener in a separate,
untimed pass, so the count costs the timing nothing).

How: the app runs in this process (one worker, as ``jotauth serve --workers 1``), driven over
``httpx.ASGITransport`` by ``--concurrency`` tasks for ``--seconds``; each refresh task keeps
rotating its own session, as real clients do. The client's own cost is included, so the
figures are a lower bound of what a uvicorn worker would serve.

``--profile shipped`` (the default) keeps every default but one: the per-address window
(``JOTAUTH_RATELIMIT_IP_BURST``/``_RATE``, 20 per 40 s) is raised to a billion, because
every simulated client here is 127.0.0.1 and would otherwise be refused after 20 requests. The
window is still consulted on every request (the limiter's cost is measured); the per-account
and per-session limits, which count failures only, keep their defaults. The audit log's lines
go to a handler writing to ``os.devnull`` (as to a log shipper: formatted and written).
``--profile bare`` switches the limits, the audit log and the metrics off.

The script imports only ``create_app``, ``Settings`` and ``PasswordService``, so the same
file drives an older checkout: run it with ``PYTHONPATH=<checkout>/src`` to compare two
versions, alternated (docs/benchmarks.md).

Run from the repository root: ``.venv/bin/python bench/issuer.py`` (about a minute);
``--quick`` for a smoke run; ``--database sqlite`` where there is no PostgreSQL server;
``--json`` for one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import sqlalchemy as sa

from jotauth.issuer.app import create_app
from jotauth.issuer.services.clients import ClientSpec
from jotauth.issuer.services.passwords import PasswordService
from jotauth.issuer.settings import Settings

PG_URL = os.environ.get(
    "JOTAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CREDENTIALS = {"username": "bench", "password": "bench-pass"}


def _settings(url: str, args: argparse.Namespace) -> Settings:
    if args.profile == "bare":
        profile: dict[str, Any] = {
            "ratelimit_enabled": False,
            "audit_log": False,
            "metrics_enabled": False,
        }
    else:  # every simulated client is 127.0.0.1: see the module docstring
        profile = {"ip_burst": 10**9, "ip_rate": 10.0**9}
    return Settings(
        database_url=url,
        master_key=secrets.token_bytes(32),
        issuer="http://bench",
        argon2_time_cost=args.argon2_t,
        argon2_memory_cost=args.argon2_m,
        argon2_parallelism=args.argon2_p,
        **profile,
    )


def _basic(client_id: str, secret: str | None) -> dict[str, str]:
    import base64

    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def _clients(app: Any) -> None:
    """A service (client_credentials) and a resource server (introspects its tokens)."""
    clients = app.state.clients
    service, secret = await clients.register(
        ClientSpec(
            "bench-service",
            scopes=("reports:read",),
            audiences=("reports",),
            tier="gold",
            rate_limit=600,
        )
    )
    resource, resource_secret = await clients.register(
        ClientSpec("bench-resource", audiences=("reports",))
    )
    HEADERS["service"] = _basic(service.client_id, secret)
    HEADERS["resource"] = _basic(resource.client_id, resource_secret)


HEADERS: dict[str, dict[str, str]] = {}


async def _sessions(client: httpx.AsyncClient, count: int, op: str = "refresh") -> list[str]:
    """What each worker starts with: a refresh token, or a service token to introspect."""
    tokens = []
    for _ in range(count):
        if op == "introspect":
            r = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                headers=HEADERS["service"],
            )
            tokens.append(r.json()["access_token"])
        else:
            r = await client.post("/login", json=CREDENTIALS)
            tokens.append(r.json()["refresh_token"])
    return tokens


async def _one(client: httpx.AsyncClient, op: str, tokens: list[str], i: int) -> None:
    if op == "login":
        r = await client.post("/login", json=CREDENTIALS)
    elif op == "client_credentials":
        r = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, headers=HEADERS["service"]
        )
    elif op == "introspect":
        r = await client.post(
            "/oauth/introspect", data={"token": tokens[i]}, headers=HEADERS["resource"]
        )
        if r.status_code == 200 and r.json().get("active") is not True:
            raise SystemExit("introspect: the token is not active")
    else:
        r = await client.post("/refresh", json={"refresh_token": tokens[i]})
    if r.status_code != 200:
        raise SystemExit(f"{op} failed: {r.status_code} {r.text}")
    if op == "refresh":
        tokens[i] = r.json()["refresh_token"]


async def _timed(app: Any, op: str, seconds: float, concurrency: int) -> dict[str, float]:
    transport = httpx.ASGITransport(app=app)
    latencies: list[float] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        tokens = await _sessions(client, concurrency, op)
        deadline = time.perf_counter() + seconds
        start, cpu = time.perf_counter(), time.process_time()

        async def worker(i: int) -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await _one(client, op, tokens, i)
                latencies.append(time.perf_counter() - t0)

        async with anyio.create_task_group() as group:
            for i in range(concurrency):
                group.start_soon(worker, i)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    latencies.sort()
    return {
        "count": len(latencies),
        "per_second": len(latencies) / elapsed,
        "cpu_ms": 1000 * cpu / len(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


async def _counted(app: Any, op: str, requests: int) -> dict[str, float]:
    """Statements and commits per request, one request at a time (untimed)."""
    engine = app.state.store.engine
    seen = {"statements": 0, "commits": 0}

    def statement(*_args: Any) -> None:
        seen["statements"] += 1

    def commit(*_args: Any) -> None:
        seen["commits"] += 1

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        tokens = await _sessions(client, 1, op)
        await _one(client, op, tokens, 0)  # warm: the key ring's check, prepared statements
        sa.event.listen(engine, "before_cursor_execute", statement)
        sa.event.listen(engine, "commit", commit)
        try:
            for _ in range(requests):
                await _one(client, op, tokens, 0)
        finally:
            sa.event.remove(engine, "before_cursor_execute", statement)
            sa.event.remove(engine, "commit", commit)
    return {name: value / requests for name, value in seen.items()}


def _hash_ms(args: argparse.Namespace) -> tuple[float, float]:
    """Median wall and CPU milliseconds of one Argon2id verification, as a login does it."""
    service = PasswordService(
        time_cost=args.argon2_t, memory_cost=args.argon2_m, parallelism=args.argon2_p
    )
    stored = service.hash_sync(CREDENTIALS["password"])
    wall, cpu = [], []
    for _ in range(5 if args.quick else 15):
        t0, c0 = time.perf_counter(), time.thread_time()
        service.verify_sync(CREDENTIALS["password"], stored)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


async def _measure(app: Any, name: str, args: argparse.Namespace) -> None:
    """Every figure of one database in one event loop, as under uvicorn (the limiter's
    memory storage belongs to the loop it was first used on)."""
    await app.state.auth.create_user(**CREDENTIALS)
    await _clients(app)
    for op in args.ops.split(","):
        figures: dict[str, Any] = {"database": name, "op": op, "profile": args.profile}
        figures["concurrency"] = args.concurrency
        figures.update(await _timed(app, op, args.seconds, args.concurrency))
        figures.update(await _counted(app, op, 5 if op == "login" else 20))
        if args.json:
            print(json.dumps(figures), flush=True)
            continue
        print(
            f"{name:<9} {op:<8} {figures['per_second']:8.1f}/s  "
            f"p50 {figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
            f"CPU {figures['cpu_ms']:6.2f} ms  "
            f"{figures['statements']:.1f} statements, {figures['commits']:.1f} commits",
            flush=True,
        )


def _database(name: str, url: str, args: argparse.Namespace) -> None:
    app = create_app(_settings(url, args))
    try:
        anyio.run(_measure, app, name, args)
    finally:
        app.state.store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--quick", action="store_true", help="2 s per measurement")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--no-postgres", action="store_true", help="= --database sqlite")
    parser.add_argument(
        "--ops",
        default="login,refresh",
        help="comma-separated: login, refresh, client_credentials, introspect",
    )
    parser.add_argument("--profile", choices=("shipped", "bare"), default="shipped")
    parser.add_argument("--json", action="store_true", help="one JSON object per figure")
    parser.add_argument("--argon2-m", type=int, default=19456, help="KiB (OWASP: 19456)")
    parser.add_argument("--argon2-t", type=int, default=2, help="iterations (OWASP: 2)")
    parser.add_argument("--argon2-p", type=int, default=1, help="lanes (OWASP: 1)")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 2.0
    if args.no_postgres:
        args.database = "sqlite"
    # The audit log's lines are formatted and written, as to a log shipper, but not shown.
    audit = logging.getLogger("jotauth.audit")
    audit.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115
    audit.propagate = False
    header = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}"
    hashing = f"Argon2id m={args.argon2_m} KiB t={args.argon2_t} p={args.argon2_p}"
    wall_ms, cpu_ms = _hash_ms(args)
    if args.json:
        print(json.dumps({"op": "hash", "p50_ms": wall_ms, "cpu_ms": cpu_ms}))
    else:
        print(header)
        print(f"{hashing}: {wall_ms:.1f} ms per verification, CPU {cpu_ms:.1f} ms (medians)")
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            _database("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args)
    if args.database in ("postgres", "both"):
        schema = "bench_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(PG_URL)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            _database("postgres", f"{PG_URL}?options=-csearch_path%3D{schema}", args)
        finally:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
    if not args.json:
        print(f"load after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
