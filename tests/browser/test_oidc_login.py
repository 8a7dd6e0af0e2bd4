"""Signing in through the real login page in Chromium, against a real server process.

The two clients' callbacks are on a small relying-party server in this process (uvicorn in a
thread) that records what it was sent; the browser really follows the redirect there, so the
login page's ``form-action`` CSP is exercised by the redirect after its POST.
"""

import base64
import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from tests.serve_process import CHEAP_ARGON2, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


class RelyingParty:
    """Records each callback it receives and answers a plain page."""

    def __init__(self) -> None:
        self.landed: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        query = scope.get("query_string", b"").decode()
        self.landed.append(scope["path"] + "?" + query)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"<p>signed in</p>"})


@pytest.fixture(scope="module")
def rp(thread_server: Any) -> Iterator[tuple[str, RelyingParty]]:
    """The relying party's server: (its origin, its recorder)."""
    app = RelyingParty()
    with thread_server(app) as served:
        yield served.origin, app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, rp: tuple[str, RelyingParty]) -> Iterator[str]:
    """The issuer in its own uvicorn process on a free 127.0.0.1 port."""
    port = free_port()
    folder = tmp_path_factory.mktemp("oidc")
    base = f"http://127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")}
    env = {
        **clean,
        **CHEAP_ARGON2,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "JOTAUTH_ISSUER": base,
        "JOTAUTH_DATABASE_URL": f"sqlite:///{folder / 'jotauth.db'}",
        "JOTAUTH_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "JOTAUTH_COOKIE_INSECURE_DEV": "1",  # plain http on 127.0.0.1
        "JOTAUTH_RATELIMIT_ENABLED": "false",
        "JOTAUTH_AUDIT_LOG": "false",
        "JOTAUTH_TEST_RP": rp[0],
    }
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tests.browser.oidc_server:create",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail((folder / "server.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def _request(base: str, client_id: str, redirect_uri: str) -> tuple[str, str, str]:
    """(authorization URL, verifier, state)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(8)
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid profile", "state": state, "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
    })  # fmt: skip
    return f"{base}/oauth/authorize?{query}", verifier, state


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; fails the test on any script or console error."""
    context = browser.new_context()
    errors: list[str] = []
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield tab
    context.close()
    # The wrong password's 401 is logged by Chromium as a failed resource: expected.
    assert [e for e in errors if "status of 401" not in e] == []


def _code(url: str, state: str) -> str:
    values = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert values["state"] == state
    return values["code"]


def test_sign_in_on_the_login_page_then_sso_for_a_second_app(
    server: str, rp: tuple[str, RelyingParty], page: Any
) -> None:
    """App A: the login page, a wrong password, then the right one -> a code that exchanges.
    App B: no password prompt at all (the SSO session) -> a code."""
    tab, (origin, party) = page, rp
    REDIRECT, REDIRECT_B = origin + "/a/callback", origin + "/b/callback"
    url, verifier, state = _request(server, "app-a", REDIRECT)
    tab.goto(url)
    assert tab.get_attribute("html", "lang") == "en"
    assert tab.evaluate("document.activeElement.id") == "username"
    tab.fill("#username", "john")
    tab.fill("#password", "wrong-password")
    tab.click("button[type=submit]")
    tab.wait_for_selector("#error[role=alert]")
    assert tab.text_content("#error") == "Wrong username or password."
    tab.fill("#password", "password123")
    tab.click("button[type=submit]")
    tab.wait_for_url(REDIRECT + "?*")
    assert tab.text_content("p") == "signed in"
    code = _code(tab.url, state)
    tokens = httpx.post(
        server + "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "code_verifier": verifier, "client_id": "app-a"},
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["id_token"]
    info = httpx.get(
        server + "/oauth/userinfo",
        headers={"Authorization": "Bearer " + tokens.json()["access_token"]},
    )
    assert info.json() == {"sub": "1", "preferred_username": "john"}

    url_b, verifier_b, state_b = _request(server, "app-b", REDIRECT_B)
    tab.goto(url_b)
    tab.wait_for_url(REDIRECT_B + "?*")  # straight through: no login page on the way
    code_b = _code(tab.url, state_b)
    exchanged = httpx.post(
        server + "/oauth/token",
        data={"grant_type": "authorization_code", "code": code_b, "redirect_uri": REDIRECT_B,
              "code_verifier": verifier_b, "client_id": "app-b"},
    )  # fmt: skip
    assert exchanged.status_code == 200
    tokens_b = exchanged.json()
    cookies = {c["name"]: c for c in tab.context.cookies()}
    sso = cookies["jotauth_sso"]
    assert sso["httpOnly"]
    assert sso["sameSite"] == "Lax"
    assert [p.split("?")[0] for p in party.landed if "callback" in p] == [
        "/a/callback",
        "/b/callback",
    ]

    # Log out at B: both applications' tokens die, and A needs the password again.
    out = urlencode({
        "id_token_hint": tokens_b["id_token"], "state": "bye",
        "post_logout_redirect_uri": origin + "/b/signed-out",
    })  # fmt: skip
    tab.goto(f"{server}/oauth/logout?{out}")
    tab.wait_for_url(origin + "/b/signed-out?state=bye")
    for access in (tokens.json()["access_token"], tokens_b["access_token"]):
        refused = httpx.get(
            server + "/oauth/userinfo", headers={"Authorization": "Bearer " + access}
        )
        assert refused.status_code == 401
    url_again, _, _ = _request(server, "app-a", REDIRECT)
    tab.goto(url_again)
    assert tab.locator("#password").is_visible()
