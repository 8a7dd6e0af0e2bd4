"""Single sign-on in a real browser, between two applications jotauth did not write.

Everything runs as the README of examples/sso says, each in its own process on 127.0.0.1:
``jotauth serve --demo``, the two clients registered with ``jotauth client add``, the
articles API, App A (Starlette + Authlib, a confidential client) and App B (a single-page
app with oidc-client-ts from npm, a public client). Chromium signs in once at A on the real
login page, is signed in at B without a password, signs out at B, and then both
applications' tokens are refused by the guarded API, A's refresh fails, and A's next
sign-in asks for the password again.
"""

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.node_package import npm_ci
from tests.serve_process import (
    CHEAP_ARGON2,
    ChildProcess,
    eventually,
    free_port,
    jotauth_executable,
    running_serve,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sso"
SERVICE_TOKEN = "sso-apps-service-token-0123456789abcdef"
POLL = 1  # seconds between the articles API's revocation polls (and the server's advice)
REVOKED_WITHIN = 15.0  # the bound on seeing a logout at the API: many polls, never a sleep


def client_commands(web_app: str, spa: str) -> list[list[str]]:
    """The two ``jotauth client add`` commands of the README, for apps at these origins."""
    scopes = ["--scope", "openid", "--scope", "profile", "--scope", "articles:read"]
    grants = ["--grant", "authorization_code", "--grant", "refresh_token"]
    return [
        ["jotauth", "client", "add", "App A", "--client-id", "web-app", *grants,
         "--auth-method", "client_secret_basic", "--redirect-uri", web_app + "/callback",
         "--post-logout-redirect-uri", web_app + "/signed-out", *scopes, "--first-party"],
        ["jotauth", "client", "add", "App B", "--client-id", "spa", "--public", *grants,
         "--redirect-uri", spa + "/callback", "--post-logout-redirect-uri", spa + "/signed-out",
         *scopes, "--first-party"],
    ]  # fmt: skip


def test_the_readme_registers_the_clients_this_test_registers() -> None:
    """The README's commands (ports 8003 and 8004) are the ones run below, word for word."""
    readme = (EXAMPLES / "README.md").read_text().replace("\\\n", " ")
    readme = " ".join(readme.split())
    for command in client_commands("http://127.0.0.1:8003", "http://127.0.0.1:8004"):
        assert shlex.join(command) in readme


@dataclass(frozen=True)
class Apps:
    issuer: str
    articles: str
    web_app: str
    spa: str


@pytest.fixture
def spa_node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """oidc-client-ts installed by ``npm ci`` from App B's committed lock (opt-in)."""
    folder = tmp_path_factory.mktemp("spa")
    return npm_ci(EXAMPLES / "spa", folder, "oidc-client-ts (App B of examples/sso)")


@pytest.fixture
def apps(tmp_path: Path, spa_node_modules: Path) -> Iterator[Apps]:
    """The auth server, the two clients, the articles API and both applications."""
    auth_port, articles_port, web_port, spa_port = (free_port() for _ in range(4))
    issuer, articles = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{articles_port}"
    web_app, spa = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{spa_port}"
    clean = {name: value for name, value in os.environ.items() if not name.startswith("JOTAUTH_")}
    server_env = {
        "JOTAUTH_ISSUER": issuer,
        "JOTAUTH_SERVICE_TOKENS": SERVICE_TOKEN,
        "JOTAUTH_CORS_ORIGINS": spa,  # App B reads discovery and posts to /oauth/token
        "JOTAUTH_POLL_INTERVAL": str(POLL),
        **CHEAP_ARGON2,
    }
    with running_serve(tmp_path, "--demo", env=server_env, port=auth_port):
        client_secrets: list[str | None] = []
        for command in client_commands(web_app, spa):
            # In the server's folder and with no JOTAUTH_* variable, as the README runs it.
            done = subprocess.run(
                [jotauth_executable(), *command[1:], "--json"],
                cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            client_secrets.append(json.loads(done.stdout)["client_secret"])
        web_secret, spa_secret = client_secrets
        assert web_secret  # App A is confidential
        assert spa_secret is None  # App B is public
        common = {**clean, "JOTAUTH_ISSUER": issuer, "ARTICLES_API": articles}
        started: list[ChildProcess] = []

        def start(script: str, port: int, env: dict[str, str]) -> None:
            args = [sys.executable, str(EXAMPLES / script), "--port", str(port)]
            started.append(ChildProcess(script, args, port, env, tmp_path / f"{script}.log"))

        try:
            start("articles_api.py", articles_port, {
                **common, "JOTAUTH_SERVICE_TOKEN": SERVICE_TOKEN,
                "JOTAUTH_POLL_INTERVAL": str(POLL), "JOTAUTH_CORS_ORIGINS": spa,
            })  # fmt: skip
            start("web_app.py", web_port, {**common, "WEB_APP_CLIENT_SECRET": web_secret})
            start("spa_server.py", spa_port, {**common, "SPA_NODE_MODULES": str(spa_node_modules)})
            yield Apps(issuer, articles, web_app, spa)
        finally:
            for process in reversed(started):
                process.stop()


def _sign_in_at_the_web_app(page: Any, apps: Apps) -> None:
    page.goto(apps.web_app + "/")
    page.wait_for_selector("#status[data-signed-in=false]")
    page.click("#login")
    page.wait_for_url(apps.issuer + "/oauth/authorize?*")  # jotauth's login page
    page.fill("#username", "john")
    page.fill("#password", "password123")
    page.click("button[type=submit]")
    page.wait_for_selector("#status[data-signed-in=true]")
    assert page.url == apps.web_app + "/"
    assert page.text_content("#status") == "Signed in as john."


def _web_app_articles(page: Any, apps: Apps) -> str:
    page.goto(apps.web_app + "/articles")
    status: str = page.get_attribute("#result", "data-status")
    return status


def test_sign_in_once_sso_to_the_spa_sign_out_everywhere(watched: Any, apps: Apps) -> None:
    page = watched.page
    landed: list[str] = []

    def on_navigated(frame: Any) -> None:
        if frame == page.main_frame:
            landed.append(frame.url)

    page.on("framenavigated", on_navigated)

    # App A: the real login page once; then its server calls the API with its token.
    _sign_in_at_the_web_app(page, apps)
    assert _web_app_articles(page, apps) == "ok"
    assert "JWT explained" in page.text_content("#result")

    # App B: signed in through the SSO session, no page of the issuer shown on the way.
    page.goto(apps.spa + "/")
    page.wait_for_selector("body[data-ready=true]")
    assert page.get_attribute("#status", "data-signed-in") == "false"
    before = len(landed)
    page.click("#login")
    page.wait_for_selector("#status[data-signed-in=true]")
    assert page.text_content("#status") == "Signed in as john."
    assert not [url for url in landed[before:] if url.startswith(apps.issuer)], landed[before:]
    page.click("#call-api")
    page.wait_for_selector("#api-result[data-status=ok]")  # CORS and the bearer token work
    assert "JWT explained" in page.text_content("#api-result")
    user = json.loads(page.evaluate(f"sessionStorage.getItem('oidc.user:{apps.issuer}:spa')"))
    spa_token = user["access_token"]

    # Sign out at B: RP-initiated logout at the issuer, back to B signed out.
    with page.expect_navigation(url=apps.spa + "/signed-out?*"):
        page.click("#logout")
    page.wait_for_selector("body[data-ready=true] #status[data-signed-in=false]")
    assert page.url == apps.spa + "/"  # the app checked the state and tidied the address
    logout = [url for url in watched.requests if url.startswith(apps.issuer + "/oauth/logout?")]
    assert len(logout) == 1
    assert "id_token_hint=" in logout[0]

    # The API refuses B's token once the revocation feed has told it...
    def spa_call() -> httpx.Response:
        bearer = {"Authorization": "Bearer " + spa_token}
        return httpx.get(apps.articles + "/articles", headers=bearer, timeout=10)

    assert eventually(lambda: spa_call().status_code == 401, REVOKED_WITHIN), "B's token works"
    assert spa_call().json()["jotauth_code"] == "token_revoked"

    # ... and A's: A's next use is refused, its refresh too, and A signs the user out.
    deadline = time.monotonic() + REVOKED_WITHIN
    while (status := _web_app_articles(page, apps)) == "ok" and time.monotonic() < deadline:
        page.wait_for_timeout(200)  # bounded: A answers each reload with a fresh API call
    assert status == "refused", "the API still takes App A's token"
    assert 'error="invalid_token"' in page.text_content("#result")
    assert page.get_attribute("#refresh", "data-status") == "refused"
    assert "invalid_grant" in page.text_content("#refresh")
    page.goto(apps.web_app + "/")
    assert page.get_attribute("#status", "data-signed-in") == "false"

    # The SSO session is over: signing in at A asks for the password again.
    _sign_in_at_the_web_app(page, apps)

    # A's own sign-out: end_session with its id_token_hint, back to A with the state it sent.
    with page.expect_navigation(url=apps.web_app + "/signed-out?state=*"):
        page.click("#logout")
    assert page.get_attribute("#status", "data-signed-in") == "false"
    page.goto(apps.web_app + "/login")
    page.wait_for_url(apps.issuer + "/oauth/authorize?*")
    assert page.locator("#password").is_visible()

    allowed = tuple(origin + "/" for origin in (apps.issuer, apps.articles, apps.web_app, apps.spa))
    assert [url for url in watched.requests if not url.startswith((*allowed, "data:"))] == []
