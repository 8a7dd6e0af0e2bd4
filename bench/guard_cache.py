"""The guard under a full token cache and a large revocation list: misses, stalls, GC pauses.

In process (no HTTP: the HTTP server's cost is the same with or without these), one guard
verifying HS256 tokens, the cheapest signature, so that whatever the cache and the revocation
view cost is not hidden behind the primitive:

  miss, cache off     ``cache_size=0``: every request verifies (the baseline of a miss)
  miss, cache full    ``cache_size=N`` filled with N live tokens, then a stream of new tokens:
                      every request verifies and evicts
  hit, cache full     a token already cached, on the same full cache
  purge, nothing due  one ``RevocationView.purge`` on a view of R live revocations (what every
                      feed poll runs)
  purge, 1% due       the same with R/100 entries due

Each request is timed on its own (``perf_counter_ns``), so the table gives the median and the
worst single request, the stall a client would see. Miss cases alternate in rounds and report
the median over rounds. During the "cache full" stream ``gc.callbacks`` time every collection
by generation: a large cache is a large heap, and a full (generation 2) collection walks it.

    .venv/bin/python bench/guard_cache.py                         # N=100k, R=100k, 5 rounds
    .venv/bin/python bench/guard_cache.py --size 10000 --rounds 3 --markdown

It uses only the public API, so the same script measures another checkout
(``PYTHONPATH=/path/to/other/src``) for an old-vs-new comparison.
"""

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from jotauth import jose
from jotauth.guard import Guard, RevocationView
from jotauth.guard.testing import make_token

ISSUER = "https://auth.bench"
AUDIENCE = "articles"


def tokens(key: jose.Key, start: int, count: int, now: int) -> list[str]:
    """``count`` distinct access tokens, valid for an hour from ``now``."""
    return [
        make_token(
            key,
            sub=str(n),
            issuer=ISSUER,
            audience=AUDIENCE,
            scope="articles:read comments:read",
            roles=["reader"],
            sid=f"family-{n}",
            now=now,
            expires_in=3600,
        )
        for n in range(start, start + count)
    ]


