"""Private PostgreSQL and Redis processes that a test may kill, freeze and bring back.

The shared servers (5432, 6379) are never touched: an outage test starts its own server on a
free 127.0.0.1 port, in a temporary folder, and the outage is real — ``kill()`` is SIGKILL,
``freeze()`` SIGSTOP on the whole process group (PostgreSQL's postmaster and every backend),
``thaw()`` SIGCONT and ``restart()`` a new process on the same data and port.

Where the binaries are missing the test skips with a message saying so, unless
``JOTAUTH_REQUIRE_SERVICES=1`` (as in ``tests/conftest.py``), where it fails instead.
"""

import atexit
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from tests.serve_process import free_port

from jotauth.guard import Guard, RevokedTokenError

__all__ = [
    "MASTER_KEY",
    "SERVICE_TOKEN",
    "PrivatePostgres",
    "PrivateRedis",
    "postgres_binaries",
    "private_postgres",
    "private_redis",
    "redis_binary",
    "serve_env",
    "time_limit",
    "wait_until_refused",
]

# One master key and feed token for every instance of a test (instances share the database).
MASTER_KEY = "q2V9sMDtnB6hyqG7oJH3s8xXbXwD0oHk4tC1mXw7Xyc"
SERVICE_TOKEN = "outage-test-service-token-0123456789abcdef"


def serve_env(database_url: str, **extra: str) -> dict[str, str]:
    """``jotauth serve`` settings for outage tests: short database timeouts, cheap hashing."""
    from tests.serve_process import CHEAP_ARGON2

    return {
        **CHEAP_ARGON2,
        "JOTAUTH_DATABASE_URL": database_url,
        "JOTAUTH_MASTER_KEY": MASTER_KEY,
        "JOTAUTH_SERVICE_TOKENS": SERVICE_TOKEN,
        "JOTAUTH_DB_CONNECT_TIMEOUT": "2",
        "JOTAUTH_DB_STATEMENT_TIMEOUT": "2",
        "JOTAUTH_DB_POOL_TIMEOUT": "2",
        "JOTAUTH_HEALTH_TIMEOUT": "1",
        "JOTAUTH_POLL_INTERVAL": "1",
        "JOTAUTH_RATELIMIT_IP_BURST": "100000",
        "JOTAUTH_RATELIMIT_IP_RATE": "100000",
        **extra,
    }


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail the test (from the main thread) if the block runs longer than ``seconds``."""

    def expired(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"the test ran longer than its {seconds:g} s bound")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _missing(what: str) -> None:
    message = f"{what} is not installed; outage tests start their own server"
    if os.environ.get("JOTAUTH_REQUIRE_SERVICES") == "1":
        pytest.fail(message + "; JOTAUTH_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


def postgres_binaries() -> Path:
    """The folder holding ``initdb`` and ``postgres`` (newest version), or skip."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    on_path = shutil.which("postgres")
    if found:
        return Path(found[-1]).parent
    if on_path:
        return Path(on_path).parent
    _missing("PostgreSQL (initdb, postgres)")
    raise AssertionError("unreachable")


def redis_binary() -> str:
    """The ``redis-server`` executable, or skip."""
    found = shutil.which("redis-server")
    if found is None:
        _missing("redis-server")
        raise AssertionError("unreachable")
    return found


def _as_postgres() -> dict[str, str]:
    """Popen arguments that run the server as ``postgres`` when the tests run as root."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def _wait_port(port: int, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _descendants(root: int) -> list[int]:
    """Every process below ``root``, read from /proc (Linux)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class _Process:
    """A server process in its own process group (so a freeze stops every child too)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # PostgreSQL's backends call setsid(): the group alone would miss them.
        for pid in [self.process.pid, *_descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL the server and its children: connections are reset, nothing shuts down."""
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        if self.process is not None:
            children = _descendants(self.process.pid)
            self.process.wait(10)
            for pid in children:  # backends left behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing ever answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after a freeze."""
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        """End the server for good (the test's cleanup)."""
        self.kill()


class PrivatePostgres(_Process):
    """A PostgreSQL cluster of the test's own, trust authentication, on 127.0.0.1 only."""

    def __init__(self, folder: Path, port: int) -> None:
        super().__init__()
        self.folder = folder
        self.port = port
        self.log = folder / "postgres.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> None:
        """Start (or restart, after a kill) the server and wait until it accepts queries."""
        bin_dir = postgres_binaries()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(self.folder / "data"),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.folder),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **_as_postgres(),  # type: ignore[arg-type]
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until a query succeeds."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                    connect_timeout=1,
                ) as connection:  # fmt: skip
                    connection.execute("SELECT 1")
                return
            except psycopg.Error:
                if time.monotonic() > deadline or (
                    self.process is not None and self.process.poll() is not None
                ):
                    raise RuntimeError(
                        "private PostgreSQL did not start:\n" + self.log.read_text()[-2000:]
                    ) from None
                time.sleep(0.1)

    def restart(self) -> None:
        """Kill whatever runs and start again on the same data and port (crash recovery)."""
        self.kill()
        self.start()


class PrivateRedis(_Process):
    """A throw-away Redis: no persistence, 127.0.0.1 only."""

    def __init__(self, folder: Path, port: int) -> None:
        super().__init__()
        self.folder = folder
        self.port = port
        self.log = folder / "redis.log"

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        """Start (or restart) the server and wait until it listens."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    redis_binary(),
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.folder),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_port(self.port, timeout)

    def restart(self) -> None:
        """Kill whatever runs and start again on the same port (the data is gone)."""
        self.kill()
        self.start()


_TEMPLATE: Path | None = None


def _template() -> Path:
    """One ``initdb`` per test session; each server copies the result (much faster)."""
    global _TEMPLATE
    if _TEMPLATE is None or not _TEMPLATE.exists():
        bin_dir = postgres_binaries()
        root = Path(tempfile.mkdtemp(prefix="jotauth-pg-template-"))
        atexit.register(shutil.rmtree, root, True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **_as_postgres(),  # type: ignore[arg-type]
        )
        _TEMPLATE = root
    return _TEMPLATE


@contextlib.contextmanager
def private_postgres(*, start: bool = True) -> Iterator[PrivatePostgres]:
    """A private PostgreSQL (started unless ``start`` is false), removed when the block ends."""
    template = _template()
    folder = Path(tempfile.mkdtemp(prefix="jotauth-pg-"))
    try:
        subprocess.run(["cp", "-a", str(template / "data"), str(folder / "data")], check=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server = PrivatePostgres(folder, free_port())
        if start:
            server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A started private Redis, removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="jotauth-redis-"))
    server = PrivateRedis(folder, free_port())
    try:
        redis_binary()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def wait_until_refused(
    guard: Guard, tokens: Iterable[str], seconds: float, interval: float = 0.1
) -> None:
    """Fail unless ``guard`` refuses every one of ``tokens`` as revoked within ``seconds``."""
    deadline = time.monotonic() + seconds
    pending = list(tokens)
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} logged-out tokens still pass"
        still = []
        for token in pending:
            try:
                guard.authenticate_sync(token)
            except RevokedTokenError:
                continue
            still.append(token)
        pending = still
        time.sleep(interval)
