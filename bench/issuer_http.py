"""Login and refresh over real HTTP: ``jotauth serve`` (one worker) driven by wrk, trees alternated.

Why: ``bench/issuer.py`` and ``bench/issuer_ab.py`` drive the app in process, so the client's
own CPU (httpx) shares the server's; an outside measurement of issue 17 ran wrk against
``jotauth serve``. This script does the same: each tree (``--tree name=src``, e.g. the commit
before issues 11 and 17 against this checkout) runs as a real server process, uvicorn and all,
with the shipped settings — audit trail and log, metrics, brute-force limits — except the
per-address window, raised because every wrk connection comes from 127.0.0.1. wrk (C, from
Debian's package) keeps one connection per thread and rotates that connection's refresh token
from each response (a Lua script), so every request is a real rotation.

Per tree and operation it reports requests/s, p50/p99 latency (wrk), and the server's CPU time
per request (utime + stime of the server process and its children, all threads, from
``/proc``): on a shared machine the CPU figure moves least, and ``1000 / CPU ms`` is the
throughput one core could give this server. Trees are alternated round by round and the
ratios are medians of each round's pair.

    git worktree add --detach /tmp/old 5f96faf
    .venv/bin/python bench/issuer_http.py --tree old=/tmp/old/src --tree new=src --rounds 3
    .venv/bin/python bench/issuer_http.py --tree old=/tmp/old/src --tree new=src \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/jotauth_http

A PostgreSQL database is created if missing and emptied (schema dropped) before each server.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_guard import cpu_seconds, free_port

USER, PASSWORD = "bench", "bench-password-1"
PEER = "flask-jwt-extended"

LUA = r"""
local op = os.getenv("BENCH_OP")
local tokens, given = {}, 0
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
function setup(thread)
  given = given + 1
  thread:set("token", tokens[given])
end
local login = '{"username":"bench","password":"bench-password-1"}'
function request()
  if op == "login" then
    return wrk.format("POST", "/login", {["Content-Type"] = "application/json"}, login)
  end
  return wrk.format("POST", "/refresh", {["Content-Type"] = "application/json"},
                    '{"refresh_token":"' .. token .. '"}')
end
function response(status, headers, body)
  if status == 200 and op == "refresh" then
    local next_token = body:match('"refresh_token":"([^"]+)"')
    if next_token then token = next_token end
  end
end
function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d, '
    .. '"socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


def reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    base, _, name = url.rpartition("/")
    admin = sa.create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