class GCTimer:
    """Wall time of every garbage collection while installed, by generation."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
        else:
            self.pauses[info["generation"]].append((time.perf_counter_ns() - self._started) / 1e3)

    def __enter__(self) -> "GCTimer":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def timed(call: Callable[[str], Any], stream: list[str]) -> list[tuple[float, float]]:
    """(wall, CPU) microseconds of each call, one by one. The CPU time (this thread's) is what
    the call itself spent: the worst of it is a stall the guard caused, where the worst wall
    time may be the scheduler lending the core to a neighbour."""
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    out = []
    for token in stream:
        start, start_cpu = wall(), cpu()
        call(token)
        out.append(((wall() - start) / 1e3, (cpu() - start_cpu) / 1e3))
    return out


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    ordered = sorted(w for w, _ in samples)
    cpu = sorted(c for _, c in samples)
    return {
        "median_us": statistics.median(ordered),
        "cpu_median_us": statistics.median(cpu),
        "p99_us": ordered[int(len(ordered) * 0.99) - 1],
        "max_us": ordered[-1],
        "cpu_max_us": cpu[-1],
    }


def bench_cache(
    args: argparse.Namespace,
) -> tuple[list[dict[str, Any]], dict[str, dict[int, list[float]]], dict[str, float]]:
    key = jose.Key.from_secret(os.urandom(32), "HS256", kid="bench")
    now = int(time.time())
    print(f"making {args.size + args.misses * args.rounds} tokens", file=sys.stderr)
    filler = tokens(key, 0, args.size, now)
    streams = [
        tokens(key, args.size + r * args.misses, args.misses, now) for r in range(args.rounds)
    ]
    full = Guard(keys=key, issuer=ISSUER, audience=AUDIENCE, cache_size=args.size)
    collect_empty = full_collection()
    with GCTimer() as filling:
        for token in filler:
            full.authenticate_sync(token)
    assert len(full.cache) == args.size, "the cache did not fill"
    collections = {"full collection, cache empty": collect_empty,
                   "full collection, cache full": full_collection()}  # fmt: skip
    results: dict[str, list[list[float]]] = {"miss, cache off": [], "miss, cache full": [],
                                             "hit, cache full": []}  # fmt: skip
    gc_timer = GCTimer()
    for r in range(args.rounds):
        off = Guard(keys=key, issuer=ISSUER, audience=AUDIENCE, cache_size=0)
        off.authenticate_sync(filler[0])
        stream = streams[r]
        order = ["off", "full"] if r % 2 == 0 else ["full", "off"]
        for which in order:
            if which == "off":
                results["miss, cache off"].append(timed(off.authenticate_sync, stream))
            else:
                with gc_timer:
                    results["miss, cache full"].append(timed(full.authenticate_sync, stream))
                assert len(full.cache) <= args.size
        hot = stream[-1]  # cached by the full guard just now
        results["hit, cache full"].append(timed(full.authenticate_sync, [hot] * args.misses))
    rows = []
    for case, runs in results.items():
        per_round = [summary(run) for run in runs]
        rows.append(
            {
                "case": case,
                "median_us": statistics.median(s["median_us"] for s in per_round),
                "cpu_median_us": statistics.median(s["cpu_median_us"] for s in per_round),
                "p99_us": statistics.median(s["p99_us"] for s in per_round),
                "max_us": max(s["max_us"] for s in per_round),
                "cpu_max_us": max(s["cpu_max_us"] for s in per_round),
            }
        )
    pauses = {"filling the cache": filling.pauses, "cache full (the miss stream)": gc_timer.pauses}
    return rows, pauses, collections


def full_collection() -> float:
    """Median wall microseconds of an explicit ``gc.collect()`` (what a generation-2 pass
    costs on the heap as it is now)."""
    samples = []
    for _ in range(5):
        start = time.perf_counter_ns()
        gc.collect()
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return statistics.median(samples)


def bench_purge(args: argparse.Namespace) -> list[dict[str, Any]]:
    now = time.time()
    rows = []
    for label, due in (("purge, nothing due", 0), ("purge, 1% due", args.revocations // 100)):
        samples = []
        for _ in range(args.rounds):
            view = RevocationView()
            for n in range(args.revocations):
                exp = now - 1 if n < due else now + 3600 + n
                view.revoke_token(f"jti-{n}", exp)
            start = time.perf_counter_ns()
            view.purge(now)
            samples.append((time.perf_counter_ns() - start) / 1e3)
            assert len(view) == args.revocations - due
        median, worst = statistics.median(samples), max(samples)
        rows.append({"case": label, "median_us": median, "cpu_median_us": median,
                     "p99_us": float("nan"), "max_us": worst, "cpu_max_us": worst})  # fmt: skip
    return rows


def commit() -> str:
    try:
        where = os.path.dirname(jose.__file__)
        out = subprocess.run(  # noqa: S603
            ["git", "-C", where, "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="cache size N (filled)")
    parser.add_argument("--misses", type=int, default=20_000, help="new tokens per round")
    parser.add_argument("--revocations", type=int, default=100_000, help="revocations R")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows, pauses, collections = bench_cache(args)
    rows += bench_purge(args)
    print(
        f"\njotauth {commit()} ({os.path.dirname(os.path.dirname(jose.__file__))}), "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; N={args.size}, {args.misses} misses x "
        f"{args.rounds} rounds, R={args.revocations}; load {load_before:.1f} -> "
        f"{os.getloadavg()[0]:.1f}"
    )
    off = next(r["cpu_median_us"] for r in rows if r["case"] == "miss, cache off")
    print(
        "\n| case | median us | CPU median us | x miss with cache off (CPU) | p99 us "
        "| worst single us | worst single CPU us |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        is_request = row["case"].startswith(("miss", "hit"))
        ratio = f"{row['cpu_median_us'] / off:.2f}" if is_request else ""
        print(
            f"| {row['case']} | {row['median_us']:.1f} | {row['cpu_median_us']:.1f} | {ratio} | "
            f"{row['p99_us']:.1f} | {row['max_us']:.0f} | {row['cpu_max_us']:.0f} |"
        )
    print(
        "\n| GC during | generation | collections | median pause us | worst pause us | total ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for phase, by_generation in pauses.items():
        for generation, times in by_generation.items():
            if times:
                print(
                    f"| {phase} | {generation} | {len(times)} | {statistics.median(times):.0f} | "
                    f"{max(times):.0f} | {sum(times) / 1e3:.1f} |"
                )
            else:
                print(f"| {phase} | {generation} | 0 | | | |")
    for label, micros in collections.items():
        print(f"{label}: {micros / 1e3:.1f} ms (gc.collect(), median of 5)")


if __name__ == "__main__":
    main()
