"""panva/oauth4webapi (node), a client nobody here wrote, against ``jotauth serve`` over HTTP.

RFC 8414 discovery, then client_credentials with client_secret_basic, client_secret_post and
private_key_jwt, introspection and revocation, through oauth4webapi's own checks of every
response. Opt-in, because it installs a package from the npm registry: run with
``JOTAUTH_INTEROP_NODE=1`` (and ``node`` and ``npm`` on the PATH), as
``tests/jose/test_jwe_interop_node.py`` does.
"""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.issuer.client_server import add_client, client_server
from tests.node_package import node_package
from tests.serve_process import ServeProcess

from jotauth import jose

SCRIPT = Path(__file__).with_name("interop_node") / "client_credentials.mjs"
OAUTH4WEBAPI_VERSION = "3.8.8"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temp dir with oauth4webapi installed and the script beside it; skips unless enabled."""
    folder = tmp_path_factory.mktemp("node-oauth")
    return node_package(folder, "oauth4webapi", OAUTH4WEBAPI_VERSION, SCRIPT, "oauth4webapi")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    with client_server(tmp_path_factory.mktemp("node-server")) as served:
        yield served


def test_oauth4webapi_client_credentials_introspection_revocation(
    node_client: Path, server: tuple[ServeProcess, dict[str, str]], tmp_path: Path
) -> None:
    """Each method gets a token for itself, sees it active, revokes it, sees it inactive."""
    served, env = server
    key = jose.Key.generate("ES256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.public().to_jwk()]}))
    clients: dict[str, Any] = {}
    for method in ("client_secret_basic", "client_secret_post"):
        clients[method] = add_client(env, f"node-{method}", "--auth-method", method)
    clients["private_key_jwt"] = {
        **add_client(
            env, "node-signer", "--auth-method", "private_key_jwt", "--jwks-file", str(jwks)
        ),
        "jwk": {**key.to_jwk(private=True), "kid": key.kid},
    }
    result = subprocess.run(
        ["node", SCRIPT.name], cwd=node_client, capture_output=True, text=True, timeout=120,
        input=json.dumps({"issuer": served.base, "clients": clients}),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    for method, registered in clients.items():
        assert answers[method] == {
            "claims_sub": registered["client_id"], "active": True, "after_revoke": False,
        }, method  # fmt: skip