class Server:
    """``jotauth serve`` of one tree, with one user, on a free port of 127.0.0.1."""

    def __init__(
        self, src: Path, database: str, master_key: str, extra: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")},
            "PYTHONPATH": str(src),
            "JOTAUTH_DATABASE_URL": database,
            "JOTAUTH_MASTER_KEY": master_key,
            "JOTAUTH_ISSUER": f"http://127.0.0.1:{self.port}",
            "JOTAUTH_MODE": "production",
            "JOTAUTH_RATELIMIT_IP_BURST": "1000000000",
            "JOTAUTH_RATELIMIT_IP_RATE": "1000000000",
            **(extra or {}),
        }
        self.command = [sys.executable, "-c", "from jotauth.cli.main import main; main()"]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        subprocess.run(  # noqa: S603 - this interpreter, jotauth's own CLI
            [*self.command, "db", "upgrade"], env=self.env, check=True, capture_output=True
        )
        subprocess.run(  # noqa: S603
            [*self.command, "user", "add", USER, "--password", PASSWORD],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.process = subprocess.Popen(  # noqa: S603
            [*self.command, "serve", "--port", str(self.port), "--workers", "1"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self._ready()

    def _ready(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/.well-known/jwks.json", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("the server did not start within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class PeerServer(Server):
    """flask-jwt-extended with a hand-written denylist (``bench/peers/flask_jwt_refresh.py``)
    under gunicorn: one worker, one thread per connection."""

    def __init__(self, database: str, concurrency: int) -> None:
        super().__init__(Path("."), database, "")
        self.env = {
            **os.environ,
            "PEER_DATABASE_URL": database,
            "PEER_SECRET": secrets.token_urlsafe(32),
        }
        self.concurrency = concurrency

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter's gunicorn, 127.0.0.1
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread",
             "--threads", str(self.concurrency), "--bind", f"127.0.0.1:{self.port}",
             "--chdir", str(Path(__file__).with_name("peers")), "flask_jwt_refresh:app"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return self._ready()


def run_wrk(
    server: Server, op: str, tokens: list[str], seconds: float, tmp: Path
) -> dict[str, float]:
    script, token_file = tmp / "bench.lua", tmp / "tokens.txt"
    script.write_text(LUA)
    token_file.write_text("\n".join(tokens) + "\n")
    assert server.process is not None
    before = cpu_seconds(server.process.pid)
    done = subprocess.run(  # noqa: S603 - wrk (found on the PATH above), on 127.0.0.1
        [  # noqa: S607
            "wrk",
            "-t",
            str(len(tokens)),
            "-c",
            str(len(tokens)),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            server.url,
        ],
        env={**os.environ, "BENCH_OP": op, "BENCH_TOKENS": str(token_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"wrk failed: {done.stdout[-1000:]} {done.stderr[-2000:]}")
    cpu = cpu_seconds(server.process.pid) - before
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line[len("RESULT ") :])
    if raw["non2xx"] or raw["socket_errors"]:
        raise SystemExit(f"{op}: {raw['non2xx']} non-2xx, {raw['socket_errors']} socket errors")
    return {
        "per_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "cpu_ms": 1000 * cpu / raw["requests"],
    }


def bare_hash(concurrency: int, seconds: float) -> dict[str, float]:
    """The shipped Argon2id verification alone, from ``concurrency`` threads, for the same time:
    what a login would cost if the server did nothing but hash (issue 17: login within 5 %)."""
    from concurrent.futures import ThreadPoolExecutor

    from pwdlib.hashers.argon2 import Argon2Hasher

    hasher = Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1)
    digest = hasher.hash(PASSWORD)
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    def worker() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            hasher.verify(PASSWORD, digest)
            latencies.append(time.perf_counter() - began)

    cpu, start = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    latencies.sort()
    return {
        "per_s": len(latencies) / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "cpu_ms": 1000 * cpu / len(latencies),
    }


def measure(
    src: Path, database: str, args: argparse.Namespace, tmp: Path
) -> dict[str, dict[str, float]]:
    if database.startswith("postgresql"):
        reset_postgres(database)
    out: dict[str, dict[str, float]] = {}
    peer = str(src) == PEER
    ops = ["refresh"] if peer else args.ops
    server = (
        PeerServer(database, args.concurrency)
        if peer
        else Server(src, database, args.master_key, args.env)
    )
    with server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            tokens = []
            for _ in range(args.concurrency):
                answer = client.post("/login", json={"username": USER, "password": PASSWORD})
                answer.raise_for_status()
                tokens.append(answer.json()["refresh_token"])
        for op in ops:
            if op in args.ops:
                out[op] = run_wrk(server, op, tokens, args.seconds, tmp)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", required=True, help="name=path/to/src")
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite)")
    parser.add_argument("--ops", default="refresh,login")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        help="KEY=VALUE for every server, e.g. JOTAUTH_ARGON2_TIME_COST=1: login without the hash",
    )
    parser.add_argument(
        "--bare-hash",
        action="store_true",
        help="also run the bare Argon2id verification as a third contender (row 'hash', op login)",
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help="also run flask-jwt-extended with a hand-written denylist (refresh only)",
    )
    args = parser.parse_args()
    args.ops = args.ops.split(",")
    args.env = dict(item.split("=", 1) for item in args.env)
    args.master_key = secrets.token_urlsafe(32)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    trees = dict(item.split("=", 1) for item in args.tree)
    names = list(trees)
    if args.bare_hash:
        names.append("hash")
    if args.peer:
        names.append(PEER)
        trees[PEER] = PEER
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        n: {op: [] for op in args.ops} for n in names
    }
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for number in range(args.rounds):
            order = names if number % 2 == 0 else names[::-1]
            for name in order:
                database = args.database or f"sqlite:///{tmp}/{name}-{number}.db"
                if name == "hash":
                    figures = {"login": bare_hash(args.concurrency, args.seconds)}
                else:
                    src = Path(trees[name]) if name == PEER else Path(trees[name]).resolve()
                    figures = measure(src, database, args, tmp)
                for op, row in figures.items():
                    runs[name][op].append(row)
                print(
                    f"round {number + 1} {name}: "
                    + ", ".join(
                        f"{op} {row['per_s']:.1f}/s cpu {row['cpu_ms']:.2f} ms"
                        for op, row in figures.items()
                    ),
                    flush=True,
                )
    first = names[0]
    print()
    print(
        "| tree | operation | req/s (median) | p50 / p99 ms | server CPU ms per request | "
        f"per core (1000 / CPU) | req/s vs {first} | CPU vs {first} |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for name in names:
        for op in args.ops:
            rows = runs[name][op]
            if not rows:
                continue
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            base = runs[first][op]
            speed = statistics.median(
                r["per_s"] / b["per_s"] for r, b in zip(rows, base, strict=True)
            )
            cost = statistics.median(
                b["cpu_ms"] / r["cpu_ms"] for r, b in zip(rows, base, strict=True)
            )
            print(
                f"| {name} | {op} | {med['per_s']:.1f} | {med['p50_ms']:.1f} / {med['p99_ms']:.1f} "
                f"| {med['cpu_ms']:.2f} | {1000 / med['cpu_ms']:.0f} | {speed:.2f} | {cost:.2f} |"
            )
    print(f"load after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
