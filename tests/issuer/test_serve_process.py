"""A real ``jotauth serve --demo`` process on 127.0.0.1, driven over HTTP as a user would."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jwt
import pytest

pytestmark = pytest.mark.slow

JOTAUTH = str(Path(sys.executable).with_name("jotauth"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(folder: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")}
    env["JOTAUTH_RATELIMIT_ENABLED"] = "false"
    process = subprocess.Popen(
        [JOTAUTH, "serve", "--demo", "--port", str(port), *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"jotauth serve exited: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("jotauth serve did not answer within 30 s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[str]]]:
    folder = tmp_path_factory.mktemp("fresh")
    process, base = _start(folder)
    logs: list[str] = []
    yield base, folder, logs
    logs.append(_stop(process))


def test_fresh_folder_gets_database_key_and_demo_users(
    server: tuple[str, Path, list[str]],
) -> None:
    """In an empty folder the server created its SQLite file and a 0600 master key file."""
    _, folder, _ = server
    assert (folder / "jotauth.db").exists()
    key_file = folder / "jotauth-master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_tutorial_curl_flow(server: tuple[str, Path, list[str]]) -> None:
    """The tutorial's two curl commands, verbatim in substance, against the demo."""
    base, _, _ = server
    login = httpx.post(
        f"{base}/login",
        headers={"Content-Type": "application/json"},
        content='{"username": "john", "password": "password123"}',
    )
    assert login.status_code == 200
    token = login.json()["access_token"]
    profile = httpx.get(f"{base}/profile", headers={"Authorization": f"Bearer {token}"})
    assert profile.status_code == 200
    assert profile.json() == {"message": "Welcome, john!"}


def test_pyjwt_verifies_issued_tokens_from_jwks(server: tuple[str, Path, list[str]]) -> None:
    """PyJWT's PyJWKClient (not our code) fetches the JWKS and verifies an issued token."""
    base, _, _ = server
    token = httpx.post(
        f"{base}/login", json={"username": "john", "password": "password123"}
    ).json()["access_token"]
    key = jwt.PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="jotauth", issuer=base)
    assert claims["preferred_username"] == "john"
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"


def test_refresh_and_logout_over_http(server: tuple[str, Path, list[str]]) -> None:
    """Refresh rotates; logout makes the access and refresh tokens fail."""
    base, _, _ = server
    pair = httpx.post(f"{base}/login", json={"username": "john", "password": "password123"}).json()
    rotated = httpx.post(f"{base}/refresh", json={"refresh_token": pair["refresh_token"]}).json()
    auth = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert httpx.post(f"{base}/logout", headers=auth).status_code == 200
    assert httpx.get(f"{base}/profile", headers=auth).status_code == 401
    again = httpx.post(f"{base}/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 401


def test_demo_announces_itself(server: tuple[str, Path, list[str]]) -> None:
    """A second start in the same folder keeps the data and says the demo user exists."""
    _, folder, _ = server
    process, _ = _start(folder)
    output = _stop(process)
    assert "DEMO MODE" in output
    assert "john" in output
    assert "/login" in output


def test_two_workers_share_the_database(tmp_path: Path) -> None:
    """With --workers 2, tabs racing a refresh over real sockets all stay logged in."""
    process, base = _start(tmp_path, "--workers", "2")
    try:
        pair = httpx.post(
            f"{base}/login", json={"username": "john", "password": "password123"}
        ).json()

        def tab(_: int) -> httpx.Response:
            return httpx.post(f"{base}/refresh", json={"refresh_token": pair["refresh_token"]})

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(tab, range(6)))
        assert [r.status_code for r in results] == [200] * 6
        assert len({r.json()["refresh_token"] for r in results}) == 1
    finally:
        _stop(process)
