"""HTTP throughput of a protected endpoint: bare vs the jotauth guard vs FastAPI + PyJWT.

One uvicorn worker serves ``GET /articles`` (a FastAPI route returning a small JSON body) in
one of these modes, and wrk hammers it for a fixed time per case:

  bare            no authentication at all (the ceiling)
  guard-asgi      jotauth.guard.asgi.GuardMiddleware(scopes=["articles:read"]) around the app
  guard-depends   Depends(guard.require("articles:read")) (jotauth.guard.fastapi)
  pyjwt           the dependency as usually written: HTTPBearer + jwt.decode(...) + scope check

each with a *repeated* token (one token on every request: the guard's cache answers) and
*fresh* tokens (a wrk Lua script sends a different pre-made token on every request; there
are more tokens than requests, so nothing is ever served from a cache).

    .venv/bin/python bench/http_guard.py                  # HS256 RS256 PS256 ES256 EdDSA
    .venv/bin/python bench/http_guard.py --algs HS256 --duration 3 --rounds 1
    .venv/bin/python bench/http_guard.py --markdown       # table for docs/benchmarks.md

Cases of one algorithm run interleaved, ``--rounds`` times, and each figure is the median
requests/s over the rounds. "x bare" divides medians; "paired" is the median over rounds of
each run divided by the bare run of the same round (run just before it), which is steadier on a
shared machine, and is what the target verdicts use. Ratios are to the bare endpoint driven by
the *same* wrk script (the bare server ignores the token): the Lua script that cycles tokens
costs wrk CPU on a machine whose cores it shares with the server, and that cost must not be
billed to the guard.
"x bare by CPU" divides the server process's own CPU time per request (from /proc, user +
system, over the timed run) of bare by that of the mode: a one-worker server is CPU-bound, so
this is the throughput ratio the machine would show with nothing else running on it, and it is
nearly immune to other load. Every server is checked before timing: the right token gets
200, a token without the scope 403 and a forged one 401, so no mode is fast because it skips
work. Needs wrk on PATH and Linux (/proc).
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ISSUER = "https://auth.bench"
AUDIENCE = "articles"
MODES = ("bare", "guard-asgi", "guard-depends", "pyjwt")
TOKENS = ("repeated", "fresh")
HERE = Path(__file__).resolve()
WRK = shutil.which("wrk") or "wrk"


# -- the server (runs in the child process) ----------------------------------------------------


def build_app(mode: str, alg: str, keydir: Path) -> Any:
    """The FastAPI app for one mode, verifying tokens of ``alg`` with the key in ``keydir``."""
    from typing import Annotated

    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    from jotauth import jose

    key = jose.Key.from_jwk(json.loads((keydir / f"{alg}.jwk").read_text()))
    app = FastAPI()
    body = {"articles": [{"id": 1, "title": "JWT explained"}]}

    if mode == "bare":

        @app.get("/articles")
        async def bare() -> Any:
            return body

        return app

    if mode == "guard-asgi":
        from jotauth.guard import Guard
        from jotauth.guard.asgi import GuardMiddleware

        guard = Guard(keys=key, issuer=ISSUER, audience=AUDIENCE)

        @app.get("/articles")
        async def behind_middleware() -> Any:
            return body

        return GuardMiddleware(app, guard, scopes=["articles:read"])

    if mode == "guard-depends":
        from jotauth.guard import Principal
        from jotauth.guard.fastapi import Guard as FastAPIGuard

        fguard = FastAPIGuard(keys=key, issuer=ISSUER, audience=AUDIENCE)
        fguard.install(app)

        @app.get("/articles")
        async def with_dependency(
            user: Annotated[Principal, Depends(fguard.require("articles:read"))],
        ) -> Any:
            return body

        return app

    if mode == "pyjwt":
        import jwt
        from cryptography.hazmat.primitives import serialization

        if alg.startswith("HS"):
            verify_key: Any = json.loads((keydir / f"{alg}.secret").read_text())["secret"]
        else:  # the public key loaded once (the favourable way; many apps pass the PEM each time)
            verify_key = serialization.load_pem_public_key(key.to_pem())
        bearer = HTTPBearer()

        async def current_user(
            credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
        ) -> dict[str, Any]:
            try:
                payload: dict[str, Any] = jwt.decode(
                    credentials.credentials,
                    verify_key,
                    algorithms=[alg],
                    audience=AUDIENCE,
                    issuer=ISSUER,
                    leeway=30,
                    options={"require": ["exp", "sub"]},
                )
            except jwt.PyJWTError as exc:
                raise HTTPException(
                    401, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
                ) from None
            if "articles:read" not in payload.get("scope", "").split():
                raise HTTPException(403, detail="insufficient scope")
            return payload

        @app.get("/articles")
        async def with_pyjwt(user: Annotated[dict[str, Any], Depends(current_user)]) -> Any:
            return body

        return app

    raise SystemExit(f"unknown mode {mode}")


def serve(mode: str, alg: str, keydir: Path, port: int) -> None:
    """Run one uvicorn worker (uvloop + httptools when installed), access log off."""
    import uvicorn

    uvicorn.run(
        build_app(mode, alg, keydir),
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
    )


# -- the driver ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare(alg: str, keydir: Path, count: int) -> tuple[str, Path, str, str]:
    """Make the key, one repeated token, ``count`` fresh tokens, and two tokens that must fail."""
    from jotauth import jose
    from jotauth.guard.testing import make_token

    if alg.startswith("HS"):
        secret = os.urandom(32).hex()  # 64 ASCII bytes; PyJWT gets the very same string
        key = jose.Key.from_secret(secret.encode(), alg, kid="bench-hs")
        (keydir / f"{alg}.jwk").write_text(json.dumps(key.to_jwk(private=True)))
        (keydir / f"{alg}.secret").write_text(json.dumps({"secret": secret}))
    else:
        key = jose.Key.generate(alg, kid=f"bench-{alg.lower()}")
        (keydir / f"{alg}.jwk").write_text(json.dumps(key.public().to_jwk()))

    def token(n: int, scope: str = "articles:read comments:read", signer: Any = key) -> str:
        resources = [part.partition(":")[0] for part in scope.split()]
        return make_token(
            signer,
            sub=str(1000 + n),
            issuer=ISSUER,
            audience=AUDIENCE,
            scope=scope,
            roles=["reader"],
            permissions={resource: ["read"] for resource in resources},
            preferred_username=f"user{n}",
            sid=f"family-{n}",
            expires_in=3600,
        )

    repeated = token(0)
    fresh = keydir / f"{alg}.tokens"
    fresh.write_text("\n".join(token(n) for n in range(1, count + 1)) + "\n")
    no_scope = token(0, scope="comments:read")
    other = (
        jose.Key.from_secret(os.urandom(32).hex().encode(), alg, kid=key.kid)
        if alg.startswith("HS")
        else jose.Key.generate(alg, kid=key.kid)
    )
    forged = token(0, signer=other)
    return repeated, fresh, no_scope, forged


def lua_script(directory: Path, token: str | None, tokens_file: Path | None) -> Path:
    """A wrk script sending one token, or a different token from the file on every request."""
    path = directory / f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua"
    if tokens_file is None:
        path.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    else:
        path.write_text(
            "local tokens = {}\n"
            f'for line in io.lines("{tokens_file}") do tokens[#tokens + 1] = line end\n'
            "local i = 0\n"
            "request = function()\n"
            "  i = i + 1\n"
            "  if i > #tokens then i = 1 end\n"
            '  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[i]})\n'
            "end\n"
        )
    return path


def status_of(url: str, token: str | None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 - always http://127.0.0.1
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - 127.0.0.1
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class Server:
    """One uvicorn worker in a child process, started and checked like a user would."""

    def __init__(self, mode: str, alg: str, keydir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/articles"
        self.process = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, str(HERE), "serve", mode, alg, str(keydir), str(self.port)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise SystemExit(f"the {mode} server exited with {code}") from None
                time.sleep(0.1)
        self.stop()
        raise SystemExit(f"the {mode} server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of ``pid`` and its descendants, all threads (Linux /proc),
    to cost each request: a server that forks its worker (gunicorn) is counted whole."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(p, 0.0) for p in tree)


def run_wrk(url: str, script: Path, duration: float, connections: int) -> dict[str, float]:
    """Requests/s and latency percentiles from one wrk run; non-2xx responses are an error."""
    result = subprocess.run(  # noqa: S603
        [WRK, "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    )
    out = result.stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors against {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def percentile(name: str) -> float:
        match = re.search(rf"\s{name}%\s+([\d.]+)(us|ms|s)", out)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "requests": requests,
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
    }


def bench_alg(alg: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    keydir = workdir / alg
    keydir.mkdir()
    count = args.fresh_tokens
    print(f"== {alg}: making keys and {count} tokens", file=sys.stderr)
    repeated, fresh_file, no_scope, forged = prepare(alg, keydir, count)
    cases = [(mode, kind) for mode in MODES for kind in TOKENS if kind in args.tokens]
    cases = [(m, k) for m, k in cases if m in args.modes]
    figures: dict[tuple[str, str], list[dict[str, float]]] = {case: [] for case in cases}
    for round_number in range(args.rounds):
        order: list[tuple[str, str]] = []
        for kind in TOKENS:  # bare first, then the others rotated: ratios pair runs in time
            others = [c for c in cases if c[1] == kind and c[0] != "bare"]
            shift = round_number % max(1, len(others))
            order += [c for c in cases if c == ("bare", kind)] + others[shift:] + others[:shift]
        for mode, kind in order:
            server = Server(mode, alg, keydir)
            try:
                if mode != "bare":  # prove the mode does the work before timing it
                    got = (
                        status_of(server.url, repeated),
                        status_of(server.url, no_scope),
                        status_of(server.url, forged),
                        status_of(server.url, None),
                    )
                    if got[:3] != (200, 403, 401) or got[3] not in (401, 403):
                        raise SystemExit(f"{mode}/{alg} answers {got}, expected 200/403/401/401")
                # Warm up with the repeated token only, so no fresh token is ever seen twice.
                run_wrk(server.url, lua_script(workdir, repeated, None), 1, args.connections)
                script = lua_script(workdir, repeated, fresh_file if kind == "fresh" else None)
                cpu_before = cpu_seconds(server.process.pid)
                figure = run_wrk(server.url, script, args.duration, args.connections)
                spent = cpu_seconds(server.process.pid) - cpu_before
                figure["cpu_us"] = spent / max(1, figure["requests"]) * 1e6
            finally:
                server.stop()
            if kind == "fresh" and mode != "bare" and figure["requests"] > count:
                raise SystemExit(
                    f"{mode}/{alg}: {figure['requests']} requests but only {count} fresh tokens; "
                    "raise --fresh-tokens so no token repeats"
                )
            figures[(mode, kind)].append(figure)
            print(
                f"   round {round_number + 1} {mode:14} {kind:8} {figure['rps']:8.0f} req/s "
                f"p50 {figure['p50_ms']:.2f} ms p99 {figure['p99_ms']:.2f} ms",
                file=sys.stderr,
            )
    bare = {
        kind: statistics.median(f["rps"] for f in figures[("bare", kind)])
        for kind in TOKENS
        if ("bare", kind) in figures
    }
    rows = []
    for (mode, kind), runs in figures.items():
        rps = statistics.median(f["rps"] for f in runs)
        bare_runs = figures.get(("bare", kind), [])
        paired = [f["rps"] / b["rps"] for f, b in zip(runs, bare_runs, strict=False)]
        rows.append(
            {
                "alg": alg,
                "mode": mode,
                "token": kind,
                "rps": rps,
                "ratio": rps / bare[kind] if kind in bare else float("nan"),
                "paired_ratio": statistics.median(paired) if paired else float("nan"),
                "cpu_us": statistics.median(f["cpu_us"] for f in runs),
                "cpu_ratio": (
                    statistics.median(f["cpu_us"] for f in bare_runs)
                    / statistics.median(f["cpu_us"] for f in runs)
                    if bare_runs
                    else float("nan")
                ),
                "p50_ms": statistics.median(f["p50_ms"] for f in runs),
                "p99_ms": statistics.median(f["p99_ms"] for f in runs),
                "runs": [round(f["rps"]) for f in runs],
            }
        )
    peer = {row["token"]: row["cpu_us"] for row in rows if row["mode"] == "pyjwt"}
    for row in rows:  # above 1: cheaper per request than FastAPI + PyJWT
        row["pyjwt_cpu_ratio"] = (
            peer[row["token"]] / row["cpu_us"] if row["token"] in peer else float("nan")
        )
    return rows


def asgi_request(token: str | None) -> tuple[dict[str, Any], Any, Any]:
    """An ASGI scope for GET /articles and no-op receive/send, as uvicorn would hand them."""
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/articles", "raw_path": b"/articles",
             "query_string": b"", "root_path": "", "headers": headers,
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}  # fmt: skip
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    return scope, receive, (send, status)


def cpu_alg(alg: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """CPU time per request through each mode's ASGI app, in process: no network, no wrk.

    The HTTP server's own cost (parsing, sockets) is the same in every mode, so the difference
    to bare is exactly what authentication adds. Each round builds fresh apps (empty caches)
    and sends ``--cpu-requests`` requests; fresh tokens are never repeated within an app.
    """
    import asyncio

    keydir = workdir / f"cpu-{alg}"
    keydir.mkdir()
    n = args.cpu_requests
    repeated, fresh_file, no_scope, forged = prepare(alg, keydir, n)
    fresh = fresh_file.read_text().split()
    modes = [m for m in MODES if m in args.modes]
    times: dict[tuple[str, str], list[float]] = {(m, k): [] for m in modes for k in args.tokens}

    async def drive(app: Any, tokens: list[str]) -> tuple[float, set[int]]:
        seen: set[int] = set()
        start = time.process_time()
        for token in tokens:
            scope, receive, (send, status) = asgi_request(token)
            await app(scope, receive, send)
            seen.update(status)
        return (time.process_time() - start) / len(tokens), seen

    async def main() -> None:
        for mode in modes:  # prove each mode does the work
            app = build_app(mode, alg, keydir)
            if mode != "bare":
                got = [(await drive(app, [t]))[1] for t in (repeated, no_scope, forged)]
                if got != [{200}, {403}, {401}]:
                    raise SystemExit(f"{mode}/{alg} answers {got} in process")
        for _ in range(args.rounds):
            for kind in args.tokens:
                for mode in modes:
                    app = build_app(mode, alg, keydir)
                    await drive(app, [repeated] * 50)  # warm up imports and code paths
                    per_request, seen = await drive(
                        app, fresh if kind == "fresh" else [repeated] * n
                    )
                    if seen != {200}:
                        raise SystemExit(f"{mode}/{alg}/{kind} answered {seen}")
                    times[(mode, kind)].append(per_request * 1e6)

    asyncio.run(main())
    rows = []
    for (mode, kind), runs in times.items():
        cost = statistics.median(runs)
        bare = statistics.median(times[("bare", kind)]) if ("bare", kind) in times else cost
        rows.append({"alg": alg, "mode": mode, "token": kind, "cpu_us": cost,
                     "overhead_us": cost - bare})  # fmt: skip
    return rows


def print_cpu(rows: list[dict[str, Any]], bare_rps: float | None) -> None:
    """The in-process table; with --bare-rps, the throughput ratio each overhead implies."""
    print("\n| alg | endpoint | token | CPU us/request | added us | projected x bare |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for row in rows:
        projected = ""
        if bare_rps:
            projected = f"{1 / (1 + row['overhead_us'] * bare_rps / 1e6):.2f}"
            if row["mode"].startswith("guard"):
                projected += " " + verdict({**row, "paired_ratio": float(projected)})
        print(
            f"| {row['alg']} | {row['mode']} | {row['token']} | {row['cpu_us']:.1f} | "
            f"{row['overhead_us']:.1f} | {projected} |"
        )


TARGETS = {("repeated", None): 0.95, ("fresh", "HS256"): 0.8, ("fresh", "ES256"): 0.65}


def verdict(row: dict[str, Any]) -> str:
    if not row["mode"].startswith("guard"):
        return ""
    target = TARGETS.get((row["token"], None)) or TARGETS.get((row["token"], row["alg"]))
    if target is None:
        return ""
    return f"{'met' if row['paired_ratio'] >= target else 'MISSED'} (>= {target}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="internal: run one server")
    serve_parser.add_argument("mode", choices=MODES)
    serve_parser.add_argument("alg")
    serve_parser.add_argument("keydir", type=Path)
    serve_parser.add_argument("port", type=int)
    parser.add_argument("--algs", default="HS256,RS256,PS256,ES256,EdDSA")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--tokens", default=",".join(TOKENS))
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--fresh-tokens", type=int, default=40_000)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--cpu", action="store_true", help="measure CPU per request in process instead of wrk"
    )
    parser.add_argument("--cpu-requests", type=int, default=3000)
    parser.add_argument(
        "--bare-rps", type=float, help="with --cpu: a bare req/s from wrk, to project ratios"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.mode, args.alg, args.keydir, args.port)
        return
    args.modes = args.modes.split(",")
    args.tokens = args.tokens.split(",")
    if args.cpu:
        cpu_rows: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="jotauth-bench-") as tmp:
            for alg in args.algs.split(","):
                cpu_rows += cpu_alg(alg, args, Path(tmp))
        rounds = f"median of {args.rounds} rounds of {args.cpu_requests} requests"
        print(f"\nin process, CPU time per request, {rounds}")
        print_cpu(cpu_rows, args.bare_rps)
        if args.json is not None:
            args.json.write_text(json.dumps(cpu_rows, indent=2))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="jotauth-bench-") as tmp:
        for alg in args.algs.split(","):
            rows += bench_alg(alg, args, Path(tmp))
    cpu = platform.processor() or platform.machine()
    print(
        f"\n{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"wrk -t1 -c{args.connections} -d{args.duration:g}s, median of {args.rounds} rounds, "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    if args.markdown:
        print(
            "\n| alg | endpoint | token | req/s | x bare | paired | server CPU us/req "
            "| x bare by CPU | x pyjwt by CPU | p50 ms | p99 ms | target (paired / by CPU) |"
        )
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        if args.markdown:
            print(
                f"| {row['alg']} | {row['mode']} | {row['token']} | {row['rps']:.0f} | "
                f"{row['ratio']:.2f} | {row['paired_ratio']:.2f} | {row['cpu_us']:.0f} | "
                f"{row['cpu_ratio']:.2f} | {row['pyjwt_cpu_ratio']:.2f} | "
                f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
                f"{verdict(row)} / {verdict({**row, 'paired_ratio': row['cpu_ratio']})} |"
            )
        else:
            print(
                f"{row['alg']:6} {row['mode']:14} {row['token']:8} {row['rps']:8.0f} req/s "
                f"{row['ratio']:5.2f}x bare ({row['paired_ratio']:.2f} paired)  "
                f"cpu {row['cpu_us']:.0f} us/req ({row['cpu_ratio']:.2f} by CPU)  "
                f"p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  {verdict(row)}"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
