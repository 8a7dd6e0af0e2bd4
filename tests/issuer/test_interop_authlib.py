"""Authlib, an OAuth client nobody here wrote, against ``jotauth serve`` over real HTTP.

client_credentials with client_secret_basic, client_secret_post and private_key_jwt (Authlib
signs the RFC 7523 assertion), then RFC 7662 introspection and RFC 7009 revocation through
Authlib's own ``introspect_token`` / ``revoke_token``. Clients are registered with the
``jotauth client add`` command, as an operator would.
"""

import importlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.issuer.client_server import add_client, client_server
from tests.serve_process import ServeProcess

from jotauth import jose

# Authlib 1.9 warns at import that it prefers "httpx2" to httpx (not ours to fix), through an
# "always" filter that authlib.deprecate installs when first imported: import it first, so
# that this block's filter comes in front of it.
importlib.import_module("authlib.deprecate")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations import httpx_client as authlib_client
rfc7523 = pytest.importorskip("authlib.oauth2.rfc7523")
joserfc_jwk = pytest.importorskip("joserfc.jwk")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    with client_server(tmp_path_factory.mktemp("authlib")) as served:
        yield served


@pytest.fixture(autouse=True)
def _plain_http_to_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Authlib refuses http:// unless told; the server runs on 127.0.0.1 only."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


def _check_token(token: dict[str, Any], client_id: str) -> str:
    claims = jose.peek_claims(token["access_token"])
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["aud"] == "reports"
    assert token["token_type"] == "Bearer"
    assert "refresh_token" not in token
    access: str = token["access_token"]
    return access


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_secret_methods(server: tuple[ServeProcess, dict[str, str]], method: str) -> None:
    """fetch_token(grant_type=client_credentials), introspect_token, revoke_token."""
    served, env = server
    registered = add_client(env, f"authlib-{method}", "--auth-method", method)
    token_url = served.base + "/oauth/token"
    with authlib_client.OAuth2Client(
        registered["client_id"], registered["client_secret"], scope="reports:read",
        token_endpoint_auth_method=method, revocation_endpoint_auth_method=method,
    ) as client:  # fmt: skip
        token = client.fetch_token(token_url, grant_type="client_credentials")
        access = _check_token(token, registered["client_id"])
        active = client.introspect_token(served.base + "/oauth/introspect", token=access)
        assert active.status_code == 200
        assert active.json()["active"] is True
        assert active.json()["scope"] == "reports:read"
        revoked = client.revoke_token(served.base + "/oauth/revoke", token=access)
        assert revoked.status_code == 200
        after = client.introspect_token(served.base + "/oauth/introspect", token=access)
        assert after.json() == {"active": False}
    with authlib_client.OAuth2Client(
        registered["client_id"], "not-the-secret", token_endpoint_auth_method=method
    ) as wrong:
        from authlib.integrations.base_client.errors import OAuthError

        with pytest.raises(OAuthError, match="invalid_client"):
            wrong.fetch_token(token_url, grant_type="client_credentials")


def test_private_key_jwt(server: tuple[ServeProcess, dict[str, str]], tmp_path: Path) -> None:
    """Authlib's PrivateKeyJWT (ES256) gets a token; its assertion cannot be replayed."""
    served, env = server
    private = joserfc_jwk.ECKey.generate_key("P-256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [private.as_dict(private=False)]}))
    registered = add_client(env, "authlib-signer", "--auth-method", "private_key_jwt",
                      "--jwks-file", str(jwks))  # fmt: skip
    token_url = served.base + "/oauth/token"
    auth = rfc7523.PrivateKeyJWT(token_url, alg="ES256")
    with authlib_client.OAuth2Client(
        registered["client_id"], private, token_endpoint_auth_method=auth,
    ) as client:  # fmt: skip
        token = client.fetch_token(token_url, grant_type="client_credentials")
        access = _check_token(token, registered["client_id"])
        again = client.fetch_token(token_url, grant_type="client_credentials")
        assert again["access_token"] != access  # a fresh assertion (new jti) each time
        answer = client.introspect_token(served.base + "/oauth/introspect", token=access)
        assert answer.json()["active"] is True
    assertion = auth.sign(
        type("Auth", (), {"client_id": registered["client_id"], "client_secret": private})(),
        token_url,
    )
    import httpx

    form = {
        "grant_type": "client_credentials",
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assert httpx.post(token_url, data=form, timeout=10).status_code == 200
    replay = httpx.post(token_url, data=form, timeout=10)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
