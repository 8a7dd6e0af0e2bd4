"""What DPoP (RFC 9449) adds to a guarded request: one proof verification and a replay check.

In process, like ``http_guard.py --cpu``: a FastAPI app (``GET /articles``, a small JSON body)
driven through ASGI with the scope uvicorn would hand it (``http_guard.asgi_request``), no
network, so the difference between modes is exactly what authentication adds:

  bare            no authentication
  bearer          ``GuardMiddleware`` and one repeated Bearer token (the guard's cache answers:
                  what a client reusing its access token costs)
  dpop-ES256      the same middleware and one repeated token bound to a P-256 key, sent as
                  ``Authorization: DPoP`` with a new proof per request (pre-made before timing,
                  each with its own jti): the token comes from the cache, the proof is verified
                  (a P-256 signature) and its jti recorded in the in-memory replay cache
  dpop-EdDSA      the same with an Ed25519 client key
  dpop-ES256+redis (with ``--redis URL``) the replay cache in Redis: one round trip per request;
                  its CPU is the client side only, so the wall time is shown too

Before timing, every DPoP mode must answer 200 to a fresh proof, 401 to the same proof again
(a replay) and 401 to the bound token sent as Bearer, so no mode is fast because it skips work.
Modes alternate within each round; each figure is the median over rounds of the CPU time
(``time.process_time``) per request. Below the table, the two parts timed alone:
``jose.verify_proof`` and ``MemoryReplayCache.seen``.

    .venv/bin/python bench/guard_dpop.py                       # 5 rounds of 2000 requests
    .venv/bin/python bench/guard_dpop.py --rounds 3 --requests 1000 --redis redis://127.0.0.1:6379/0
"""

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_guard import asgi_request

from jotauth import jose
from jotauth.guard import Guard, MemoryReplayCache, RedisReplayCache
from jotauth.guard.asgi import GuardMiddleware
from jotauth.guard.testing import make_token

ISSUER = "https://auth.bench"
AUDIENCE = "articles"
URL = "http://127.0.0.1/articles"  # what asgi_request's scope says: http, Host 127.0.0.1


def build_app(guard: Guard | None) -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    body = {"articles": [{"id": 1, "title": "JWT explained"}]}

    @app.get("/articles")
    async def articles() -> Any:
        return body

    return app if guard is None else GuardMiddleware(app, guard, scopes=["articles:read"])


def token_for(issuer_key: jose.Key, client_key: jose.Key | None) -> str:
    return make_token(
        issuer_key,
        sub="1000",
        issuer=ISSUER,
        audience=AUDIENCE,
        scope="articles:read comments:read",
        roles=["reader"],
        permissions={"articles": ["read"], "comments": ["read"]},
        sid="family-1",
        expires_in=3600,
        bound_to=client_key,
    )


class Mode:
    """One way of sending the request: its app (rebuilt per round) and its header sets."""

    def __init__(
        self, name: str, issuer_key: jose.Key, client_key: jose.Key | None, redis_url: str | None
    ) -> None:
        self.name = name
        self.issuer_key = issuer_key
        self.client_key = client_key
        self.redis_url = redis_url
        self.token = None if name == "bare" else token_for(issuer_key, client_key)

    def app(self) -> Any:
        if self.name == "bare":
            return build_app(None)
        replay: Any = MemoryReplayCache()
        if self.redis_url is not None:
            replay = RedisReplayCache(self.redis_url, prefix=f"jotauth:bench:{uuid.uuid4().hex}:")
        guard = Guard(keys=self.issuer_key.public(), issuer=ISSUER, audience=AUDIENCE,
                      dpop_replay=replay)  # fmt: skip
        return build_app(guard)

    def requests(self, count: int) -> list[tuple[str | None, list[tuple[bytes, bytes]]]]:
        """``count`` (token, extra headers) pairs; DPoP modes get a new proof in each."""
        if self.client_key is None:
            return [(self.token, [])] * count
        assert self.token is not None
        token = self.token
        return [(None, self.dpop(token)) for _ in range(count)]

    def dpop(self, token: str) -> list[tuple[bytes, bytes]]:
        assert self.client_key is not None
        proof = jose.make_proof(self.client_key, "GET", URL, access_token=token)
        return [(b"authorization", b"DPoP " + token.encode()), (b"dpop", proof.encode())]


