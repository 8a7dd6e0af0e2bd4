"""A real ``jotauth serve --demo`` process on 127.0.0.1, driven over HTTP as a user would."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jwt
import pytest
from tests.serve_process import running_serve

pytestmark = pytest.mark.slow

# The default (OWASP) Argon2 cost: this server runs as a user would run it.
ENV = {"JOTAUTH_RATELIMIT_ENABLED": "false"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with running_serve(tmp_path_factory.mktemp("fresh"), "--demo", env=ENV) as served:
        yield served.base, served.folder


def test_fresh_folder_gets_database_key_and_demo_users(
    server: tuple[str, Path],
) -> None:
    """In an empty folder the server created its SQLite file and a 0600 master key file."""
    _, folder = server
    assert (folder / "jotauth.db").exists()
    key_file = folder / "jotauth-master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_tutorial_curl_flow(server: tuple[str, Path]) -> None:
    """The tutorial's two curl commands, verbatim in substance, against the demo."""
    base, _ = server
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


def test_pyjwt_verifies_issued_tokens_from_jwks(server: tuple[str, Path]) -> None:
    """PyJWT's PyJWKClient (not our code) fetches the JWKS and verifies an issued token."""
    base, _ = server
    token = httpx.post(
        f"{base}/login", json={"username": "john", "password": "password123"}
    ).json()["access_token"]
    key = jwt.PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="jotauth", issuer=base)
    assert claims["preferred_username"] == "john"
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"


def test_refresh_and_logout_over_http(server: tuple[str, Path]) -> None:
    """Refresh rotates; logout makes the access and refresh tokens fail."""
    base, _ = server
    pair = httpx.post(f"{base}/login", json={"username": "john", "password": "password123"}).json()
    rotated = httpx.post(f"{base}/refresh", json={"refresh_token": pair["refresh_token"]}).json()
    auth = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert httpx.post(f"{base}/logout", headers=auth).status_code == 200
    assert httpx.get(f"{base}/profile", headers=auth).status_code == 401
    again = httpx.post(f"{base}/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 401


def test_demo_announces_itself(server: tuple[str, Path]) -> None:
    """A second start in the same folder keeps the data and says the demo user exists."""
    _, folder = server
    with running_serve(folder, "--demo", env=ENV) as second:
        pass
    output = second.output()
    assert "DEMO MODE" in output
    assert "john" in output
    assert "/login" in output


def test_two_workers_share_the_database(tmp_path: Path) -> None:
    """With --workers 2, tabs racing a refresh over real sockets all stay logged in."""
    with running_serve(tmp_path, "--demo", "--workers", "2", env=ENV) as served:
        base = served.base
        pair = httpx.post(
            f"{base}/login", json={"username": "john", "password": "password123"}
        ).json()

        def tab(_: int) -> httpx.Response:
            return httpx.post(f"{base}/refresh", json={"refresh_token": pair["refresh_token"]})

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(tab, range(6)))
        assert [r.status_code for r in results] == [200] * 6
        assert len({r.json()["refresh_token"] for r in results}) == 1
        # Without Redis each worker counts limits and remembers DPoP proofs alone: said at start.
        warning = served.output()
        assert "2 workers and no JOTAUTH_REDIS_URL" in warning
        assert "brute-force counters and DPoP replay cache" in warning
