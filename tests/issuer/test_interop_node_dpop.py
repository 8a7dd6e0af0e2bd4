"""panva/oauth4webapi (node), a DPoP client nobody here wrote, against ``jotauth serve``.

Its own DPoP handle proves client_credentials, a public client's password grant and its
refresh, with server nonces on (so its nonce retry is exercised too); the bound token then
opens jotauth's guarded ``/profile`` through oauth4webapi's ``protectedResourceRequest``, and
the same token sent as Bearer (stolen, without the key) is refused. Opt-in like
``test_interop_node_oauth.py``: ``JOTAUTH_INTEROP_NODE=1``.
"""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.issuer.client_server import add_client, add_user, client_server
from tests.node_package import node_package
from tests.serve_process import ServeProcess

SCRIPT = Path(__file__).with_name("interop_node") / "dpop.mjs"
OAUTH4WEBAPI_VERSION = "3.8.8"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("node-dpop")
    return node_package(folder, "oauth4webapi", OAUTH4WEBAPI_VERSION, SCRIPT, "oauth4webapi")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("node-dpop-server")
    with client_server(folder, JOTAUTH_PASSWORD_GRANT="true", JOTAUTH_DPOP_NONCE="true") as served:
        add_user(served[1], "john", PASSWORD, "reports:read")
        yield served


def test_oauth4webapi_dpop_grants_and_a_guarded_route(
    node_client: Path, server: tuple[ServeProcess, dict[str, str]]
) -> None:
    """Every token is DPoP-bound to oauth4webapi's key; /profile takes it only with a proof."""
    served, env = server
    service = add_client(env, "node-dpop-service", "--require-dpop")
    public = add_client(
        env, "node-dpop-app", "--public", "--grant", "password", "--grant", "refresh_token"
    )
    result = subprocess.run(
        ["node", SCRIPT.name], cwd=node_client, capture_output=True, text=True, timeout=120,
        input=json.dumps({
            "issuer": served.base, "username": "john", "password": PASSWORD,
            "service": {"client_id": service["client_id"],
                        "client_secret": service["client_secret"]},
            "public": {"client_id": public["client_id"]},
        }),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    bound = {"token_type": "dpop", "cnf": {"jkt": answers["jkt"]}}  # oauth4webapi lowercases it
    assert answers["service"] == bound
    assert answers["login"] == bound
    assert answers["refreshed"] == bound
    assert answers["profile"] == {"status": 200, "body": {"message": "Welcome, john!"}}
    assert answers["stolen"]["status"] == 401
    assert answers["stolen"]["challenge"].startswith("DPoP ")
