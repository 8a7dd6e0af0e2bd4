"""RFC 9864's fully-specified EdDSA names as the issuer's signing algorithm (issue 12, point 14)."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import JWKRegistry

from jotauth import jose
from jotauth.guard import Guard
from jotauth.guard.testing import ManualClock
from jotauth.issuer.app import create_app
from jotauth.issuer.errors import ConfigurationError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("alg", ["Ed25519", "Ed448"])
async def test_issuer_signs_with_fully_specified_eddsa_name(
    alg: str, tmp_path: Path, kit: Any, clock: ManualClock
) -> None:
    """JOTAUTH_SIGNING_ALG=Ed25519 signs, publishes and advertises Ed25519; guards accept it."""
    settings = kit.make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", signing_alg=alg)
    app = create_app(settings, clock=clock, sleep=clock.advance)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await kit.add_user(app)
            token = (await kit.login(client))["access_token"]
            assert jose.peek_header(token)["alg"] == alg
            doc = (await client.get("/.well-known/openid-configuration")).json()
            # EdDSA is another name of the access keys' family: no ring of its own.
            assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
            assert doc["jotauth_access_token_signing_alg_values_supported"] == [alg]
            published = (await client.get("/.well-known/jwks.json")).json()
            assert {key["alg"] for key in published["keys"]} == {alg, "RS256", "ES256"}  # + ID
            jwks = {"keys": [key for key in published["keys"] if key["alg"] == alg]}
            assert (await client.get("/me", headers=kit.bearer(token))).status_code == 200
        keys = jose.KeySet.from_jwks(jwks)
        for algorithms in ([alg], None):
            guard = Guard(
                keys=keys,
                issuer=settings.issuer,
                audience="jotauth",
                algorithms=algorithms,
                clock=clock,
            )
            assert guard.authenticate_sync(token).sub
        signer = next(key for key in jwks["keys"] if key["kid"] == jose.peek_header(token)["kid"])
        claims = joserfc_jwt.decode(token, JWKRegistry.import_key(signer), algorithms=[alg]).claims
        assert claims["iss"] == settings.issuer
    finally:
        app.state.store.close()


def test_unknown_signing_alg_still_refused(kit: Any, tmp_path: Path) -> None:
    """Only the registered names are settings: a lower-case or made-up name fails at start."""
    for alg in ("ed25519", "Ed25519ph", "X25519"):
        with pytest.raises(ConfigurationError, match="not supported"):
            kit.make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", signing_alg=alg)


async def test_moving_from_eddsa_to_ed25519_keeps_old_tokens_working(
    tmp_path: Path, kit: Any, clock: ManualClock
) -> None:
    """After EdDSA -> Ed25519, the ring's EdDSA keys still verify until rotation replaces them."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    before = create_app(kit.make_settings(url), clock=clock, sleep=clock.advance)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=before), base_url="http://testserver"
        ) as client:
            await kit.add_user(before)
            old = (await kit.login(client))["access_token"]
    finally:
        before.state.store.close()
    assert jose.peek_header(old)["alg"] == "EdDSA"
    after = create_app(kit.make_settings(url, signing_alg="Ed25519"), clock=clock)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=after), base_url="http://testserver"
        ) as client:
            assert (await client.get("/me", headers=kit.bearer(old))).status_code == 200
            algs = []
            for _ in range(3):
                token = (await kit.login(client))["access_token"]
                assert (await client.get("/me", headers=kit.bearer(token))).status_code == 200
                algs.append(jose.peek_header(token)["alg"])
                after.state.auth.ring.rotate()
            # The active and the next key were made as EdDSA; the third key is Ed25519.
            assert algs == ["EdDSA", "EdDSA", "Ed25519"]
    finally:
        after.state.store.close()
