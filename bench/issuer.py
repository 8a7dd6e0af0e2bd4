"""Login and refresh throughput of the auth server, on SQLite and PostgreSQL, one worker.

Why: Keycloak sizes a vCPU at about 120 refreshes/s and 15 password logins/s; jotauth targets
at least 300 refreshes/s per core on SQLite. This script measures, for each database:

- ``hash``: one Argon2id hash at the configured cost (the floor under every login);
- ``login``: POST /login through the whole app (FastAPI, Argon2id verify, a new session row,
  an EdDSA-signed access token, the audit row);
- ``refresh``: POST /refresh through the whole app (lookup by hash, the guarded rotation write,
  a new access token, the audit row);
- ``client_credentials``: POST /oauth/token with ``client_secret_basic`` (the client read,
  a SHA-256 of the secret, an EdDSA-signed service token; no database write);
- ``introspect``: POST /oauth/introspect of a service token by a resource server client
  (its client read, the signature check, the revocation read, the token client's read).

``--ops`` picks them (default ``login,refresh``); ``--rounds N`` runs the chosen ones
alternated N times (the machine's noise then hits each alike) and prints the median rate and
the p99 latency of every operation.

How: the app runs in this process (one worker, as ``jotauth serve --workers 1``), driven over
``httpx.ASGITransport`` by ``--concurrency`` tasks for ``--seconds``; each refresh task keeps
rotating its own session, as real clients do. The client's own cost is included, so the
figures are a lower bound of what a uvicorn worker would serve. Load average is printed.

Run from the repository root: ``.venv/bin/python bench/issuer.py`` (about a minute);
``--quick`` for a smoke run; ``--no-postgres`` where there is no server.
"""

from __future__ import annotations

import argparse
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


def _settings(url: str, args: argparse.Namespace) -> Settings:
    return Settings(
        database_url=url,
        master_key=secrets.token_bytes(32),
        issuer="http://bench",
        argon2_time_cost=args.argon2_t,
        argon2_memory_cost=args.argon2_m,
        argon2_parallelism=args.argon2_p,
        # One client address logs in thousands of times: the limits would answer 429. The
        # audit log and metrics are off to measure the use cases, not the log handlers.
        ratelimit_enabled=False,
        audit_log=False,
        metrics_enabled=False,
    )


def _basic(client_id: str, secret: str | None) -> dict[str, str]:
    import base64

    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def _clients(app: Any) -> tuple[dict[str, str], dict[str, str]]:
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
    return _basic(service.client_id, secret), _basic(resource.client_id, resource_secret)


async def _run(
    app: Any, op: str, seconds: float, concurrency: int, headers: Any
) -> tuple[int, float, list[float]]:
    transport = httpx.ASGITransport(app=app)
    count = 0
    latencies: list[float] = []
    service, resource = headers
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        tokens: list[str] = []
        for _ in range(concurrency):
            if op == "introspect":
                r = await client.post(
                    "/oauth/token", data={"grant_type": "client_credentials"}, headers=service
                )
                tokens.append(r.json()["access_token"])
            else:
                r = await client.post(
                    "/login", json={"username": "bench", "password": "bench-pass"}
                )
                tokens.append(r.json()["refresh_token"])
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()

        async def worker(i: int) -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                if op == "login":
                    r = await client.post(
                        "/login", json={"username": "bench", "password": "bench-pass"}
                    )
                elif op == "client_credentials":
                    r = await client.post(
                        "/oauth/token", data={"grant_type": "client_credentials"},
                        headers=service,
                    )  # fmt: skip
                elif op == "introspect":
                    r = await client.post(
                        "/oauth/introspect", data={"token": tokens[i]}, headers=resource
                    )
                    if r.status_code == 200 and r.json().get("active") is not True:
                        raise SystemExit("introspect: the token is not active")
                else:
                    r = await client.post("/refresh", json={"refresh_token": tokens[i]})
                    tokens[i] = r.json()["refresh_token"]
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"{op} failed: {r.status_code} {r.text}")
                count += 1

        async with anyio.create_task_group() as group:
            for i in range(concurrency):
                group.start_soon(worker, i)
        elapsed = time.perf_counter() - start
    return count, elapsed, latencies


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def _hash_ms(args: argparse.Namespace) -> float:
    service = PasswordService(
        time_cost=args.argon2_t, memory_cost=args.argon2_m, parallelism=args.argon2_p
    )
    times = []
    for _ in range(5 if args.quick else 15):
        t0 = time.perf_counter()
        service.hash_sync("bench-pass")
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _database(name: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    app = create_app(_settings(url, args))
    anyio.run(lambda: app.state.auth.create_user("bench", "bench-pass"))
    headers = anyio.run(_clients, app)
    rates: dict[str, list[float]] = {op: [] for op in args.ops}
    p99s: dict[str, list[float]] = {op: [] for op in args.ops}
    for _round in range(args.rounds):
        for op in args.ops:
            count, elapsed, latencies = anyio.run(
                _run, app, op, args.seconds, args.concurrency, headers
            )
            rates[op].append(count / elapsed)
            p99s[op].append(_p99(latencies))
            print(
                f"{name:<10} {op:<19} {count:>6} in {elapsed:5.2f} s = "
                f"{count / elapsed:8.1f}/s  p99 {_p99(latencies):6.1f} ms"
            )
    figures = {op: statistics.median(rates[op]) for op in args.ops}
    if args.rounds > 1:
        for op in args.ops:
            print(
                f"{name:<10} {op:<19} median {figures[op]:8.1f}/s over {args.rounds} rounds, "
                f"p99 median {statistics.median(p99s[op]):6.1f} ms"
            )
    app.state.store.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2 s per measurement")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--ops", default="login,refresh",
        type=lambda value: [op for op in value.split(",") if op],
        help="login, refresh, client_credentials, introspect (comma-separated)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1, help="alternate the ops N times")
    parser.add_argument("--argon2-m", type=int, default=19456, help="KiB (OWASP: 19456)")
    parser.add_argument("--argon2-t", type=int, default=2, help="iterations (OWASP: 2)")
    parser.add_argument("--argon2-p", type=int, default=1, help="lanes (OWASP: 1)")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 2.0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    print(
        f"Argon2id m={args.argon2_m} KiB t={args.argon2_t} p={args.argon2_p}: "
        f"{_hash_ms(args):.1f} ms per hash (median)"
    )
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            _database("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args)
    if not args.no_postgres:
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
    print(f"load after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
