"""panva's openid-client (node), a relying party nobody here wrote, signs in to ``jotauth serve``
through the real login page in headless Chromium.

openid-client is strict and judges every answer itself: discovery, the authorization response
(``state``, RFC 9207 ``iss``), the ID token (signature against the JWKS, ``iss``, ``aud``,
``azp``, ``nonce``), userinfo's ``sub``, refresh, introspection, revocation, RP-initiated
logout, and client_credentials with each of the three client authentication methods. The node
script prints each page the browser must open and runs the relying party's callback server;
this test drives Chromium and checks what the script reports. Opt-in as the other node
interop tests: ``JOTAUTH_INTEROP_NODE=1``.
"""

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from tests.browser_support import launch_chromium, sign_in_on_login_page
from tests.issuer.client_server import SIGN_IN, add_client, add_user, client_server
from tests.node_package import node_package
from tests.serve_process import ServeProcess, free_port

from jotauth import jose

SCRIPT = Path(__file__).with_name("interop_node") / "code_flow.mjs"
OPENID_CLIENT_VERSION = "6.9.0"
STEP_SECONDS = 60.0  # the longest any one step (a page, a grant) may take

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temp dir with openid-client installed and the script beside it; skips unless enabled."""
    folder = tmp_path_factory.mktemp("node-openid-client")
    return node_package(folder, "openid-client", OPENID_CLIENT_VERSION, SCRIPT, "openid-client")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    """``jotauth serve`` over plain HTTP on 127.0.0.1, so its cookies drop Secure."""
    with client_server(
        tmp_path_factory.mktemp("node-code-server"), JOTAUTH_COOKIE_INSECURE_DEV="1"
    ) as served:
        yield served


def _sign_in_clients(env: dict[str, str], callback: str) -> dict[str, Any]:
    """A confidential web app and a public single-page app, registered as an operator would."""
    web = add_client(
        env, "node-web", "--auth-method", "client_secret_basic", *SIGN_IN,
        "--redirect-uri", callback + "/web/callback",
        "--post-logout-redirect-uri", callback + "/web/signed-out",
    )  # fmt: skip
    spa = add_client(
        env, "node-spa", "--public", *SIGN_IN, "--redirect-uri", callback + "/spa/callback"
    )
    return {"web": web, "spa": spa}


def _service_clients(env: dict[str, str], folder: Path) -> dict[str, Any]:
    """One client_credentials client per authentication method."""
    key = jose.Key.generate("ES256")
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.public().to_jwk()]}))
    clients: dict[str, Any] = {
        method: add_client(env, f"node-{method}", "--auth-method", method)
        for method in ("client_secret_basic", "client_secret_post")
    }
    clients["private_key_jwt"] = {
        **add_client(
            env, "node-signer", "--auth-method", "private_key_jwt", "--jwks-file", str(jwks)
        ),
        "jwk": {**key.to_jwk(private=True), "kid": key.kid},
    }
    return clients


def _lines(stream: IO[str], into: "queue.Queue[str]") -> None:
    for line in stream:
        into.put(line)
    into.put("")  # the script ended


def _drive(browser: Any, script: subprocess.Popen[str]) -> tuple[dict[str, Any], list[bool]]:
    """Open each page the script asks for; (its result, whether each "login" page had the
    password field)."""
    assert script.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(script.stdout, lines), daemon=True).start()
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(STEP_SECONDS * 1000)
    login_pages: list[bool] = []
    try:
        while True:
            line = lines.get(timeout=STEP_SECONDS)
            assert line, "the node script ended without a result"
            message = json.loads(line)
            if "open" not in message:
                assert "error" not in message, message["error"]
                return message["result"], login_pages
            if message["expect"] == "login":
                login_pages.append(
                    sign_in_on_login_page(tab, message["open"], "john", "password123")
                )
            else:
                tab.goto(message["open"])
                tab.wait_for_selector("#landed")  # the relying party's callback page
    finally:
        context.close()


def _run(
    browser: Any, folder: Path, config: dict[str, Any], stderr: IO[str]
) -> tuple[dict[str, Any], list[bool]]:
    """The node script run on ``config`` with the browser opening its pages; what ``_drive``
    returns. The script is killed if it outlives the test's steps."""
    with subprocess.Popen(
        ["node", SCRIPT.name], cwd=folder, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
    ) as script:  # fmt: skip
        try:
            assert script.stdin is not None
            script.stdin.write(json.dumps(config))
            script.stdin.close()
            answer = _drive(browser, script)
            assert script.wait(STEP_SECONDS) == 0
            return answer
        finally:
            if script.poll() is None:
                script.kill()


def test_openid_client_signs_in_through_the_login_page(
    node_client: Path, server: tuple[ServeProcess, dict[str, str]], tmp_path: Path
) -> None:
    """Code + PKCE, userinfo, refresh, introspection, revocation, logout; then the login page
    again for the next app; then client_credentials with every authentication method."""
    served, env = server
    sub = add_user(env, "john", "password123")
    port = free_port()
    clients = _sign_in_clients(env, f"http://127.0.0.1:{port}")
    services = _service_clients(env, tmp_path)
    config = {
        "issuer": served.base, "callback_port": port, "web": clients["web"],
        "spa": clients["spa"], "services": services,
    }  # fmt: skip
    log = tmp_path / "node.log"
    with launch_chromium() as browser, log.open("w") as stderr:
        result, login_pages = _run(browser, node_client, config, stderr)
    assert log.read_text() == ""
    # Both sign-ins showed the login page: the logout between them ended the SSO session.
    assert login_pages == [True, True]

    web = result["web"]
    web_id = clients["web"]["client_id"]
    assert web["iss"] == web["metadata_issuer"] == served.base
    assert web["claims"] == {
        "sub": sub, "aud": web_id, "azp": web_id, "preferred_username": "john",
        "has_sid": True, "has_at_hash": True,
    }  # fmt: skip
    assert web["userinfo"] == {"sub": sub, "preferred_username": "john"}
    assert web["first"] == {"access": True, "refresh": True}
    assert web["after_refresh"] == {"old_refresh": False, "refresh": True, "access": True}
    assert web["refreshed_rotates"] is True
    assert web["revoked_access"] is False
    assert web["logout_state"] is True
    assert web["after_logout"] == {
        "access": False, "refresh": False, "userinfo": "invalid_token",
        "refresh_grant": "invalid_grant",
    }  # fmt: skip

    spa = result["spa"]
    assert spa["sub"] == sub
    assert spa["aud"] == clients["spa"]["client_id"]
    assert spa["userinfo"] == {"sub": sub, "preferred_username": "john"}
    assert spa["refresh_after_revoke"] == "invalid_grant"
    assert spa["userinfo_after_revoke"] == "invalid_token"

    for method, registered in services.items():
        assert result["services"][method] == {
            "claims_sub": registered["client_id"], "scope": "reports:read", "active": True,
            "introspected_client_id": registered["client_id"], "after_revoke": False,
        }, method  # fmt: skip