async def drive(app: Any, requests: list[tuple[str | None, list[tuple[bytes, bytes]]]]) -> Any:
    statuses: set[int] = set()
    start, start_wall = time.process_time(), time.perf_counter()
    for token, extra in requests:
        scope, receive, (send, status) = asgi_request(token)
        scope["headers"] = scope["headers"] + extra
        await app(scope, receive, send)
        statuses.update(status)
    count = len(requests)
    cpu = (time.process_time() - start) / count * 1e6
    return cpu, (time.perf_counter() - start_wall) / count * 1e6, statuses


async def prove(mode: Mode) -> None:
    """The mode does the work: 200 for a fresh proof, 401 for a replay and for a downgrade."""
    app = mode.app()
    if mode.client_key is None:
        return
    assert mode.token is not None
    headers = mode.dpop(mode.token)
    got = [(await drive(app, [(None, headers)]))[2] for _ in range(2)]
    got.append((await drive(app, [(mode.token, [])]))[2])
    if got != [{200}, {401}, {401}]:
        raise SystemExit(f"{mode.name} answers {got} (want 200, 401 replay, 401 downgrade)")


def parts(client_key: jose.Key, token: str, count: int) -> dict[str, float]:
    """CPU microseconds of verify_proof and of one replay-cache check, timed alone."""
    proofs = [jose.make_proof(client_key, "GET", URL, access_token=token) for _ in range(count)]
    now = time.time()
    start = time.process_time()
    verified = [
        jose.verify_proof(p, htm="GET", htu=URL, now=now, access_token=token) for p in proofs
    ]
    verify_us = (time.process_time() - start) / count * 1e6
    cache = MemoryReplayCache()
    start = time.process_time()
    for proof in verified:
        cache.seen(proof.jti, proof.jkt, proof.expires_at)
    return {"verify_proof": verify_us, "replay": (time.process_time() - start) / count * 1e6}


def commit() -> str:
    try:
        out = subprocess.run(  # noqa: S603
            ["git", "-C", os.path.dirname(jose.__file__), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--redis", help="a Redis URL: also time the Redis replay cache")
    args = parser.parse_args()
    issuer_key = jose.Key.generate("EdDSA", kid="bench")
    es256, eddsa = jose.Key.generate("ES256"), jose.Key.generate("EdDSA")
    modes = [
        Mode("bare", issuer_key, None, None),
        Mode("bearer", issuer_key, None, None),
        Mode("dpop-ES256", issuer_key, es256, None),
        Mode("dpop-EdDSA", issuer_key, eddsa, None),
    ]
    if args.redis:
        modes.append(Mode("dpop-ES256+redis", issuer_key, es256, args.redis))
    load_before = os.getloadavg()[0]
    cpu: dict[str, list[float]] = {mode.name: [] for mode in modes}
    wall: dict[str, list[float]] = {mode.name: [] for mode in modes}

    async def run() -> None:
        for mode in modes:
            await prove(mode)
        for round_number in range(args.rounds):
            ordered = modes if round_number % 2 == 0 else modes[::-1]
            for mode in ordered:
                app = mode.app()
                await drive(app, mode.requests(50))  # warm the token cache and the code paths
                requests = mode.requests(args.requests)  # proofs made now: fresh when timed
                per_cpu, per_wall, statuses = await drive(app, requests)
                if statuses != {200}:
                    raise SystemExit(f"{mode.name} answered {statuses}")
                cpu[mode.name].append(per_cpu)
                wall[mode.name].append(per_wall)

    asyncio.run(run())
    median = {name: statistics.median(values) for name, values in cpu.items()}
    bare, bearer = median["bare"], median["bearer"]
    print(
        f"\njotauth {commit()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; median of {args.rounds} "
        f"rounds of {args.requests} requests; load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(
        "\n| mode | CPU µs/request | wall µs/request | added µs vs bare | added µs vs bearer "
        "| x bare | x bearer |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, value in median.items():
        print(
            f"| {name} | {value:.1f} | {statistics.median(wall[name]):.1f} | {value - bare:.1f} "
            f"| {value - bearer:.1f} | {bare / value:.2f} | {bearer / value:.2f} |"
        )
    token = modes[2].token
    assert token is not None
    print("\nalone, CPU µs per call (median of 3 x 1000; replay check: MemoryReplayCache.seen):")
    for name, key in (("ES256", es256), ("EdDSA", eddsa)):
        runs = [parts(key, token_for(issuer_key, key), 1000) for _ in range(3)]
        verify_us = statistics.median(r["verify_proof"] for r in runs)
        replay_us = statistics.median(r["replay"] for r in runs)
        print(f"  {name}: jose.verify_proof {verify_us:.1f}, replay check {replay_us:.2f}")


if __name__ == "__main__":
    main()
