"""Old versus new: login and refresh throughput of two source trees, alternated in one sitting.

Why: a change to the server's hot path is kept only where it is clearly faster than the noise,
and on a shared machine the noise drifts over minutes. Running the two trees one after the
other, round after round, and comparing the medians of each round's pair keeps that drift out
of the ratio.

Each measurement is a child process that imports ``jotauth`` from one tree (``PYTHONPATH``),
builds the app the way ``jotauth serve`` does (``create_app(Settings.from_env())``, so both trees
read the same ``JOTAUTH_*`` variables whatever their settings API), with the shipped defaults:
brute-force limits, audit log and metrics on, except the per-IP limit, which is raised because
each simulated client (its own address, 10.0.0.N) sends far more than a person would. It
drives the app in process over ``httpx.ASGITransport`` and prints one JSON line.

Run from the repository root, with an old tree checked out beside it::

    git worktree add --detach /tmp/old <commit>
    .venv/bin/python bench/issuer_ab.py --old /tmp/old/src --rounds 5
    .venv/bin/python bench/issuer_ab.py --old /tmp/old/src --database postgresql+psycopg://postgres@127.0.0.1:5432/bench

The PostgreSQL database is emptied (its tables dropped) before each measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time, secrets
import anyio, httpx, sqlalchemy as sa

def reset(url):
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as c:
            c.execute(sa.text("DROP SCHEMA public CASCADE"))
            c.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()

reset(os.environ["JOTAUTH_DATABASE_URL"])
from jotauth.issuer.app import create_app
from jotauth.issuer.settings import Settings
app = create_app(Settings.from_env())
seconds, concurrency = float(sys.argv[1]), int(sys.argv[2])
CREDENTIALS = {"username": "bench", "password": "bench-password-1"}

async def main():
    await app.state.auth.create_user("bench", "bench-password-1")
    out = {}
    # One address per simulated client, as real clients have: a per-address window then holds
    # one client's requests, not every request of the run.
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(f"10.0.0.{i + 1}", 40000)),
            base_url="http://bench",
        )
        for i in range(concurrency)
    ]
    if clients:  # logged in once each, before the timed loops
        tokens = []
        for c in clients:
            r = await c.post("/login", json=CREDENTIALS)
            tokens.append(r.json()["refresh_token"])
        for op in ("login", "refresh"):
            count = 0
            latencies = []
            deadline = time.perf_counter() + seconds
            async def worker(i):
                nonlocal count
                c = clients[i]
                while time.perf_counter() < deadline:
                    t = time.perf_counter()
                    if op == "login":
                        r = await c.post("/login", json=CREDENTIALS)
                    else:
                        r = await c.post("/refresh", json={"refresh_token": tokens[i]})
                        tokens[i] = r.json().get("refresh_token", tokens[i])
                    if r.status_code != 200:
                        raise SystemExit(f"{op}: {r.status_code} {r.text}")
                    latencies.append(time.perf_counter() - t)
                    count += 1
            start = time.perf_counter()
            async with anyio.create_task_group() as g:
                for i in range(concurrency):
                    g.start_soon(worker, i)
            latencies.sort()
            out[op] = {"per_s": count / (time.perf_counter() - start),
                       "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)]}
    for c in clients:
        await c.aclose()
    print("RESULT " + json.dumps(out))

anyio.run(main)
app.state.store.close()
"""


def measure(src: Path, database: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """One child run on ``src``; its figures."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")},
        "PYTHONPATH": str(src),
        "JOTAUTH_DATABASE_URL": database,
        "JOTAUTH_MASTER_KEY": args.master_key,
        "JOTAUTH_ISSUER": "http://bench",
        "JOTAUTH_MODE": "production",
        "JOTAUTH_RATELIMIT_IP_BURST": "1000000000",
        "JOTAUTH_RATELIMIT_IP_RATE": "1000000000",
    }
    done = subprocess.run(  # noqa: S603 - this interpreter, this script's own child
        [sys.executable, "-c", CHILD, str(args.seconds), str(args.concurrency)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            figures: dict[str, dict[str, float]] = json.loads(line[len("RESULT ") :])
            return figures
    raise SystemExit(f"{src}: no result\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the old tree's src folder")
    parser.add_argument("--new", type=Path, default=Path("src"), help="default: ./src")
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    args.master_key = secrets.token_urlsafe(32)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    ratios: dict[str, list[float]] = {"login": [], "refresh": []}
    runs: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.rounds):
            pair = {}
            order = ("old", "new") if number % 2 == 0 else ("new", "old")
            for which in order:
                database = args.database or f"sqlite:///{tmp}/{which}-{number}.db"
                src = args.old if which == "old" else args.new
                pair[which] = measure(src.resolve(), database, args)
                for op, row in pair[which].items():
                    runs[which].setdefault(op, []).append(row["per_s"])
                    runs[which].setdefault(f"{op} p99", []).append(row["p99_ms"])
            for op in ratios:
                ratios[op].append(pair["new"][op]["per_s"] / pair["old"][op]["per_s"])
            print(
                f"round {number + 1}: "
                + ", ".join(
                    f"{op} old {pair['old'][op]['per_s']:.1f}/s "
                    f"new {pair['new'][op]['per_s']:.1f}/s"
                    for op in ratios
                ),
                flush=True,
            )
            time.sleep(0.5)
    print()
    print("| operation | old (median /s) | new (median /s) | new / old (median of rounds) |")
    print("| --- | ---: | ---: | ---: |")
    for op in ratios:
        old, new = statistics.median(runs["old"][op]), statistics.median(runs["new"][op])
        print(f"| {op} | {old:.1f} | {new:.1f} | {statistics.median(ratios[op]):.2f} |")
    for op in ratios:
        old = statistics.median(runs["old"][f"{op} p99"])
        new = statistics.median(runs["new"][f"{op} p99"])
        print(f"| {op} p99 (ms) | {old:.1f} | {new:.1f} | |")
    print(f"load after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
