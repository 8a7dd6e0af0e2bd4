"""PostgreSQL killed, frozen and brought back under a real ``jotauth serve`` (issue 13.4/5/8).

Each test starts its own PostgreSQL (``tests.outage``); the shared one on 5432 is never
touched. Requests go over real sockets on 127.0.0.1, one keep-alive connection per client.
"""

import http.client
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.outage import PrivatePostgres, private_postgres, serve_env, time_limit
from tests.serve_process import ServeProcess, free_port, jotauth_executable, running_serve

pytestmark = pytest.mark.slow

LOGIN = json.dumps({"username": "john", "password": "password123"})


class KeepAlive:
    """One HTTP/1.1 connection reused for every request, as a client library keeps one."""

    def __init__(self, base: str, timeout: float = 20.0) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.connection.connect()
        self.socket = self.connection.sock

    def request(
        self, method: str, path: str, body: str | None = None
    ) -> tuple[int, dict[str, str], dict[str, object], float]:
        """Status, headers, JSON body and seconds taken."""
        start = time.monotonic()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        took = time.monotonic() - start
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = {"raw": data.decode(errors="replace")}
        return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed, took

    def same_connection(self) -> bool:
        """Whether the server kept the first connection open (no reconnect happened)."""
        return self.connection.sock is self.socket

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def database() -> Iterator[PrivatePostgres]:
    with time_limit(120), private_postgres() as server:
        yield server


@pytest.fixture
def server(database: PrivatePostgres, tmp_path: Path) -> Iterator[ServeProcess]:
    with running_serve(tmp_path, "--demo", env=serve_env(database.url)) as served:
        yield served


def _assert_unavailable(status: int, headers: dict[str, str], body: dict[str, object]) -> None:
    assert status == 503, body
    assert body["error"] == "temporarily_unavailable"
    assert int(headers["retry-after"]) >= 1
    assert "close" not in headers.get("connection", "")


def test_database_down_answers_503_with_retry_after_and_logs_once(
    database: PrivatePostgres, server: ServeProcess
) -> None:
    """PostgreSQL killed: 503 temporarily_unavailable with Retry-After, keep-alive kept,
    one log line for the outage and one for the recovery, no traceback (was: 500 each)."""
    client = KeepAlive(server.base)
    assert client.request("POST", "/login", LOGIN)[0] == 200
    database.kill()
    for _ in range(20):
        status, headers, body, _took = client.request("POST", "/login", LOGIN)
        _assert_unavailable(status, headers, body)
    status, headers, body, _took = client.request("GET", "/healthz")
    assert (status, body) == (503, {"status": "unavailable"})
    assert client.same_connection()
    database.start()
    deadline = time.monotonic() + 15
    while client.request("POST", "/login", LOGIN)[0] != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)
    assert client.same_connection()
    client.close()
    log = server.output()
    assert "Traceback" not in log
    assert "500" not in [line.split('" ')[-1][:3] for line in log.splitlines() if '" ' in line]
    assert log.count("unavailable (") == 1, log
    assert log.count("is back after") == 1, log


def test_database_frozen_every_request_and_healthz_answer_within_deadlines(
    database: PrivatePostgres, server: ServeProcess
) -> None:
    """PostgreSQL stopped by SIGSTOP: login and /healthz answer 503 within their deadlines
    (was: both hung for as long as the database)."""
    client = KeepAlive(server.base)
    assert client.request("POST", "/login", LOGIN)[0] == 200
    health = KeepAlive(server.base)
    database.freeze()
    try:
        for _ in range(3):
            status, headers, body, took = health.request("GET", "/healthz")
            assert status == 503
            assert took < 2.0  # JOTAUTH_HEALTH_TIMEOUT=1
            status, headers, body, took = client.request("POST", "/login", LOGIN)
            _assert_unavailable(status, headers, body)
            # pool (2) + ping (2) + reconnect (2), or a statement's deadline (2 + 1)
            assert took < 8.0
    finally:
        database.thaw()
    deadline = time.monotonic() + 15
    while client.request("POST", "/login", LOGIN)[0] != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)
    client.close()
    health.close()
    assert "Traceback" not in server.output()


def _serve(folder: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [jotauth_executable(), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env={**_clean_env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")}


def test_serve_without_database_waits_then_exits_with_one_error_line(tmp_path: Path) -> None:
    """Nothing listens where the database should be: serve says what it waits for, then
    exits 1 with one ``Error:`` line (was: a raw traceback at once)."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    env = serve_env(url, JOTAUTH_DB_STARTUP_WAIT="3")
    start = time.monotonic()
    process = _serve(tmp_path, env, free_port())
    output, _ = process.communicate(timeout=30)
    took = time.monotonic() - start
    text = output.decode(errors="replace")
    assert process.returncode == 1, text
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert lines[-1].startswith("Error: the database postgresql+psycopg://postgres@127.0.0.1:")
    assert "JOTAUTH_DB_STARTUP_WAIT" in lines[-1]
    waits = [line for line in lines if "waiting for the database" in line]
    assert 2 <= len(waits) <= 6
    assert 3 <= took < 25


def test_serve_comes_up_when_the_database_starts_late(tmp_path: Path) -> None:
    """The database starts a few seconds after ``jotauth serve``: the server waits and comes up."""
    with time_limit(120), private_postgres(start=False) as database:
        port = free_port()
        process = _serve(tmp_path, serve_env(database.url), port)
        lines: list[bytes] = []
        waiting = threading.Event()

        def read() -> None:  # the server's output, as it comes; flags its first wait
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if b"waiting for the database" in line:
                    waiting.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            # Start the database only once serve said it waits for it: a fixed sleep raced
            # the server's own start-up on a loaded machine.
            assert waiting.wait(60), b"".join(lines).decode(errors="replace")
            assert process.poll() is None
            database.start()
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, "serve exited before the database started"
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=20)
            reader.join(timeout=20)
            assert process.stdout is not None
            process.stdout.close()
        assert any(b"waiting for the database" in line for line in lines)
