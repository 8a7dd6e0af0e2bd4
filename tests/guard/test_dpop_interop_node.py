"""panva/oauth4webapi (node), a DPoP client nobody here wrote, against a jotauth guard over HTTP.

Its ``protectedResourceRequest`` with its own DPoP handle makes the proofs (``ath``, ``htu``,
``jti``), reads our ``use_dpop_nonce`` challenge and ``DPoP-Nonce`` and retries with the nonce,
and parses our ``WWW-Authenticate: DPoP`` refusal of the same token sent as Bearer. Opt-in,
because it installs a package from the npm registry: ``JOTAUTH_INTEROP_NODE=1`` (node, npm).
"""

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.node_package import node_package

from jotauth import jose
from jotauth.guard import RotatingNonce
from jotauth.guard.asgi import GuardMiddleware, principal_from_scope
from jotauth.guard.testing import LocalIssuer

SCRIPT = Path(__file__).with_name("interop_node") / "dpop_resource.mjs"
OAUTH4WEBAPI_VERSION = "3.8.8"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temp dir with oauth4webapi installed and the script beside it; skips unless enabled."""
    folder = tmp_path_factory.mktemp("node-dpop")
    return node_package(folder, "oauth4webapi", OAUTH4WEBAPI_VERSION, SCRIPT, "oauth4webapi")


async def articles(request: Request) -> JSONResponse:
    principal = principal_from_scope(request.scope)
    return JSONResponse({"sub": None if principal is None else principal.sub})


def app_for(issuer: LocalIssuer) -> Any:
    """``/articles`` behind a guard; ``/nonce/articles`` behind one that requires nonces."""
    plain = GuardMiddleware(Starlette(routes=[Route("/articles", articles)]), issuer.guard())
    nonced = GuardMiddleware(
        Starlette(routes=[Route("/nonce/articles", articles)]),
        issuer.guard(dpop_nonce=RotatingNonce()),
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        target = nonced if scope.get("path", "").startswith("/nonce/") else plain
        await target(scope, receive, send)

    return app


@pytest.fixture
def server(issuer: LocalIssuer) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app_for(issuer), host="127.0.0.1", port=port, log_level="warning")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(10)


def test_oauth4webapi_dpop_requests_are_accepted(
    node_client: Path, server: str, issuer: LocalIssuer
) -> None:
    """oauth4webapi's proofs get in, its nonce retry gets in, and the Bearer downgrade gets
    the DPoP challenge it parses."""
    key = jose.Key.generate("ES256")
    token = issuer.make_token(sub="node", bound_to=key)
    result = subprocess.run(
        ["node", SCRIPT.name], cwd=node_client, capture_output=True, text=True, timeout=120,
        input=json.dumps({"url": f"{server}/articles", "nonce_url": f"{server}/nonce/articles",
                          "token": token, "jwk": key.to_jwk(private=True)}),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert answers["first"] == {"status": 200, "body": {"sub": "node"}}
    assert answers["second"] == {"status": 200, "body": {"sub": "node"}}
    challenge = answers["nonce_challenge"]
    assert (challenge["status"], challenge["scheme"], challenge["error"]) == (
        401, "dpop", "use_dpop_nonce",
    )  # fmt: skip
    assert challenge["nonce_error"] is True
    assert answers["nonce_retry"] == {"status": 200, "body": {"sub": "node"}}
    bearer = answers["bearer"]
    assert (bearer["status"], bearer["scheme"], bearer["error"]) == (401, "dpop", "invalid_token")
    assert "ES256" in bearer["algs"].split()
