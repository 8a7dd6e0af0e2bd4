"""``jotauth.client.DPoPAuth`` against jotauth's own guard (its ASGI middleware, in process):
a proof per request for its method and URL, ``ath`` with the token, the 401 nonce challenge
of a resource server answered once, and nothing of the server stack imported.

The token endpoint side (400 ``use_dpop_nonce``) runs against ``jotauth serve`` in
tests/issuer/test_dpop_issuer.py.
"""

import subprocess
import sys
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jotauth import jose
from jotauth.client import DPoPAuth
from jotauth.guard.asgi import GuardMiddleware
from jotauth.guard.dpop_nonce import RotatingNonce
from jotauth.guard.testing import LocalIssuer

pytestmark = pytest.mark.anyio

API = "https://api.example"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _service(issuer: LocalIssuer, *, nonces: RotatingNonce | None) -> GuardMiddleware:
    async def reports(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.scope["auth"].sub})

    app = Starlette(routes=[Route("/reports", reports, methods=["GET", "POST"])])
    return GuardMiddleware(app, issuer.guard(dpop_nonce=nonces, external_url=API))


def _recorder(sent: list[dict[str, str]]) -> dict[str, list[Any]]:
    """Event hooks keeping each request's headers as sent (the auth signs the same request
    object again for a retry)."""

    async def record(request: httpx.Request) -> None:
        sent.append(dict(request.headers))

    return {"request": [record]}


def _bound_token(issuer: LocalIssuer, key: jose.Key) -> str:
    return issuer.make_token(cnf={"jkt": key.public().thumbprint()})


async def test_each_request_gets_its_own_proof_for_its_method_and_url() -> None:
    """Two calls, two proofs (new jti each); the query is not in htu; the token's hash is."""
    issuer, key = LocalIssuer(), jose.Key.generate("ES256")
    token = _bound_token(issuer, key)
    sent: list[dict[str, str]] = []
    transport = httpx.ASGITransport(app=_service(issuer, nonces=None))
    async with httpx.AsyncClient(
        transport=transport, base_url=API, event_hooks=_recorder(sent)
    ) as http:
        auth = DPoPAuth(key, token)
        assert (await http.get("/reports?page=2", auth=auth)).status_code == 200
        assert (await http.post("/reports", auth=auth)).status_code == 200
    proofs = [jose.peek_claims(headers["dpop"]) for headers in sent]
    assert proofs[0]["jti"] != proofs[1]["jti"]
    assert [(p["htm"], p["htu"]) for p in proofs] == [
        ("GET", API + "/reports"),
        ("POST", API + "/reports"),
    ]
    assert {p["ath"] for p in proofs} == {jose.access_token_hash(token)}
    assert all(headers["authorization"] == f"DPoP {token}" for headers in sent)


async def test_a_resource_servers_nonce_challenge_is_answered_once() -> None:
    """401 ``WWW-Authenticate: DPoP error="use_dpop_nonce"`` with ``DPoP-Nonce``: the request
    goes again with that nonce, and the next request carries it from the start."""
    issuer, key = LocalIssuer(), jose.Key.generate("EdDSA")
    sent: list[dict[str, str]] = []
    transport = httpx.ASGITransport(app=_service(issuer, nonces=RotatingNonce()))
    async with httpx.AsyncClient(
        transport=transport, base_url=API, event_hooks=_recorder(sent)
    ) as http:
        auth = DPoPAuth(key, _bound_token(issuer, key))
        first = await http.get("/reports", auth=auth)
        assert first.status_code == 200, first.text
        assert len(sent) == 2
        assert "nonce" not in jose.peek_claims(sent[0]["dpop"])
        nonce = jose.peek_claims(sent[1]["dpop"])["nonce"]
        assert auth.nonce_for(API + "/anything") == nonce
        assert (await http.get("/reports", auth=auth)).status_code == 200
        assert len(sent) == 3


async def test_a_refusal_that_is_not_a_nonce_request_is_not_retried() -> None:
    """A proof by the wrong key is refused once, and the refusal reaches the caller."""
    issuer = LocalIssuer()
    token = _bound_token(issuer, jose.Key.generate("ES256"))
    sent: list[dict[str, str]] = []
    transport = httpx.ASGITransport(app=_service(issuer, nonces=None))
    async with httpx.AsyncClient(
        transport=transport, base_url=API, event_hooks=_recorder(sent)
    ) as http:
        refused = await http.get("/reports", auth=DPoPAuth(jose.Key.generate("ES256"), token))
    assert refused.status_code == 401
    assert len(sent) == 1


def test_the_client_imports_no_server_stack() -> None:
    """``jotauth.client`` needs jose and httpx only: no web framework, database or issuer."""
    heavy = ("fastapi", "starlette", "sqlalchemy", "redis", "jotauth.issuer", "jotauth.store")
    code = f"import sys, jotauth.client\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_nonces_of_two_origins_never_share_a_key() -> None:
    """A nonce is kept per origin (scheme, host, port as sent): an IPv6 host keeps its
    brackets, port 0 is not the default port, and only the default port names the same origin
    as no port. A nonce must not follow the client to another server."""
    origins = ["http://[::1]:8080", "http://[::1]", "http://a:0", "http://a", "https://a:8443"]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"DPoP-Nonce": f"nonce of {request.url}"})

    auth = DPoPAuth(jose.Key.generate("ES256"), "token")
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        for origin in origins:
            http.get(origin + "/x", auth=auth)
    assert [auth.nonce_for(origin + "/other") for origin in origins] == [
        f"nonce of {origin}/x" for origin in origins
    ]
    assert auth.nonce_for("http://a:80/") == auth.nonce_for("http://a/")
    assert auth.nonce_for("https://[::1]:8080/") is None
