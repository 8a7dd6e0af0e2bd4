"""Per-request cost of the hardening middleware stack (not a test; run it by hand).

    .venv/bin/python tests/hardening/measure_overhead.py

Calls the ASGI app directly (no socket, no client) so the figure is the middleware's own cost:
a bare FastAPI app against the same app after ``install_hardening`` with CORS, cookie mode,
rate limits (memory), security headers and metrics on. Rounds are interleaved and the median
reported, because the CI machine is shared.
"""

import asyncio
import statistics
import sys
import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI

from jotauth.issuer.hardening import install_hardening
from jotauth.issuer.settings import Settings

BODY = b'{"username": "john", "password": "x"}'


def build(hardened: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/login")
    async def login() -> dict[str, bool]:
        return {"ok": True}

    if hardened:
        settings = Settings(
            cors_origins=("https://app.example",), cookie_mode="on", ip_burst=1e9, ip_rate=1e9
        )
        install_hardening(app, settings)
    return app


async def per_request(app: FastAPI, method: str, path: str, n: int) -> float:
    """Microseconds per request over ``n`` calls."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"auth.test"), (b"content-type", b"application/json")],
        "client": ("203.0.113.1", 1),
        "server": ("auth.test", 443),
        "scheme": "https",
        "http_version": "1.1",
        "root_path": "",
    }

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    apps = {False: build(False), True: build(True)}
    for method, path in (("GET", "/ping"), ("POST", "/login")):
        for app in apps.values():
            await per_request(app, method, path, 200)  # warm up
        rounds: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(11):
            for hardened, app in apps.items():
                rounds[hardened].append(await per_request(app, method, path, 1000))
        bare, hard = statistics.median(rounds[False]), statistics.median(rounds[True])
        sys.stdout.write(
            f"{method} {path}: bare {bare:.1f} us, hardened {hard:.1f} us, "
            f"+{hard - bare:.1f} us per request (median of 11 rounds x 1000)\n"
        )


if __name__ == "__main__":
    asyncio.run(main())
