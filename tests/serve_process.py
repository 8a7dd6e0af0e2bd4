"""``jotauth serve`` as a user runs it: a real process on a free 127.0.0.1 port, for tests
(and the example services beside it, ``ChildProcess``).

Several suites (issuer, token tools, browser pages) drive the real server over real
sockets; they share this one way to start it, wait for ``/healthz`` and stop it cleanly. The
server never inherits the developer's ``JOTAUTH_*`` settings: each test says what it runs with.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

__all__ = [
    "CHEAP_ARGON2",
    "ChildProcess",
    "ServeProcess",
    "eventually",
    "free_port",
    "jotauth_executable",
    "running_serve",
]

# Argon2id at its cheapest, for tests that are not about password hashing.
CHEAP_ARGON2 = {"JOTAUTH_ARGON2_TIME_COST": "1", "JOTAUTH_ARGON2_MEMORY_COST": "1024"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def jotauth_executable() -> str:
    """The ``jotauth`` script of the interpreter running the tests."""
    return str(Path(sys.executable).with_name("jotauth"))


@dataclass(frozen=True)
class ServeProcess:
    """A started server: its base URL and the folder it runs in (database, key, log)."""

    base: str
    folder: Path
    log: Path

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(errors="replace")


@contextmanager
def running_serve(
    folder: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    timeout: float = 60.0,
) -> Iterator[ServeProcess]:
    """Run ``jotauth serve --host 127.0.0.1 --port P ARGS`` in ``folder`` until the block ends."""
    port = free_port() if port is None else port
    clean = {name: value for name, value in os.environ.items() if not name.startswith("JOTAUTH_")}
    log_path = folder / f"serve-{port}.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [jotauth_executable(), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=folder,
            env={**clean, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = ServeProcess(base, folder, log_path)
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jotauth serve did not start:\n{server.output()}")
                time.sleep(0.1)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


class ChildProcess:
    """Any program serving HTTP on 127.0.0.1:port (the example services and apps); started
    and waited for at construction, its output kept in ``log`` for failures."""

    def __init__(self, name: str, args: list[str], port: int, env: dict[str, str], log: Path):
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            args, env=env, stdout=self._out, stderr=subprocess.STDOUT, cwd=log.parent
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._out.close()
                raise AssertionError(f"{name} exited early:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"{name} did not listen on {port}:\n{self.output()}")

    def output(self) -> str:
        """The last 4000 characters it printed."""
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Terminate it (kill after 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def eventually(check: Callable[[], bool], seconds: float) -> bool:
    """Whether ``check`` becomes true within ``seconds`` (the services poll in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
