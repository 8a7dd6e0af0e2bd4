"""``GET /``: the landing page says what the server is and links pages that answer.

tests/browser/test_docs_pages.py opens it in Chromium with every other origin cut off.
"""

import base64
import hashlib
import re
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio


def _policy(response: httpx.Response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return {part.split(" ", 1)[0]: part.partition(" ")[2] for part in header.split("; ") if part}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_root_is_a_landing_page_linking_the_pages(client: httpx.AsyncClient) -> None:
    """/ was a 404 JSON; it says what the server is and links pages that all answer 200."""
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "A JWT authentication server" in page
    assert "<code>http://testserver</code>" in page
    links = re.findall(r'href="([^"]+)"', page)
    assert links[1:] == [
        "/docs",
        "/demo",
        "/debugger",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ]
    assert links[0] == "data:,"  # the empty icon: no /favicon.ico request
    for link in links[1:]:
        assert (await client.get(link)).status_code == 200, link


async def test_landing_page_runs_no_script_and_loads_nothing(client: httpx.AsyncClient) -> None:
    """Its CSP allows only its own inline stylesheet, by hash; no script, no other origin."""
    response = await client.get("/")
    style = re.findall(r"<style>(.*?)</style>", response.text, re.DOTALL)
    assert len(style) == 1
    assert "<script" not in response.text
    policy = _policy(response)
    assert policy["default-src"] == "'none'"
    assert policy["style-src"] == _sha256(style[0])
    assert "script-src" not in policy
    assert policy["frame-ancestors"] == "'none'"


async def test_landing_page_escapes_the_issuer(kit: Any, sqlite_url: str, clock: Any) -> None:
    """An issuer URL with markup in it is shown as text, never as HTML."""
    from jotauth.issuer.app import create_app

    settings = kit.make_settings(sqlite_url, issuer='http://x"><script>alert(1)</script>')
    app = create_app(settings, clock=clock)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            page = (await c.get("/")).text
    finally:
        app.state.store.close()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
