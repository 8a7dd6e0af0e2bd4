"""RFC 6750 section 3.1 on every protected route: no credentials, no error code (issue 12, 15).

"If the request lacks any authentication information ..., the resource server SHOULD NOT
include an error code or other error information" in its ``WWW-Authenticate`` challenge.
The test walks every operation of the app's OpenAPI document rather than a list, so a route
added later is held to the rule too (FastAPI's own route objects for included routers are
private; the schema is the public list of what the app serves).
"""

import re
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

_PARAM = re.compile(r"\{[^}]+\}")


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document, path parameters filled with a placeholder."""
    return [
        (method.upper(), _PARAM.sub("1", path))
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _declared_bearer(document: dict[str, Any]) -> set[tuple[str, str]]:
    """The operations whose OpenAPI entry says they take a bearer token."""
    return {
        (method.upper(), _PARAM.sub("1", path))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }


async def test_no_credentials_get_a_challenge_without_error_code(client: httpx.AsyncClient) -> None:
    """Each protected route of the issuer answers a bare request 401 ``Bearer`` without error=."""
    document = (await client.get("/openapi.json")).json()
    challenged: dict[tuple[str, str], str] = {}
    for method, path in _operations(document):
        response = await client.request(method, path)
        if response.status_code == 401:
            challenged[(method, path)] = response.headers.get("www-authenticate", "")
    expected = _declared_bearer(document)
    expected.add(("GET", "/revocations"))  # the feed takes a service token or an access token
    assert expected <= set(challenged), "a protected route did not answer 401 without a token"
    for operation, challenge in challenged.items():
        assert challenge.startswith("Bearer"), operation
        assert "error=" not in challenge, (operation, challenge)
        assert "error_description=" not in challenge, (operation, challenge)


async def test_another_scheme_counts_as_no_credentials(client: httpx.AsyncClient) -> None:
    """``Authorization: Basic ...`` on the feed is no bearer credential: still no error code."""
    for headers in ({"Authorization": "Basic dXNlcjpwYXNz"}, {}):
        response = await client.get("/revocations", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "missing_token"
    wrong = await client.get("/revocations", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    empty = await client.get("/revocations", headers={"Authorization": "Bearer "})
    assert empty.status_code == 400
    assert 'error="invalid_request"' in empty.headers["www-authenticate"]
