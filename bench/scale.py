"""Curves, not claims: the auth server and the guard at 1k, 100k and 1M users and sessions.

Why: a figure taken on an empty database says nothing about the database a deployment has after
a year. This script seeds SQLite and PostgreSQL with N users, N live sessions (one refresh token
each) and a fixed number of live revocations, then measures, at each N:

- ``refresh``: POST /refresh of random seeded sessions (each worker rotates its own slice);
- ``login``: POST /login of random seeded users (Argon2id at the configured cost);
- ``feed first page``: GET /revocations from the start (what a guard does when it starts);
- ``feed at head``: GET /revocations with the newest cursor (what every guard does every 5 s);
- ``jwks``: GET /.well-known/jwks.json;
- ``introspect``: POST to the introspection endpoint the discovery document names, when it
  names one (a confidential client is registered for it);

with throughput, p50 and p99 per operation, and the guard's memory per cached token and per
revocation entry (``tracemalloc``, no database). The server runs in this process (one worker)
with its shipped settings - audit log, metrics and brute-force limits on - except the per-IP
limit, which is raised because every request of the benchmark comes from one address.

How rows are seeded: one real login makes a template user, session and refresh token; the
seeded rows are copies of those rows with new keys, so they stay valid whatever columns the
schema grows. Refresh tokens are derived from a per-run secret and their index, so the script
can present them.

Run from the repository root (``pip install -r requirements/bench.lock`` for the plots)::

    .venv/bin/python bench/scale.py                          # 1k, 100k, 1M on both databases
    .venv/bin/python bench/scale.py --sizes 1000 --quick     # smoke run
    .venv/bin/python bench/scale.py --json out.json --plots docs/img

It needs a PostgreSQL server it may create and drop a database on (``--postgres-admin-url``,
default the ``postgres`` database on 127.0.0.1) unless ``--no-postgres``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import sqlalchemy as sa

from jotauth import jose
from jotauth.guard import Guard, RevocationView
from jotauth.issuer.app import create_app
from jotauth.issuer.services.tokens import hash_refresh
from jotauth.issuer.settings import Settings
from jotauth.store.sql import models

PASSWORD = "scale-bench-password"
ISSUER = "http://scale.bench"
SERVICE_TOKEN = secrets.token_urlsafe(32)
CHUNK = 20_000


@dataclass
class Figures:
    """What one operation did at one size: count, seconds and per-request latencies (s)."""

    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def row(self) -> dict[str, float]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "per_s": self.count / self.seconds if self.seconds else 0.0,
            "p50_ms": 1000 * ordered[len(ordered) // 2],
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "count": self.count,
        }


def refresh_token_of(secret: bytes, index: int) -> str:
    """The seeded session ``index``'s refresh token (43 base64url characters, as a real one)."""
    digest = hashlib.sha256(secret + index.to_bytes(8, "big")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- databases --------------------------------------------------------------------------------


def postgres_database(admin_url: str, name: str) -> str:
    """A new, empty PostgreSQL database ``name`` (dropped first if it exists); its URL."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return str(sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False))


def database_bytes(engine: sa.Engine) -> int:
    """Bytes the database takes on disk (PostgreSQL: the database; SQLite: the file and WAL)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return int(
                connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
            )
    path = Path(str(engine.url.database))
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


# -- seeding ----------------------------------------------------------------------------------


def _template(engine: sa.Engine, username: str) -> tuple[dict[str, Any], ...]:
    """The rows of ``username``: user, its session and that session's refresh token."""
    with engine.connect() as connection:
        user = connection.execute(
            sa.select(models.User.__table__).where(models.User.username == username)
        ).one()
        family = connection.execute(
            sa.select(models.Family.__table__).where(models.Family.user_id == user.id)
        ).one()
        token = connection.execute(
            sa.select(models.RefreshToken.__table__).where(
                models.RefreshToken.family_id == family.id
            )
        ).one()
    return dict(user._mapping), dict(family._mapping), dict(token._mapping)


def seed(engine: sa.Engine, size: int, revocations: int, secret: bytes, template: str) -> float:
    """Copy the template rows ``size`` times and add ``revocations`` live token events."""
    user, family, token = _template(engine, template)
    token.pop("id")
    base_id = 10_000_000  # above every id the server hands out during the run
    now = time.time()
    started = time.perf_counter()
    users_t = models.User.__table__
    families_t = models.Family.__table__
    tokens_t = models.RefreshToken.__table__
    with engine.begin() as connection:
        for start in range(0, size, CHUNK):
            stop = min(size, start + CHUNK)
            connection.execute(
                sa.insert(users_t),
                [
                    {
                        **user,
                        "id": base_id + i,
                        "username": f"scale{i}",
                        "username_key": f"scale{i}",
                    }
                    for i in range(start, stop)
                ],
            )
            connection.execute(
                sa.insert(families_t),
                [
                    {**family, "id": f"scale-{i}", "user_id": base_id + i}
                    for i in range(start, stop)
                ],
            )
            connection.execute(
                sa.insert(tokens_t),
                [
                    {
                        **token,
                        "token_hash": hash_refresh(refresh_token_of(secret, i)),
                        "family_id": f"scale-{i}",
                    }
                    for i in range(start, stop)
                ],
            )
        counter = connection.execute(
            sa.select(models.FeedCounter.last).where(models.FeedCounter.id == 1)
        ).scalar_one()
        for start in range(0, revocations, CHUNK):
            stop = min(revocations, start + CHUNK)
            connection.execute(
                sa.insert(models.Revocation.__table__),
                [
                    {
                        "position": counter + i + 1,
                        "type": "token",
                        "jti": f"scale-jti-{i}",
                        "exp": int(now) + 7200,
                        "created_at": now,
                    }
                    for i in range(start, stop)
                ],
            )
        connection.execute(
            sa.update(models.FeedCounter)
            .where(models.FeedCounter.id == 1)
            .values(last=counter + revocations)
        )
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
        connection.commit()
    return time.perf_counter() - started


# -- load -------------------------------------------------------------------------------------


async def timed(
    seconds: float, concurrency: int, request: Callable[[int], Awaitable[None]]
) -> Figures:
    """Run ``request(worker)`` from ``concurrency`` tasks for ``seconds``; latency of each."""
    figures = Figures()
    deadline = time.perf_counter() + seconds

    async def worker(number: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await request(number)
            figures.latencies.append(time.perf_counter() - started)
            figures.count += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for number in range(concurrency):
            group.start_soon(worker, number)
    figures.seconds = time.perf_counter() - started
    return figures


def expect(response: httpx.Response, status: int = 200) -> httpx.Response:
    if response.status_code != status:
        raise SystemExit(f"{response.request.url.path}: {response.status_code} {response.text}")
    return response


async def measure(
    app: Any, size: int, secret: bytes, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Every operation at this size, one after another on the same seeded database."""
    transport = httpx.ASGITransport(app=app)
    results: dict[str, dict[str, float]] = {}
    rng = random.Random(size)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER, timeout=60) as client:
        service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

        # refresh: worker w rotates sessions w, w + C, w + 2C ... of a shuffled order.
        order = list(range(size))
        rng.shuffle(order)
        slices = [order[w :: args.concurrency] for w in range(args.concurrency)]
        current: dict[int, str] = {}
        position = [0] * args.concurrency

        async def refresh(worker: int) -> None:
            mine = slices[worker]
            index = mine[position[worker] % len(mine)]
            position[worker] += 1
            token = current.get(index) or refresh_token_of(secret, index)
            body = expect(await client.post("/refresh", json={"refresh_token": token})).json()
            current[index] = body["refresh_token"]

        async def login(_worker: int) -> None:
            name = f"scale{rng.randrange(size)}"
            expect(await client.post("/login", json={"username": name, "password": PASSWORD}))

        head = expect(await client.get("/revocations", headers=service)).json()
        while head["has_more"]:
            head = expect(
                await client.get(f"/revocations?after={head['cursor']}", headers=service)
            ).json()

        async def feed_first(_worker: int) -> None:
            expect(await client.get("/revocations", headers=service))

        async def feed_head(_worker: int) -> None:
            expect(await client.get(f"/revocations?after={head['cursor']}", headers=service))

        async def jwks(_worker: int) -> None:
            expect(await client.get("/.well-known/jwks.json"))

        operations: dict[str, Callable[[int], Awaitable[None]]] = {
            "refresh": refresh,
            "login": login,
            "feed first page": feed_first,
            "feed at head": feed_head,
            "jwks": jwks,
        }
        introspect = await introspection(app, client)
        if introspect is not None:
            operations["introspect"] = introspect
        for name, request in operations.items():
            if args.only and name not in args.only:
                continue
            await request(0)  # warm: first-use costs (a compiled statement, a key load)
            gc.collect()
            figures = await timed(args.seconds, args.concurrency, request)
            results[name] = figures.row()
            row = results[name]
            print(
                f"  {name:<16} {row['per_s']:9.1f}/s  p50 {row['p50_ms']:7.2f} ms  "
                f"p99 {row['p99_ms']:7.2f} ms  ({int(row['count'])} requests)",
                flush=True,
            )
    return results


async def introspection(
    app: Any, client: httpx.AsyncClient
) -> Callable[[int], Awaitable[None]] | None:
    """An introspection request, if the server advertises the endpoint and can register a
    confidential client (``AuthService.clients``); None otherwise."""
    metadata = await client.get("/.well-known/oauth-authorization-server")
    if metadata.status_code != 200 or "introspection_endpoint" not in metadata.json():
        return None
    from jotauth.issuer.services.clients import ClientSpec

    resource, client_secret = await app.state.clients.register(
        ClientSpec("scale-resource", audiences=("jotauth",))
    )
    client_id = resource.client_id
    endpoint = httpx.URL(metadata.json()["introspection_endpoint"]).path
    login = expect(
        await client.post("/login", json={"username": "scale0", "password": PASSWORD})
    ).json()
    token = login["access_token"]

    async def introspect(_worker: int) -> None:
        expect(await client.post(endpoint, data={"token": token}, auth=(client_id, client_secret)))

    return introspect


# -- the guard's memory -----------------------------------------------------------------------


def guard_memory(count: int) -> dict[str, float]:
    """Bytes per cached token and per revocation entry, measured with ``tracemalloc``."""
    key = jose.Key.generate("HS256")
    guard = Guard(
        keys=[key], issuer=ISSUER, audience="jotauth", algorithms=["HS256"], cache_size=count
    )
    now = int(time.time())
    tokens = [
        jose.jwt.encode(
            {
                "iss": ISSUER,
                "aud": "jotauth",
                "sub": str(i),
                "iat": now,
                "exp": now + 900,
                "jti": secrets.token_urlsafe(16),
                "scope": "openid profile",
            },
            key,
            headers={"typ": "at+jwt"},
        )
        for i in range(count)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for token in tokens:
        guard.authenticate_sync(token)
    gc.collect()
    after = tracemalloc.take_snapshot()
    per_token = sum(s.size_diff for s in after.compare_to(before, "filename")) / count
    tracemalloc.stop()

    view = RevocationView()
    jtis = [secrets.token_urlsafe(16) for _ in range(count)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for jti in jtis:
        view.revoke_token(jti, now + 900)
    gc.collect()
    after = tracemalloc.take_snapshot()
    per_revocation = sum(s.size_diff for s in after.compare_to(before, "filename")) / count
    tracemalloc.stop()
    return {"bytes_per_cached_token": per_token, "bytes_per_revocation": per_revocation}


# -- one size on one database -----------------------------------------------------------------


def run_size(database: str, url: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        database_url=url,
        master_key=secrets.token_bytes(32),
        issuer=ISSUER,
        service_tokens=(SERVICE_TOKEN,),
        mode="production",
        # The shipped settings but the per-IP limit: every request here has one address.
        ip_burst=10**9,
        ip_rate=10.0**9,
        retention_interval=0,  # no background deletes while a size is being measured
    )
    app = create_app(settings)
    engine = app.state.store.engine
    template = f"template{secrets.token_hex(4)}"

    async def prepare() -> None:
        await app.state.auth.create_user(template, PASSWORD)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=ISSUER
        ) as client:
            expect(await client.post("/login", json={"username": template, "password": PASSWORD}))

    anyio.run(prepare)
    secret = secrets.token_bytes(16)
    seeded = seed(engine, size, args.revocations, secret, template)
    stored = database_bytes(engine)
    print(
        f"{database} {size:>9,} users/sessions + {args.revocations:,} revocations: seeded in "
        f"{seeded:.1f} s, {stored / 2**20:.1f} MiB",
        flush=True,
    )
    figures = anyio.run(measure, app, size, secret, args)
    app.state.store.close()
    return {"database": database, "size": size, "db_bytes": stored, "ops": figures}


# -- report -----------------------------------------------------------------------------------


def markdown(results: list[dict[str, Any]], memory: dict[str, float]) -> str:
    lines = []
    ops = sorted({op for r in results for op in r["ops"]}, key=_op_order)
    sizes = sorted({r["size"] for r in results})
    for database in sorted({r["database"] for r in results}):
        lines += [
            f"**{database}** (requests/s, p50 / p99 ms)",
            "",
            "| operation | " + " | ".join(f"{s:,}" for s in sizes) + " |",
            "| --- |" + " ---: |" * len(sizes),
        ]
        rows = {r["size"]: r for r in results if r["database"] == database}
        for op in ops:
            cells = []
            for size in sizes:
                cell = rows.get(size, {}).get("ops", {}).get(op)
                cells.append(
                    f"{cell['per_s']:,.0f} ({cell['p50_ms']:.1f} / {cell['p99_ms']:.1f})"
                    if cell
                    else "-"
                )
            lines.append(f"| {op} | " + " | ".join(cells) + " |")
        sizes_mb = [f"{rows[s]['db_bytes'] / 2**20:,.0f} MiB" if s in rows else "-" for s in sizes]
        lines += ["| database size | " + " | ".join(sizes_mb) + " |", ""]
    lines.append(
        f"Guard memory: {memory['bytes_per_cached_token']:,.0f} B per cached token, "
        f"{memory['bytes_per_revocation']:,.0f} B per revocation entry."
    )
    return "\n".join(lines)


def _op_order(op: str) -> int:
    order = ["refresh", "login", "introspect", "feed first page", "feed at head", "jwks"]
    return order.index(op) if op in order else len(order)


def plots(results: list[dict[str, Any]], folder: Path, caption: str) -> list[Path]:
    """One PNG per metric: throughput and p99 against size, a line per operation and database."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for metric, label, name in (
        ("per_s", "requests/s (one worker)", "scale-throughput.png"),
        ("p99_ms", "p99 latency (ms)", "scale-p99.png"),
    ):
        figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
        for ax, database in zip(axes, ("sqlite", "postgres"), strict=True):
            rows = sorted(
                (r for r in results if r["database"] == database), key=lambda r: r["size"]
            )
            ops = sorted({op for r in rows for op in r["ops"]}, key=_op_order)
            for op in ops:
                xs = [r["size"] for r in rows if op in r["ops"]]
                ys = [r["ops"][op][metric] for r in rows if op in r["ops"]]
                ax.plot(xs, ys, marker="o", label=op)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(database)
            ax.set_xlabel("users and sessions")
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            if ops:
                ax.legend(fontsize=8)
        figure.suptitle(caption, fontsize=9)
        figure.tight_layout()
        path = folder / name
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--revocations", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=4.0, help="per operation and size")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="1 s per operation")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--postgres-admin-url",
        default=os.environ.get(
            "JOTAUTH_BENCH_POSTGRES_ADMIN_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        ),
    )
    parser.add_argument("--only", type=lambda s: s.split(","), default=None, help="operations")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--plots", type=Path, help="write scale-*.png into this folder")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 1.0
    sizes = [int(s) for s in args.sizes.split(",")]
    # The audit log's lines are formatted and written, as to a log shipper, but not shown.
    audit = logging.getLogger("jotauth.audit")
    audit.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115
    audit.propagate = False
    machine = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, commit {commit()}"
    print(f"{machine}, load {os.getloadavg()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            if not args.no_sqlite:
                url = f"sqlite:///{tmp}/scale-{size}.db"
                results.append(run_size("sqlite", url, size, args))
            if not args.no_postgres:
                url = postgres_database(args.postgres_admin_url, "jotauth_scale")
                results.append(run_size("postgres", url, size, args))
    memory = guard_memory(100_000 if not args.quick else 10_000)
    print()
    print(markdown(results, memory))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": machine, "results": results, "guard": memory}, indent=2)
        )
    if args.plots:
        for path in plots(results, args.plots, machine):
            print(f"wrote {path}")
    print(f"load after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
