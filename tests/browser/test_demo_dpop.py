"""/demo's DPoP step in Chromium against a real ``jotauth serve --demo``: a non-extractable
WebCrypto key kept in IndexedDB, a login bound to it, /profile with a proof, and the copied
tokens refused without the key (as Bearer, with a thief's own key, and at /refresh)."""

from collections.abc import Iterator
from typing import Any

import pytest
from tests.serve_process import CHEAP_ARGON2, free_port, running_serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    folder = tmp_path_factory.mktemp("serve-dpop")
    env = {
        **CHEAP_ARGON2,
        "JOTAUTH_ISSUER": f"http://127.0.0.1:{port}",
        "JOTAUTH_DATABASE_URL": f"sqlite:///{folder / 'jotauth.db'}",
    }
    with running_serve(folder, "--demo", env=env, port=port) as served:
        yield served.base


def _log_in_with_dpop(page: Any) -> str:
    page.click("#dpop-login")
    page.wait_for_selector("#dpop-login-result[data-status=valid]")
    page.wait_for_selector("#dpop-key[data-status=valid]")
    key = page.text_content("#dpop-key") or ""
    assert "cannot be exported" in key
    return key.split()[2].rstrip(";")  # "Key thumbprint <jkt>; ..."


def test_demo_dpop_binds_tokens_and_a_stolen_copy_fails(watched: Any, demo_server: str) -> None:
    """Login with DPoP: DPoP token whose cnf.jkt is the page's key; /profile with a proof is
    welcome; the same tokens without the key are refused three ways; the key survives a
    reload (IndexedDB) and stays non-extractable."""
    page = watched.page
    page.goto(demo_server + "/demo")
    page.wait_for_selector("body[data-ready=true]")
    jkt = _log_in_with_dpop(page)
    assert f"DPoP token, cnf.jkt {jkt} = this page's key" in (
        page.text_content("#dpop-login-result") or ""
    )

    page.click("#dpop-profile")
    page.wait_for_selector("#dpop-profile-result[data-status=valid]")
    assert "Welcome, john!" in (page.text_content("#dpop-profile-result") or "")

    page.click("#dpop-steal")
    page.wait_for_selector("#dpop-steal-result[data-status=valid]")
    stolen = page.text_content("#dpop-steal-result") or ""
    assert "GET /profile as Bearer -> 401" in stolen
    assert "GET /profile with the thief's own key -> 401 invalid_token" in stolen
    assert "POST /refresh without a proof -> 401 invalid_grant" in stolen

    exported = page.evaluate(
        "async () => { const pair = await JotauthDPoP.loadKey();"
        " try { await crypto.subtle.exportKey('jwk', pair.privateKey); return 'exported'; }"
        " catch (e) { return e.name; } }"
    )
    assert exported == "InvalidAccessError"
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert _log_in_with_dpop(page) == jkt  # the same key, from IndexedDB
    assert watched.requests_outside(demo_server) == []
