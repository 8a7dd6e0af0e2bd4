"""Where the CPU of one issuer operation goes: cProfile over ``bench/issuer.py``'s requests.

``bench/issuer.py`` says how fast; this says why. It builds the same app with the same
settings and clients, then drives ``--requests`` requests of one operation one at a time
under ``cProfile``. The blocking parts of a request run in anyio's worker threads, which
cProfile does not follow, so here ``anyio.to_thread.run_sync`` runs its function inline on
the event loop's thread: the profile then holds every line a request executes (HTTP client,
ASGI app, services, SQLAlchemy, the driver), with the database's own wait in the driver's
calls. The figures are cProfile's (its overhead inflates small calls), for finding the big
items, not for throughput.

    PYTHONPATH=src .venv/bin/python bench/issuer_profile.py --op introspect --requests 2000
    PYTHONPATH=src .venv/bin/python bench/issuer_profile.py --op client_credentials --sort tottime
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import issuer
from jotauth.issuer.app import create_app


async def _inline(function: Any, *args: Any, **_kwargs: Any) -> Any:
    return function(*args)


async def _profile(app: Any, args: argparse.Namespace) -> pstats.Stats:
    await app.state.auth.create_user(**issuer.CREDENTIALS)
    await issuer._clients(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        tokens = await issuer._sessions(client, 1, args.op)
        for _ in range(50):  # warm: prepared statements, compiled verifiers, key ring
            await issuer._one(client, args.op, tokens, 0)
        anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
        timer = time.process_time if args.timer == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer)
        profiler.enable()
        for _ in range(args.requests):
            await issuer._one(client, args.op, tokens, 0)
        profiler.disable()
    return pstats.Stats(profiler)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--op", default="introspect", help="as bench/issuer.py --ops")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--profile", choices=("shipped", "bare"), default="shipped")
    parser.add_argument("--argon2-m", type=int, default=19456)
    parser.add_argument("--argon2-t", type=int, default=2)
    parser.add_argument("--argon2-p", type=int, default=1)
    parser.add_argument(
        "--timer", choices=("cpu", "wall"), default="cpu",
        help="cpu: process time (the database's wait left out); wall: with it",
    )  # fmt: skip
    parser.add_argument("--dump", help="write the raw profile here (for snakeviz, gprof2dot)")
    args = parser.parse_args()
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(issuer.PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{issuer.PG_URL}?options=-csearch_path%3D{schema}"
        app = create_app(issuer._settings(url, args))
        try:
            stats = anyio.run(_profile, app, args)
        finally:
            app.state.store.close()
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    if args.dump:
        stats.dump_stats(args.dump)
    total = stats.total_tt  # type: ignore[attr-defined]
    per_request = 1000 * total / args.requests
    print(f"{args.op}: {per_request:.3f} ms per request under cProfile ({args.timer} time)")
    stats.sort_stats(args.sort).print_stats(args.lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
