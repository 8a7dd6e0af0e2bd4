"""``jotauth token verify --jwks URL`` against a real ``jotauth serve --demo`` process.

The tutorial's troubleshooting loop on a live server: a token from POST /login verifies with the
server's published JWKS, and the wrong audience or a tampered token gives the exact reason.
"""

import json
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from tests.serve_process import CHEAP_ARGON2, running_serve

from jotauth.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jotauth serve --demo`` on a free port, in an empty folder, with a cheap Argon2 cost."""
    with running_serve(tmp_path_factory.mktemp("serve"), "--demo", env=CHEAP_ARGON2) as served:
        yield served.base


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
