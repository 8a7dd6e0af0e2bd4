"""``jotauth token verify --jwks URL`` against a real ``jotauth serve --demo`` process.

The tutorial's troubleshooting loop on a live server: a token from POST /login verifies with the
server's published JWKS, and the wrong audience or a tampered token gives the exact reason.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from jotauth.cli.main import main

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jotauth serve --demo`` on a free port, in an empty folder, with a cheap Argon2 cost."""
    if importlib.util.find_spec("jotauth.cli.serve") is None:
        pytest.skip("`jotauth serve` is not part of this checkout yet (jotauth.cli.serve missing)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "JOTAUTH_ARGON2_TIME_COST": "1", "JOTAUTH_ARGON2_MEMORY_COST": "1024"}
    env.pop("JOTAUTH_ISSUER", None)
    env.pop("JOTAUTH_DATABASE_URL", None)
    log = (folder / "serve.log").open("wb")
    executable = Path(sys.executable).with_name("jotauth")
    process = subprocess.Popen(
        [str(executable), "serve", "--demo", "--port", str(port)],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("jotauth serve did not start:\n" + (folder / "serve.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.fixture(scope="module")
def issued(server: str) -> str:
    response = httpx.post(
        server + "/login", json={"username": "john", "password": "password123"}, timeout=10
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def verify(token: str, *args: str):
    return CliRunner().invoke(main, ["token", "verify", token, *args])


def test_issued_token_verifies_with_the_published_jwks(server: str, issued: str) -> None:
    """Issuer, audience and typ as the server states them in discovery all check out."""
    discovery = httpx.get(server + "/.well-known/openid-configuration", timeout=5).json()
    claims_aud = CliRunner().invoke(main, ["token", "decode", "--json", issued])
    aud = json.loads(claims_aud.stdout)["claims"]["aud"]
    audience = aud if isinstance(aud, str) else aud[0]
    result = verify(
        issued, "--jwks", discovery["jwks_uri"], "--iss", discovery["issuer"], "--aud", audience,
        "--typ", "at+jwt",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["preferred_username"] == "john"


def test_wrong_audience_and_tampering_against_the_live_jwks(server: str, issued: str) -> None:
    """The reasons are exact against a live server too."""
    jwks = server + "/.well-known/jwks.json"
    wrong = verify(issued, "--jwks", jwks, "--aud", "somebody-else")
    assert wrong.exit_code == 1
    assert "expected 'somebody-else'" in wrong.stderr
    head, payload, signature = issued.split(".")
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BA")
    tampered = verify(f"{head}.{payload}.{flipped}", "--jwks", jwks, "--aud", "somebody-else")
    assert tampered.exit_code == 1
    assert "bad_signature" in tampered.stderr
