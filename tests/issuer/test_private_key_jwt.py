"""private_key_jwt (RFC 7523): assertions verified against the client's JWKS or jwks_uri.

Attacks: a replayed assertion, an HMAC or ``none`` assertion, one for another audience, one
signed by another key, one that lives too long, one naming another client.
"""

import base64
import json
import secrets
from typing import Any

import httpx
import pytest

from jotauth import jose
from jotauth.issuer.services.client_auth import ASSERTION_TYPE
from jotauth.issuer.services.clients import ClientSpec

pytestmark = pytest.mark.anyio

KEY = jose.Key.generate("ES256")
OTHER = jose.Key.generate("ES256")
TOKEN_URL = "http://testserver/oauth/token"


def spec(**changes: Any) -> ClientSpec:
    values: dict[str, Any] = {
        "name": "Signer", "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ("client_credentials",), "scopes": ("jobs:run",), "audiences": ("jobs",),
        "jwks": {"keys": [KEY.public().to_jwk()]},
    }  # fmt: skip
    values.update(changes)
    return ClientSpec(**values)


def assertion(client_id: str, now: float, *, key: jose.Key = KEY, **claims: Any) -> str:
    body = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": int(now) + 60,
            "iat": int(now), "jti": secrets.token_urlsafe(12), **claims}  # fmt: skip
    return jose.encode(body, key)


def form(token: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": token, **extra}  # fmt: skip


async def test_assertion_gets_a_token_once(app: Any, client: httpx.AsyncClient) -> None:
    """A valid assertion gets a service token; the same assertion again is invalid_client."""
    record, secret = await app.state.clients.register(spec())
    assert secret is None
    token = assertion(record.client_id, app.state.auth.clock())
    first = await client.post("/oauth/token", data=form(token))
    assert first.status_code == 200, first.text
    assert jose.peek_claims(first.json()["access_token"])["sub"] == record.client_id
    replay = await client.post("/oauth/token", data=form(token))
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    assert "www-authenticate" not in replay.headers


async def test_issuer_url_is_an_accepted_audience(app: Any, client: httpx.AsyncClient) -> None:
    """``aud`` may be the issuer identifier instead of the token endpoint (OIDC Core 9)."""
    record, _ = await app.state.clients.register(spec())
    token = assertion(record.client_id, app.state.auth.clock(), aud="http://testserver")
    assert (await client.post("/oauth/token", data=form(token))).status_code == 200


def _unsigned(claims: dict[str, Any], alg: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


async def test_bad_assertions_are_invalid_client(app: Any, client: httpx.AsyncClient) -> None:
    """HMAC, none, another audience, another key, too long, another client, no jti: all 401."""
    record, _ = await app.state.clients.register(spec())
    other, _ = await app.state.clients.register(spec(jwks={"keys": [OTHER.public().to_jwk()]}))
    now = app.state.auth.clock()
    cid = record.client_id
    claims = {"iss": cid, "sub": cid, "aud": TOKEN_URL, "exp": int(now) + 60,
              "jti": "x1"}  # fmt: skip
    hmac_key = jose.Key.from_secret(b"k" * 32, "HS256")
    bad = {
        "hmac": jose.encode({**claims, "jti": "h"}, hmac_key),
        "none": _unsigned({**claims, "jti": "n"}, "none"),
        "other audience": assertion(cid, now, aud="https://elsewhere.example/token"),
        "other key": assertion(cid, now, key=OTHER),
        "long lived": assertion(cid, now, exp=int(now) + 3600 + 120),
        "expired": assertion(cid, now, exp=int(now) - 120),
        "other client's sub": assertion(cid, now, sub=other.client_id),
        "no jti": jose.encode({k: v for k, v in claims.items() if k != "jti"}, KEY),
        "garbage": "not.a.jwt",
    }
    for name, token in bad.items():
        answer = await client.post("/oauth/token", data=form(token, client_id=cid))
        assert answer.status_code == 401, name
        assert answer.json()["error"] == "invalid_client", name
    # the other client's own assertion, sent under this client's id
    swapped = assertion(other.client_id, now, key=OTHER)
    answer = await client.post("/oauth/token", data=form(swapped, client_id=cid))
    assert answer.status_code == 401


async def test_wrong_assertion_type_is_invalid_request(client: httpx.AsyncClient) -> None:
    """A client_assertion with another client_assertion_type is malformed: invalid_request."""
    answer = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_assertion_type": "urn:x",
              "client_assertion": "a.b.c"},
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


async def test_jwks_uri_is_fetched_and_cached(app: Any, client: httpx.AsyncClient) -> None:
    """Keys from the client's jwks_uri: fetched once, reused for the next assertion."""
    fetched: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(
            200, json={"keys": [KEY.public().to_jwk()]}, headers={"Cache-Control": "max-age=300"}
        )

    app.state.provider.authenticator.transport = httpx.MockTransport(serve)
    record, _ = await app.state.clients.register(
        spec(jwks=None, jwks_uri="https://signer.example/jwks.json")
    )
    for _ in range(2):
        token = assertion(record.client_id, app.state.auth.clock())
        assert (await client.post("/oauth/token", data=form(token))).status_code == 200
    assert fetched == ["https://signer.example/jwks.json"]


async def test_unreachable_jwks_uri_is_invalid_client(app: Any, client: httpx.AsyncClient) -> None:
    """A jwks_uri that fails answers 401 invalid_client, never a 5xx."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app.state.provider.authenticator.transport = httpx.MockTransport(down)
    record, _ = await app.state.clients.register(
        spec(jwks=None, jwks_uri="https://down.example/jwks.json")
    )
    token = assertion(record.client_id, app.state.auth.clock())
    answer = await client.post("/oauth/token", data=form(token))
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_registration_refuses_secret_or_private_keys(app: Any) -> None:
    """private_key_jwt takes public asymmetric keys only, and exactly one of jwks/jwks_uri."""
    from jotauth.issuer.errors import InvalidRequestError

    hmac_jwk = jose.Key.from_secret(b"k" * 32, "HS256").to_jwk(private=True)
    for wrong in (
        spec(jwks={"keys": [hmac_jwk]}),
        spec(jwks={"keys": [KEY.to_jwk(private=True)]}),
        spec(jwks=None),
        spec(jwks_uri="https://x.example/jwks"),
        spec(jwks=None, jwks_uri="http://remote.example/jwks"),
    ):
        with pytest.raises(InvalidRequestError):
            await app.state.clients.register(wrong)
