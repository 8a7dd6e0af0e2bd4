"""JOTAUTH_ENCRYPT_AUDIENCES: the issuer encrypts access tokens to a service's published key,
and the service's guard decrypts them (issue 15, point 4)."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from jotauth import jose
from jotauth.guard import Guard
from jotauth.guard.asgi import GuardMiddleware
from jotauth.issuer.app import create_app
from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.settings import Settings
from jotauth.jose import jwe

pytestmark = pytest.mark.anyio

AUDIENCE = "billing"


@pytest.fixture(scope="module")
def service_key() -> jose.Key:
    """The billing service's private decryption key."""
    return jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="billing-enc-1")


@pytest.fixture
def key_file(tmp_path: Path, service_key: jose.Key) -> Path:
    """The service's published JWK Set, as a file the issuer is pointed at."""
    path = tmp_path / "billing-enc.json"
    path.write_text(json.dumps(jose.KeySet([service_key.public()]).to_jwks()))
    return path


@pytest.fixture
def encrypting_app(kit: Any, sqlite_url: str, clock: Any, key_file: Path) -> Iterator[Any]:
    """An issuer whose access tokens are for the billing service, encrypted to it."""
    settings = kit.make_settings(
        sqlite_url, audience=AUDIENCE, encrypt_audiences=((AUDIENCE, str(key_file)),)
    )
    application = create_app(settings, clock=clock, sleep=clock.advance)
    yield application
    application.state.store.close()


def _service(issuer_app: Any, kit: Any, clock: Any, **options: Any) -> httpx.AsyncClient:
    """The billing service: any route behind a guard fetching the issuer's JWKS over HTTP."""
    guard = Guard(
        issuer="http://testserver",
        audience=AUDIENCE,
        jwks_url="http://testserver/.well-known/jwks.json",
        transport=kit.sync_transport(issuer_app),
        clock=clock,
        **options,
    )

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        body = json.dumps({"sub": scope["auth"].sub, "scope": scope["auth"].claims["scope"]})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    transport = httpx.ASGITransport(app=GuardMiddleware(hello, guard))
    return httpx.AsyncClient(transport=transport, base_url="http://billing")


async def _access_token(app: Any, kit: Any) -> str:
    await kit.add_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        body = await kit.login(client)
    token: str = body["access_token"]
    return token


async def test_issuer_encrypts_and_the_guard_decrypts(
    encrypting_app: Any, kit: Any, clock: Any, service_key: jose.Key
) -> None:
    """A listed audience gets a nested JWT (ECDH-ES+A256KW, A256GCM, cty JWT, the service's
    kid) that only its key opens; the service's guard reads the issuer's claims from it."""
    token = await _access_token(encrypting_app, kit)
    assert token.count(".") == 4
    header = jwe.peek_header(token)
    assert header == {
        "alg": "ECDH-ES+A256KW",
        "enc": "A256GCM",
        "cty": "JWT",
        "kid": "billing-enc-1",
        "epk": header["epk"],
    }
    inner = jwe.decrypt(token, service_key).decode()
    assert jose.peek_header(inner)["typ"] == "at+jwt"
    assert jose.peek_claims(inner)["aud"] == AUDIENCE
    async with _service(encrypting_app, kit, clock, decrypt_with=service_key) as service:
        response = await service.get("/", headers=kit.bearer(token))
        assert response.status_code == 200, response.text
        assert response.json() == {"sub": "1", "scope": "articles:create articles:read"}


async def test_wrong_decryption_key_is_401_with_one_message(
    encrypting_app: Any, kit: Any, clock: Any
) -> None:
    """A service holding another key answers 401 invalid_token "decryption failed", whether
    its key has the token's kid or not; a plain token is refused when encryption is required."""
    token = await _access_token(encrypting_app, kit)
    answers = set()
    for kid in ("billing-enc-1", "other"):
        wrong = jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid=kid)
        async with _service(encrypting_app, kit, clock, decrypt_with=wrong) as service:
            response = await service.get("/", headers=kit.bearer(token))
        assert response.status_code == 401
        body = response.json()
        answers.add((body["error"], body["error_description"], body["jotauth_code"],
                     response.headers["www-authenticate"]))  # fmt: skip
    assert answers == {
        (
            "invalid_token",
            "decryption failed",
            "decryption_failed",
            'Bearer error="invalid_token", error_description="decryption failed"',
        )
    }


