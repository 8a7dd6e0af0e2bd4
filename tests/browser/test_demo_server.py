"""The pages against a real ``jotauth serve --demo`` process on a free 127.0.0.1 port:
the demo flow end to end, and the debugger verifying an issued token with the server's JWKS.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _jotauth_executable() -> str:
    beside = Path(sys.executable).with_name("jotauth")
    return str(beside) if beside.exists() else (shutil.which("jotauth") or "jotauth")


@pytest.fixture(scope="module")
def demo_server(
    tmp_path_factory: pytest.TempPathFactory, free_port_factory: Any, wait_port: Any
) -> Iterator[str]:
    """``jotauth serve --demo --port P`` started as a user would, in an empty folder."""
    if importlib.util.find_spec("jotauth.cli.serve") is None:
        pytest.skip("`jotauth serve` is not part of this checkout yet (jotauth.cli.serve missing)")
    port = free_port_factory()
    folder = tmp_path_factory.mktemp("serve")
    env = {
        **os.environ,
        "JOTAUTH_ISSUER": f"http://127.0.0.1:{port}",
        "JOTAUTH_DATABASE_URL": f"sqlite:///{folder / 'jotauth.db'}",
        "JOTAUTH_ARGON2_TIME_COST": "1",
        "JOTAUTH_ARGON2_MEMORY_COST": "1024",
    }
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(
        [_jotauth_executable(), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        try:
            wait_port(port, 60.0)
        except RuntimeError:
            process.terminate()
            process.wait(10)
            pytest.fail("jotauth serve did not start:\n" + (folder / "serve.log").read_text())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


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
