"""client_credentials and introspection over HTTP: CPU per request of the server process itself.

``bench/issuer.py`` drives the app in its own process, so its CPU per request includes the
httpx client's (about half of it for the cheap operations). Here one uvicorn worker
(``jotauth serve --workers 1``'s stack: uvicorn, uvloop and httptools when installed, the
shipped settings but the per-address window, see ``bench/issuer.py``) serves the app in a
child process on 127.0.0.1, and wrk (one thread, ``--connections`` keep-alive connections)
sends the requests; the server process's own CPU time (/proc, user + system) divided by the
requests it answered is the cost of a request, and 1000 / that cost is what one core can
serve. Requests/s and p50 / p99 are wrk's, on a machine whose cores wrk shares.

- ``client_credentials``: ``POST /oauth/token`` with ``client_secret_basic``;
- ``introspect``: ``POST /oauth/introspect`` of one live service token by a resource server
  client (Basic); the answer is checked to be ``"active": true`` before timing.

Refresh and login are ``bench/issuer_http.py``'s (a Lua script rotates each connection's refresh
token). Needs wrk and Linux (/proc).

    PYTHONPATH=src .venv/bin/python bench/provider_http.py --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http_guard

import issuer

HERE = Path(__file__).resolve()
OPS = ("client_credentials", "introspect")


def child(url: str, port: int, out: Path) -> None:
    """The server: the bench's settings and clients, then one uvicorn worker."""
    import anyio
    import uvicorn

    from jotauth.issuer.app import create_app

    args = argparse.Namespace(profile="shipped", argon2_t=1, argon2_m=8, argon2_p=1)
    app = create_app(issuer._settings(url, args))

    async def setup() -> None:
        await issuer._clients(app)

    anyio.run(setup)
    out.write_text(json.dumps(issuer.HEADERS))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _post(base: str, path: str, form: dict[str, str], headers: dict[str, str]) -> Any:
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
        base + path, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def _script(folder: Path, op: str, form: dict[str, str], headers: dict[str, str]) -> Path:
    body = urllib.parse.urlencode(form)
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body)}",
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
        *(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()),
    ]
    script = folder / f"{op}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def measure(base: str, pid: int, folder: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    headers = json.loads((folder / "headers.json").read_text())
    grant = {"grant_type": "client_credentials"}
    token = _post(base, "/oauth/token", grant, headers["service"])["access_token"]
    answer = _post(base, "/oauth/introspect", {"token": token}, headers["resource"])
    if answer.get("active") is not True:
        raise SystemExit(f"introspect: the token is not active: {answer}")
    cases = {
        "client_credentials": ("/oauth/token", grant, headers["service"]),
        "introspect": ("/oauth/introspect", {"token": token}, headers["resource"]),
    }
    rows = []
    for op in args.ops.split(","):
        path, form, auth = cases[op]
        script = _script(folder, op, form, auth)
        http_guard.run_wrk(base + path, script, 1.0, args.connections)  # warm
        before = http_guard.cpu_seconds(pid)
        figures = http_guard.run_wrk(base + path, script, args.seconds, args.connections)
        spent = http_guard.cpu_seconds(pid) - before
        figures["cpu_ms"] = 1000 * spent / max(1, figures["requests"])
        figures["per_core"] = 1000 / figures["cpu_ms"]
        rows.append({"op": op, **figures})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--child", nargs=3, metavar=("URL", "PORT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), Path(args.child[2]))
        return 0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(issuer.PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    port = http_guard.free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            url = f"{issuer.PG_URL}?options=-csearch_path%3D{schema}"
            out = folder / "headers.json"
            process = subprocess.Popen(  # noqa: S603 - our own script
                [sys.executable, str(HERE), "--child", url, str(port), str(out)],
                stdout=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + 60
                while not out.exists() or not _up(base):
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the server did not start")
                    time.sleep(0.2)
                rows = measure(base, process.pid, folder, args)
            finally:
                process.terminate()
                process.wait(10)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    for row in rows:
        print(
            f"postgres  {row['op']:<18} {row['rps']:8.1f}/s  p50 {row['p50_ms']:6.2f} ms  "
            f"p99 {row['p99_ms']:6.2f} ms  server CPU {row['cpu_ms']:.3f} ms/request = "
            f"{row['per_core']:.0f}/s per core"
        )
    print(f"load after {os.getloadavg()}")
    return 0


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1):  # noqa: S310
            return True
    except OSError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