async def test_issuers_own_endpoints_refuse_encrypted_tokens_cleanly(
    encrypting_app: Any, kit: Any
) -> None:
    """The issuer cannot read a token encrypted to a service: /me answers 401, never a 500."""
    token = await _access_token(encrypting_app, kit)
    transport = httpx.ASGITransport(app=encrypting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/me", headers=kit.bearer(token))
    assert response.status_code == 401
    assert response.json()["jotauth_code"] == "malformed_token"


async def test_off_by_default_and_other_audiences_stay_plain(
    app: Any, kit: Any, clock: Any, service_key: jose.Key
) -> None:
    """With no JOTAUTH_ENCRYPT_AUDIENCES (or the token's audience not listed) tokens are plain
    JWS, the issuer's /me reads them, and a guard with require_encryption=False accepts them."""
    assert Settings().encrypt_audiences == ()
    token = await _access_token(app, kit)
    assert token.count(".") == 2
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/me", headers=kit.bearer(token))).status_code == 200


async def test_unlisted_audience_is_not_encrypted(
    kit: Any, sqlite_url: str, clock: Any, key_file: Path
) -> None:
    """Only the listed audience is encrypted: the issuer's own audience stays readable."""
    settings = kit.make_settings(sqlite_url, encrypt_audiences=((AUDIENCE, str(key_file)),))
    application = create_app(settings, clock=clock, sleep=clock.advance)
    try:
        token = await _access_token(application, kit)
        assert token.count(".") == 2
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/me", headers=kit.bearer(token))).status_code == 200
    finally:
        application.state.store.close()


class _JWKSHandler(BaseHTTPRequestHandler):
    document: bytes = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def rsa_jwks_server() -> Iterator[tuple[str, jose.Key, ThreadingHTTPServer]]:
    """A real HTTP server on 127.0.0.1 publishing an RSA encryption key without ``alg``."""
    key = jose.Key.generate("RSA-OAEP-256", kid="billing-rsa")
    published = {k: v for k, v in key.public().to_jwk().items() if k != "alg"}
    handler = type("Handler", (_JWKSHandler,), {"document": json.dumps({"keys": [published]})
                                                .encode()})  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/enc-jwks.json", key, server
    server.shutdown()
    server.server_close()


async def test_jwks_url_source_and_rsa_default(
    kit: Any, sqlite_url: str, clock: Any, rsa_jwks_server: Any
) -> None:
    """A JWKS URL is fetched over HTTP; an RSA key published without alg gets RSA-OAEP-256."""
    url, key, _server = rsa_jwks_server
    settings = kit.make_settings(
        sqlite_url, audience=AUDIENCE, encrypt_audiences=((AUDIENCE, url),)
    )
    application = create_app(settings, clock=clock, sleep=clock.advance)
    try:
        token = await _access_token(application, kit)
        assert jwe.peek_header(token)["alg"] == "RSA-OAEP-256"
        assert jose.peek_claims(jwe.decrypt(token, key).decode())["sub"] == "1"
    finally:
        application.state.store.close()


async def test_unreachable_jwks_fails_closed(kit: Any, sqlite_url: str, clock: Any) -> None:
    """No key for a listed audience: login answers 503 and issues no token in the clear."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JWKSHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}/enc-jwks.json"
    server.server_close()  # nothing listens there now
    settings = kit.make_settings(
        sqlite_url, audience=AUDIENCE, encrypt_audiences=((AUDIENCE, url),)
    )
    application = create_app(settings, clock=clock, sleep=clock.advance)
    try:
        await kit.add_user(application)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.post("/login", json={"username": "john", "password": "password123"})
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert "access_token" not in response.text
    finally:
        application.state.store.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("billing", "comma-separated"),
        ("billing=", "comma-separated"),
        ("billing=http://billing.example/jwks", "must be https"),
        ("a=/x.json, a=/y.json", "twice"),
    ],
)
def test_bad_setting_is_a_clear_configuration_error(value: str, message: str) -> None:
    """A malformed JOTAUTH_ENCRYPT_AUDIENCES stops the start with a message saying why."""
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({"JOTAUTH_ENCRYPT_AUDIENCES": value})


def test_setting_parses_urls_and_files() -> None:
    """Pairs keep their order; https anywhere, http only to this machine, files as paths."""
    value = "billing=https://billing.example/enc.json, hr = /etc/jotauth/hr.jwk,dev=http://127.0.0.1:9/j"
    assert Settings.from_env({"JOTAUTH_ENCRYPT_AUDIENCES": value}).encrypt_audiences == (
        ("billing", "https://billing.example/enc.json"),
        ("hr", "/etc/jotauth/hr.jwk"),
        ("dev", "http://127.0.0.1:9/j"),
    )


def test_unusable_key_file_stops_the_start(kit: Any, sqlite_url: str, tmp_path: Path) -> None:
    """A key file that is missing, not JSON, or holds only a signature key: ConfigurationError."""
    signing = tmp_path / "sig.json"
    signing.write_text(json.dumps(jose.Key.generate("EdDSA").public().to_jwk()))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{nope")
    for path, message in (
        (tmp_path / "missing.json", "cannot read"),
        (garbage, "not JSON"),
        (signing, "no usable encryption key"),
    ):
        settings = kit.make_settings(sqlite_url, encrypt_audiences=((AUDIENCE, str(path)),))
        with pytest.raises(ConfigurationError, match=message):
            create_app(settings)
