"""Instructions per request of each ``http_guard.py`` mode, counted by valgrind's callgrind.

Wall time and even CPU time move with the neighbours on a shared machine; the number of
instructions a request executes does not. One uvicorn worker per algorithm runs under
``valgrind --tool=callgrind`` and serves every mode's app (the very apps ``http_guard.py``
serves, each with its own guard and cache) at ``/<token kind>/<mode>``; the driver, outside
valgrind, sends the requests over one keep-alive HTTP connection to 127.0.0.1. Before each
case's counted requests it zeroes the counters (``callgrind_control -z``) and after them dumps
them (``callgrind_control -d``), so start-up, imports and warm-up are not counted, and every
count includes uvicorn's own per-request work, as a real deployment pays it. Instructions are
not time (a cache miss costs more than an add), but they are the noise-free ratio of work
between two paths that run the same kind of code.

    .venv/bin/python bench/http_guard_callgrind.py                        # 5 algs, ~10 min
    .venv/bin/python bench/http_guard_callgrind.py --algs HS256 --requests 200

"x bare" is the bare endpoint's instructions per request divided by the mode's (the throughput
ratio of a CPU-bound one-worker server, to the extent that instructions stand for time);
"x pyjwt" is FastAPI + PyJWT's instructions divided by
the mode's (above 1: cheaper than PyJWT). Needs valgrind (Debian: apt-get install valgrind).
"""

import argparse
import http.client
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http_guard

HERE = Path(__file__).resolve()
TARGETS = {"repeated": 0.95, "HS256": 0.8, "ES256": 0.65}


def child(alg: str, keydir: Path, port: int, modes: list[str], kinds: list[str]) -> None:
    """Runs under valgrind: one uvicorn worker serving every case at ``/<kind>/<mode>``.

    Each case has its own app (its own guard and empty cache); a dispatcher picks the app by
    path and hands it ``/articles``, the same few instructions for every case.
    """
    import uvicorn

    apps = {
        f"/{kind}/{mode}": http_guard.build_app(mode, alg, keydir)
        for kind in kinds
        for mode in modes
    }

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        app = apps[scope["path"]]
        await app({**scope, "path": "/articles", "raw_path": b"/articles"}, receive, send)

    uvicorn.run(dispatch, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                lifespan="off")  # fmt: skip


def control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)  # noqa: S603, S607


def count_alg(alg: str, args: argparse.Namespace, workdir: Path) -> dict[tuple[str, str], float]:
    """Instructions per request of each case, served over HTTP by uvicorn under callgrind."""
    keydir = workdir / alg
    keydir.mkdir()
    repeated, fresh_file, _, _ = http_guard.prepare(alg, keydir, args.requests + 20)
    fresh = fresh_file.read_text().split()
    warm, timed = fresh[:20], fresh[20 : 20 + args.requests]
    out = workdir / f"cg-{alg}"
    port = http_guard.free_port()
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
        sys.executable, str(HERE), "child", alg, str(keydir), str(port), args.modes, args.tokens,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                connection.connect()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {alg} server under valgrind did not start") from None
                time.sleep(0.5)

        def send(path: str, tokens: list[str]) -> set[int]:
            seen = set()
            for token in tokens:
                connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                response = connection.getresponse()
                response.read()
                seen.add(response.status)
            return seen

        counts: dict[tuple[str, str], float] = {}
        for kind in args.tokens.split(","):
            for mode in args.modes.split(","):
                path = f"/{kind}/{mode}"
                send(path, [repeated] * 50 + (warm if kind == "fresh" else []))
                control("-z", str(process.pid))
                seen = send(path, timed if kind == "fresh" else [repeated] * args.requests)
                control("-d", f"{mode}-{kind}", str(process.pid))
                if seen != {200}:
                    raise SystemExit(f"{alg} {mode} {kind}: the server answered {seen}")
                dumps = sorted(workdir.glob(f"cg-{alg}.{process.pid}.*"), key=_dump_number)
                total = re.search(
                    r"^(?:summary|totals): (\d+)", dumps[-1].read_text(), re.MULTILINE
                )
                if total is None:
                    raise SystemExit(f"no instruction count in {dumps[-1]}")
                counts[(mode, kind)] = int(total.group(1)) / args.requests
                print(f"   {alg} {mode:14} {kind:8} {counts[(mode, kind)]:12,.0f} instr/request",
                      file=sys.stderr)  # fmt: skip
        connection.close()
        return counts
    finally:
        process.terminate()
        process.wait(60)


def _dump_number(path: Path) -> int:
    return int(path.name.rsplit(".", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    child_parser = sub.add_parser("child", help="internal: the process under valgrind")
    child_parser.add_argument("alg")
    child_parser.add_argument("keydir", type=Path)
    child_parser.add_argument("port", type=int)
    child_parser.add_argument("modes")
    child_parser.add_argument("kinds")
    parser.add_argument("--algs", default="HS256,RS256,PS256,ES256,EdDSA")
    parser.add_argument("--modes", default=",".join(http_guard.MODES))
    parser.add_argument("--tokens", default=",".join(http_guard.TOKENS))
    parser.add_argument("--requests", type=int, default=300, help="counted requests per case")
    args = parser.parse_args()
    if args.command == "child":
        child(args.alg, args.keydir, args.port, args.modes.split(","), args.kinds.split(","))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    print("| alg | endpoint | token | instructions/request | x bare | x pyjwt | target |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory(prefix="jotauth-callgrind-") as tmp:
        for alg in args.algs.split(","):
            counts = count_alg(alg, args, Path(tmp))
            for (mode, kind), count in counts.items():
                bare = counts.get(("bare", kind))
                peer = counts.get(("pyjwt", kind))
                ratio = bare / count if bare else float("nan")
                target = TARGETS["repeated"] if kind == "repeated" else TARGETS.get(alg)
                verdict = ""
                if mode.startswith("guard"):
                    parts = []
                    if target is not None:
                        parts.append(
                            f"{'met' if ratio >= target else 'MISSED'} (>= {target}x bare)"
                        )
                    if peer:
                        parts.append(
                            "cheaper than pyjwt" if count < peer else "NOT cheaper than pyjwt"
                        )
                    verdict = "; ".join(parts)
                print(
                    f"| {alg} | {mode} | {kind} | {count:,.0f} | {ratio:.2f} | "
                    f"{(peer / count) if peer else float('nan'):.2f} | {verdict} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
