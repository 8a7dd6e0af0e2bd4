"""``/docs`` (Swagger UI) is served from this origin alone: the page, its policy, its assets.

tests/browser/test_docs_pages.py renders it in Chromium with every other origin cut off.
"""

import base64
import hashlib
import re
from importlib.resources import files

import httpx
import pytest

pytestmark = pytest.mark.anyio

_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")


def _policy(response: httpx.Response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return {part.split(" ", 1)[0]: part.partition(" ")[2] for part in header.split("; ") if part}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_docs_load_nothing_from_another_origin(client: httpx.AsyncClient) -> None:
    """/docs names only this server's assets, and its CSP allows no other origin."""
    response = await client.get("/docs")
    assert response.status_code == 200
    page = response.text
    assert "http://" not in page
    assert "https://" not in page
    for name in _ASSETS:
        assert f'"/docs/assets/{name}"' in page
    policy = _policy(response)
    # The security-headers middleware keeps the page's own policy and adds no second one.
    assert len(response.headers.get_list("content-security-policy")) == 1
    assert "http" not in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


async def test_docs_policy_allows_exactly_the_inline_start_up_script(
    client: httpx.AsyncClient,
) -> None:
    """The one inline script (SwaggerUIBundle({...})) runs by its hash; nothing else inline."""
    response = await client.get("/docs")
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(inline) == 1
    assert "SwaggerUIBundle(" in inline[0]
    assert '"validatorUrl": null' in inline[0]  # no badge image from validator.swagger.io
    assert _policy(response)["script-src"] == "'self' " + _sha256(inline[0])


async def test_docs_assets_are_served_from_the_pinned_package(client: httpx.AsyncClient) -> None:
    """Each asset is the package's file, with its media type, revalidated by ETag."""
    static = files("fastapi_offline") / "static"
    media = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for name in _ASSETS:
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 200, name
        assert response.content == static.joinpath(name).read_bytes()
        assert response.headers["content-type"].startswith(media[name[name.rfind(".") :]])
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["content-security-policy"] == "default-src 'none'"
        again = await client.get(
            f"/docs/assets/{name}", headers={"If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304


async def test_swagger_ui_bundle_renders_openapi_3_1(client: httpx.AsyncClient) -> None:
    """FastAPI writes OpenAPI 3.1, which only Swagger UI 5 renders (4.x shows an error)."""
    assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.1.")
    bundle = (await client.get("/docs/assets/swagger-ui-bundle.js")).text
    versions = re.findall(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', bundle)
    assert versions
    assert int(versions[0]) >= 5


@pytest.mark.parametrize(
    "path",
    [
        "/docs/assets/redoc.standalone.js",  # in the package, not served
        "/docs/assets/../core.py",
        "/docs/assets/%2e%2e/core.py",
        "/docs/assets/",
        "/docs/oauth2-redirect",
        "/redoc",
    ],
)
async def test_nothing_else_is_served_under_docs(client: httpx.AsyncClient, path: str) -> None:
    """Only the three assets: no other file of the package, no traversal, no /redoc."""
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
