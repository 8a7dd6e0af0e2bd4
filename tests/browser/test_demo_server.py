"""The pages against a real ``jotauth serve --demo`` process on a free 127.0.0.1 port:
the demo flow end to end, and the debugger verifying an issued token with the server's JWKS.
"""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from tests.serve_process import CHEAP_ARGON2, free_port, running_serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jotauth serve --demo --port P`` started as a user would, in an empty folder."""
    port = free_port()
    folder = tmp_path_factory.mktemp("serve")
    env = {
        **CHEAP_ARGON2,
        "JOTAUTH_ISSUER": f"http://127.0.0.1:{port}",
        "JOTAUTH_DATABASE_URL": f"sqlite:///{folder / 'jotauth.db'}",
    }
    with running_serve(folder, "--demo", env=env, port=port) as served:
        yield served.base


def test_demo_flow_against_jotauth_serve(watched: Any, demo_server: str, demo_flow: Any) -> None:
    """The tutorial's flow in the browser against the real server and user john."""
    demo_flow(watched, demo_server, "john", "password123")


def test_debugger_verifies_an_issued_token_with_the_servers_jwks(
    watched: Any, demo_server: str
) -> None:
    """A token from POST /login verifies in /debugger with /.well-known/jwks.json."""
    response = httpx.post(
        demo_server + "/login", json={"username": "john", "password": "password123"}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    page = watched.page
    page.goto(demo_server + "/debugger")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#token", token)
    assert '"typ": "at+jwt"' in (page.text_content("#header") or "")
    page.click("#use-server-jwks")
    expect(page.locator("#verify-key")).to_have_value(re.compile('"keys"'))
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=valid]")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    page.fill("#token", tampered)
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=invalid]")
    assert "bad_signature" in (page.text_content("#verify-result") or "")
