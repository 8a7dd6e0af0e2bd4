"""The tools router in-process: pages, assets, the Content-Security-Policy and the allowlist."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jotauth.tools import web

STATIC = Path(web.__file__).parent / "static"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(web.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/debugger", "/demo"])
async def test_pages_are_html_with_a_strict_csp(client: httpx.AsyncClient, path: str) -> None:
    """Each page is served as HTML with a CSP that allows only this origin and no inline code."""
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("name", ["debugger.html", "demo.html"])
def test_html_has_no_inline_script_or_style_and_no_external_url(name: str) -> None:
    """No inline <script>/<style>/handlers and no URL to another origin, so the CSP can hold."""
    html = (STATIC / name).read_text()
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "<style" not in html
    assert re.search(r"\son[a-z]+=", html) is None
    assert re.search(r"(src|href)=\"(https?:)?//", html) is None
    for src in re.findall(r'(?:src|href)="(tools-static/[^"]+)"', html):
        assert (STATIC / src).is_file(), src


def test_scripts_never_use_innerhtml_or_eval() -> None:
    """The pages build the DOM with textContent only: a token is untrusted input."""
    for script in (STATIC / "tools-static").glob("*.js"):
        text = script.read_text()
        for banned in (".innerHTML", ".outerHTML", "insertAdjacentHTML(", "eval(", "new Function("):
            assert banned not in text, f"{banned} in {script.name}"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "media"),
    [("jwt.js", "text/javascript"), ("debugger.js", "text/javascript"), ("tools.css", "text/css")],
)
async def test_assets_with_their_media_types(
    client: httpx.AsyncClient, name: str, media: str
) -> None:
    """Scripts and styles come from the router with the right type and the same CSP."""
    response = await client.get(f"/tools-static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content == (STATIC / "tools-static" / name).read_bytes()
    assert "content-security-policy" in response.headers


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/tools-static/missing.js",
        "/tools-static/..%2Fweb.py",
        "/tools-static/%2E%2E%2F__init__.py",
        "/tools-static/../debugger.html",
        "/tools-static/",
    ],
)
async def test_anything_off_the_allowlist_is_404(client: httpx.AsyncClient, path: str) -> None:
    """Unknown names and traversal attempts never reach the file system."""
    response = await client.get(path)
    assert response.status_code == 404
    assert b"import" not in response.content


def test_every_asset_on_disk_is_on_the_allowlist() -> None:
    """A new script added to static/ without the allowlist would 404 in production."""
    on_disk = {p.name for p in (STATIC / "tools-static").iterdir()}
    assert on_disk == set(web._ASSETS)


def test_meta_csp_matches_the_header() -> None:
    """Opened from disk, the <meta> policy gives the same protection as the header."""
    for name in ("debugger.html", "demo.html"):
        html = (STATIC / name).read_text()
        meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
        assert meta is not None
        # frame-ancestors is ignored in <meta>, so the header alone carries it.
        header = web.CONTENT_SECURITY_POLICY.replace("; frame-ancestors 'none'", "")
        assert meta.group(1) == header
