"""Every route has one spelling: no redirect, and none built from the request's Host."""

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio


def _routes(routes: list[Any]) -> list[Any]:
    """Every route, including those of included routers (FastAPI keeps them nested)."""
    found = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        found.extend(_routes(nested.routes) if nested is not None else [route])
    return found


def _paths(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route, path parameters filled with a plausible value."""
    found = []
    for route in _routes(app.routes):
        methods = getattr(route, "methods", None)
        if not methods:
            continue
        path = str(route.path).replace("{", "").replace("}", "")
        for method in sorted(methods):
            if method != "HEAD":
                found.append((method, path))
    return found


async def test_trailing_slash_is_a_404_never_a_redirect_to_the_request_host(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """``POST /login/`` with ``Host: evil.example`` used to answer 307 to http://evil.example."""
    await kit.add_user(app)
    paths = _paths(app)
    assert ("POST", "/login") in paths
    assert ("GET", "/admin/users") in paths
    for method, path in paths:
        if path == "/":
            continue  # the landing page: "/" is its one spelling
        response = await client.request(
            method,
            path + "/",
            headers={"Host": "evil.example"},
            json={"username": "john", "password": "password123"},
        )
        assert response.status_code == 404, (method, path, response.status_code)
        assert "location" not in response.headers, (method, path)
        assert "evil.example" not in response.text
