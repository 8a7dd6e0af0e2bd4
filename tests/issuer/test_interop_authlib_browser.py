"""Authlib, a relying party nobody here wrote, signs in to ``jotauth serve`` through the real
login page in headless Chromium.

Discovery, authorization code + PKCE (S256) with Authlib's own ``state`` check, the ID token
checked with joserfc against the published JWKS (``iss``, ``aud``, ``nonce``, ``exp``),
userinfo, refresh, introspection and revocation through Authlib's ``introspect_token`` and
``revoke_token``, then RP-initiated logout in the browser: the tokens die and the next
authorization request shows the login page again. Authlib's client_credentials with every
authentication method is in ``test_interop_authlib.py``; openid-client's whole flow is in
``test_interop_node_code_flow.py``.
"""

import importlib
import secrets
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from tests.browser_support import ThreadServer, launch_chromium, sign_in_on_login_page
from tests.issuer.client_server import SIGN_IN, add_client, add_user, client_server
from tests.issuer.oidc_support import query
from tests.serve_process import ServeProcess

# Authlib 1.9 warns at import that it prefers "httpx2" to httpx (not ours to fix); see
# test_interop_authlib.py for why authlib.deprecate is imported first.
importlib.import_module("authlib.deprecate")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations import httpx_client as authlib_client
joserfc_jwt = pytest.importorskip("joserfc.jwt")
joserfc_jwk = pytest.importorskip("joserfc.jwk")

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    """``jotauth serve`` over plain HTTP on 127.0.0.1, so its cookies drop Secure."""
    folder = tmp_path_factory.mktemp("authlib-browser")
    with client_server(folder, JOTAUTH_COOKIE_INSECURE_DEV="1") as served:
        yield served


@pytest.fixture(autouse=True)
def _plain_http_to_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Authlib refuses http:// unless told; both servers run on 127.0.0.1 only."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


async def _landing(scope: Any, receive: Any, send: Any) -> None:
    """The relying party's callback pages: the browser's URL there is what the test reads."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b'<p id="landed">signed in</p>'})


def test_authlib_signs_in_through_the_login_page_and_logs_out(
    server: tuple[ServeProcess, dict[str, str]],
) -> None:
    """The whole life of a sign-in, as a Python web app runs it with Authlib."""
    served, env = server
    sub = add_user(env, "john", "password123")
    metadata = httpx.get(served.base + "/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == served.base
    jwks = joserfc_jwk.KeySet.import_key_set(httpx.get(metadata["jwks_uri"], timeout=10).json())
    rp_site = ThreadServer(_landing)
    callback = rp_site.origin + "/callback"
    # Before Chromium starts: the sync Playwright API runs an event loop in this thread, and
    # the CLI runs its own.
    registered = add_client(
        env, "authlib-web", "--auth-method", "client_secret_post", *SIGN_IN,
        "--redirect-uri", callback, "--post-logout-redirect-uri", rp_site.origin + "/out",
    )  # fmt: skip
    client_id = registered["client_id"]
    with rp_site, launch_chromium() as browser:
        context = browser.new_context()
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        with authlib_client.OAuth2Client(
            client_id, registered["client_secret"], redirect_uri=callback,
            scope="openid profile", code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
            revocation_endpoint_auth_method="client_secret_post",
        ) as rp:  # fmt: skip
            verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
            url, state = rp.create_authorization_url(
                metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
            assert sign_in_on_login_page(tab, url, "john", "password123")
            assert query(tab.url)["iss"] == metadata["issuer"]  # RFC 9207: the app's check
            token = rp.fetch_token(
                metadata["token_endpoint"], authorization_response=tab.url,
                code_verifier=verifier, state=state,
            )  # fmt: skip
            claims = joserfc_jwt.decode(token["id_token"], jwks, algorithms=["RS256"]).claims
            joserfc_jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": metadata["issuer"]},
                aud={"essential": True, "value": client_id},
                nonce={"essential": True, "value": nonce},
                exp={"essential": True},
            ).validate(claims)
            assert claims["sub"] == sub
            assert claims["azp"] == client_id
            assert rp.get(metadata["userinfo_endpoint"]).json() == {
                "sub": sub, "preferred_username": "john",
            }  # fmt: skip

            def active(value: str) -> bool:
                answer = rp.introspect_token(metadata["introspection_endpoint"], token=value)
                assert answer.status_code == 200, answer.text
                result: bool = answer.json()["active"]
                return result

            first_access, first_refresh = token["access_token"], token["refresh_token"]
            assert active(first_access)
            assert active(first_refresh)
            refreshed = rp.refresh_token(metadata["token_endpoint"])
            assert refreshed["refresh_token"] != first_refresh
            assert not active(first_refresh)  # rotated: spent
            assert active(refreshed["access_token"])
            assert rp.revoke_token(metadata["revocation_endpoint"], token=first_access).is_success
            assert not active(first_access)
            assert active(refreshed["access_token"])  # only the revoked token died

            logout = urlencode({"id_token_hint": token["id_token"], "state": "bye",
                                "post_logout_redirect_uri": rp_site.origin + "/out"})  # fmt: skip
            tab.goto(f"{metadata['end_session_endpoint']}?{logout}")
            tab.wait_for_url(rp_site.origin + "/out?state=bye")
            assert not active(refreshed["access_token"])
            assert not active(refreshed["refresh_token"])
            again, _ = rp.create_authorization_url(
                metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
            tab.goto(again)
            assert tab.locator("#password").is_visible()  # the SSO session ended
        context.close()
