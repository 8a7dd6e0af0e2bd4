"""The token tools in a verify-only install: core + click, no server stack, no httpx.

A subprocess blocks fastapi, starlette, sqlalchemy, redis and httpx from importing, then runs
the commands; ``--jwks URL`` must fall back to urllib.
"""

import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.missing_modules import run_jotauth

from jotauth import jose

BLOCKED = ("fastapi", "starlette", "sqlalchemy", "redis", "httpx", "uvicorn")


def jotauth(*args: str):
    return run_jotauth(BLOCKED, *args)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """tmp_path served over HTTP on 127.0.0.1."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_keygen_encode_decode_verify_without_server_stack(tmp_path: Path, served: str) -> None:
    """Every token command works with only the core and click, and --jwks URL uses urllib."""
    key_file = tmp_path / "k.jwk"
    keygen = jotauth("keygen", "--alg", "ES256", "--out", str(key_file))
    assert keygen.returncode == 0, keygen.stderr
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [json.loads(keygen.stdout)]}))
    encoded = jotauth("token", "encode", "--key", str(key_file), "--sub", "5")
    assert encoded.returncode == 0, encoded.stderr
    token = encoded.stdout.strip()
    decoded = jotauth("token", "decode", "--json", token)
    assert json.loads(decoded.stdout)["claims"]["sub"] == "5"
    verified = jotauth("token", "verify", token, "--jwks", served + "/jwks.json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["sub"] == "5"
    missing = jotauth("token", "verify", token, "--jwks", served + "/nope.json")
    assert missing.returncode == 2
    assert "HTTP 404" in missing.stderr


def test_expired_token_reason_without_server_stack(tmp_path: Path) -> None:
    """The exact failure reason needs nothing beyond the core either."""
    key = jose.Key.generate("EdDSA")
    (tmp_path / "pub.jwk").write_text(json.dumps(key.public().to_jwk()))
    token = jose.encode({"exp": int(time.time()) - 7200}, key)
    result = jotauth("token", "verify", token, "--key", str(tmp_path / "pub.jwk"))
    assert result.returncode == 1
    assert "expired 2 h ago" in result.stderr
