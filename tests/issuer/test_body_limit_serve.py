"""The body limits over a real socket: ``jotauth serve`` on 127.0.0.1 and a raw TCP client.

An ASGI test cannot show what the server does with the connection; these send the bytes a
misbehaving client would and read what comes back, up to the server closing the connection.
"""

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from tests.serve_process import CHEAP_ARGON2, running_serve

pytestmark = pytest.mark.slow

ENV = {**CHEAP_ARGON2, "JOTAUTH_RATELIMIT_ENABLED": "false", "JOTAUTH_BODY_TIMEOUT": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("body-limit")
    env = {**ENV, "JOTAUTH_DATABASE_URL": f"sqlite:///{folder / 'jotauth.db'}"}
    with running_serve(folder, "--demo", env=env) as served:
        yield served.base


def _exchange(base: str, head: bytes, body: bytes = b"", wait: float = 5) -> tuple[bytes, float]:
    """Send ``head`` and ``body``, read until the server closes; the answer and the seconds."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):  # b"" once the server has closed the connection
            answer += chunk
        return answer, time.monotonic() - started


def _parse(answer: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def test_a_huge_declared_length_is_refused_at_once(server: str) -> None:
    """``Content-Length: 1000000000`` and no body: 413 in the error shape, connection closed."""
    head = _head("/login", "Content-Type: application/json", "Content-Length: 1000000000")
    answer, seconds = _exchange(server, head)
    status, headers, body = _parse(answer)
    assert status == 413
    assert headers["connection"] == "close"
    assert body["error"] == "invalid_request"
    assert "65536" in body["error_description"]
    assert seconds < 1  # not the body timeout: nothing was waited for


def test_a_huge_declared_length_needs_no_token_at_logout(server: str) -> None:
    """A protected route refuses the length before it looks at the (missing) token."""
    head = _head("/logout", "Content-Type: application/json", "Content-Length: 1000000000")
    status, _, _ = _parse(_exchange(server, head)[0])
    assert status == 413


def test_a_stalled_body_answers_408_and_closes(server: str) -> None:
    """Ten of a hundred promised bytes, then silence: 408 after JOTAUTH_BODY_TIMEOUT (1 s)."""
    head = _head("/login", "Content-Type: application/json", "Content-Length: 100")
    answer, seconds = _exchange(server, head, b'{"username"')
    status, headers, body = _parse(answer)
    assert status == 408
    assert headers["connection"] == "close"
    assert body["error"] == "invalid_request"
    assert 0.9 <= seconds < 4


def test_the_server_still_answers_afterwards(server: str) -> None:
    """The refused connections cost the server nothing: a normal login still works."""
    login = httpx.post(
        server + "/login", json={"username": "john", "password": "password123"}, timeout=10
    )
    assert login.status_code == 200, login.text
