"""The OpenAPI document says what every route takes, answers and needs, and the routes agree.

The first half walks ``app.openapi()`` as a client generator would; the second half asks every
documented route over HTTP, without a token and with a token lacking the admin permission,
and checks the answers are the ones the document promises.
"""

import inspect
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from jotauth.issuer.api import admin, auth, clients, introspection, oauth, userinfo, wellknown
from jotauth.issuer.observability import audit_api

pytestmark = pytest.mark.anyio

# The routes whose use cases ask the brute-force limits (AuthService, services.limits).
RATE_LIMITED = ("/login", "/refresh", "/register", "/oauth/token", "/password")

_ERROR_SCHEMAS = {"#/components/schemas/OAuthError", "#/components/schemas/BearerError"}
_FORM = "application/x-www-form-urlencoded"


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _endpoints() -> dict[tuple[str, str], APIRoute]:
    """(path, method) -> route, from the routers the app includes (a new one joins here)."""
    routers = (
        auth.router, oauth.router, introspection.router, wellknown.router, admin.router,
        clients.router, audit_api.router, userinfo.router,
    )  # fmt: skip
    return {
        (route.path, method): route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _body_reader(route: APIRoute) -> str | None:
    """What the route takes its body as: ``json``, ``optional json``, ``form`` or None.

    A JSON body is a model parameter (FastAPI's ``body_field``); a form is the ``form(Model)``
    dependency of ``api/body.py``. A handler reading the body by hand would be neither, and
    documented by nothing: none may.
    """
    source = inspect.getsource(route.endpoint)
    assert not re.search(r"request\.(body|json|form|stream)\(", source), route.path
    if route.body_field is not None:
        return "json" if route.body_field.field_info.is_required() else "optional json"
    calls = [dependency.call for dependency in route.dependant.dependencies]
    if any(getattr(call, "__qualname__", "") == "form.<locals>.parse" for call in calls):
        return "form"
    return None


def _security_scopes(operation: dict[str, Any]) -> list[str]:
    return [scope for requirement in operation.get("security", []) for s in requirement.values()
            for scope in s]  # fmt: skip


def test_every_operation_has_a_summary(app: Any) -> None:
    """A client reading /docs sees a one-line title for each operation, never a bare path."""
    for path, method, operation in _operations(app.openapi()):
        assert operation.get("summary"), f"{method} {path} has no summary"
        assert operation.get("description"), f"{method} {path} has no description"


def test_protected_routes_declare_security_and_document_401_and_403(app: Any) -> None:
    """Every route with a security requirement documents 401; one needing scopes, 403."""
    spec = app.openapi()
    schemes = spec["components"]["securitySchemes"]
    protected = 0
    for path, method, operation in _operations(spec):
        security = operation.get("security")
        if not security:
            continue
        protected += 1
        for requirement in security:
            assert set(requirement) <= set(schemes), f"{method} {path}: unknown scheme"
        assert "401" in operation["responses"], f"{method} {path} does not document 401"
        if _security_scopes(operation):
            assert "403" in operation["responses"], f"{method} {path} does not document 403"
    assert protected >= 18  # /logout ... /admin/audit; a lost declaration shows here
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearer"]["description"],
    }


def test_admin_audit_declares_admin_read(app: Any) -> None:
    """The audit query route (observability/audit_api.py) declares bearer admin:read."""
    operation = app.openapi()["paths"]["/admin/audit"]["get"]
    assert operation["security"] == [{"bearer": ["admin:read"]}]
    assert {"400", "401", "403"} <= set(operation["responses"])


def test_every_route_that_reads_a_body_documents_its_schema(app: Any) -> None:
    """Each handler reading a body documents a requestBody of that media type, and no other does."""
    spec = app.openapi()
    endpoints = _endpoints()
    bodies = 0
    for path, method, operation in _operations(spec):
        assert (path, method) in endpoints, f"{method} {path}: add its router to _endpoints"
        reader = _body_reader(endpoints[(path, method)])
        body = operation.get("requestBody")
        if reader is None:
            assert body is None, f"{method} {path} documents a body it never reads"
            continue
        bodies += 1
        assert body is not None, f"{method} {path} reads a body but documents none"
        media = _FORM if reader == "form" else "application/json"
        assert list(body["content"]) == [media], f"{method} {path}"
        assert body.get("required", False) is (reader != "optional json"), f"{method} {path}"
        schema = body["content"][media]["schema"]
        if "$ref" in schema:
            schema = _resolve(spec, schema["$ref"])
        assert schema["type"] == "object"
        assert schema["properties"], f"{method} {path}: an empty body schema"
    assert bodies == 13  # + introspect, revoke, register and replace a client


def test_admin_create_user_documents_its_body(app: Any) -> None:
    """POST /admin/users: the body schema names username, password, roles and permissions."""
    spec = app.openapi()
    body = spec["paths"]["/admin/users"]["post"]["requestBody"]
    schema = _resolve(spec, body["content"]["application/json"]["schema"]["$ref"])
    assert set(schema["properties"]) == {"username", "password", "roles", "permissions"}
    assert schema["required"] == ["username", "password"]


def test_token_endpoint_documents_a_form(app: Any) -> None:
    """POST /oauth/token takes a form (RFC 6749), with grant_type required and enumerated."""
    body = app.openapi()["paths"]["/oauth/token"]["post"]["requestBody"]
    schema = body["content"][_FORM]["schema"]
    assert schema["required"] == ["grant_type"]
    assert schema["properties"]["grant_type"]["enum"] == [
        "authorization_code", "client_credentials", "refresh_token", "password"
    ]  # fmt: skip


def test_rate_limited_routes_document_429_with_retry_after(app: Any) -> None:
    """Every path the rate limiter guards documents its 429 and the Retry-After header."""
    paths = app.openapi()["paths"]
    assert set(RATE_LIMITED) <= set(paths)
    for path in RATE_LIMITED:
        answer = paths[path]["post"]["responses"]["429"]
        assert answer["content"]["application/json"]["schema"]["$ref"] in _ERROR_SCHEMAS
        assert "Retry-After" in answer["headers"]


def test_success_and_error_answers_have_schemas(app: Any) -> None:
    """Each 2xx has a schema; each 4xx/5xx the error body, never FastAPI's 422 validation one."""
    spec = app.openapi()
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        successes = [code for code in responses if code.startswith("2")]
        assert successes, f"{method} {path} documents no success"
        for code in successes:
            content = responses[code]["content"]
            assert all(media["schema"] for media in content.values()), f"{method} {path}"
        for code, answer in responses.items():
            if code.startswith("4"):
                schema = answer["content"]["application/json"]["schema"]
                assert schema["$ref"] in _ERROR_SCHEMAS, f"{method} {path} {code}"
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_every_ref_resolves(app: Any) -> None:
    """Every ``$ref`` in the document points at something in the document."""
    spec = app.openapi()
    refs = set(_refs(spec))
    assert refs
    for ref in refs:
        assert isinstance(_resolve(spec, ref), dict), ref


def test_jwks_is_documented_with_its_media_type(app: Any) -> None:
    """The JWK Set is documented as application/jwk-set+json, as the route answers it."""
    answer = app.openapi()["paths"]["/.well-known/jwks.json"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["application/jwk-set+json"]


# -- the routes behave as documented --------------------------------------------------------


def _request(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    url = re.sub(r"\{[^}]+\}", "1", path)
    request: dict[str, Any] = {"method": method, "url": url}
    content = operation.get("requestBody", {}).get("content", {})
    if _FORM in content:
        request["data"] = {}
        request["headers"] = {"Content-Type": _FORM}
    elif "application/json" in content:
        request["json"] = {}
    return request


async def test_protected_routes_answer_401_without_a_token(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Each route declaring security answers 401 with no token; no other route answers 401."""
    for path, method, operation in _operations(app.openapi()):
        response = await client.request(**_request(path, method, operation))
        where = f"{method} {path}: {response.status_code} {response.text}"
        if operation.get("security"):
            assert response.status_code == 401, where
            assert response.json()["error"] in ("missing_token", "invalid_token"), where
            assert response.headers["www-authenticate"].startswith("Bearer"), where
        else:
            assert response.status_code != 401, where
        assert str(response.status_code) in operation["responses"] or (
            400 <= response.status_code < 500 and "4XX" in operation["responses"]
        ), where


async def test_scoped_routes_answer_403_to_a_token_without_the_permission(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A valid token lacking admin:read/admin:write gets the documented 403 on every admin route."""
    await kit.add_user(app)
    token = (await kit.login(client))["access_token"]
    scoped = 0
    for path, method, operation in _operations(app.openapi()):
        if not _security_scopes(operation):
            continue
        scoped += 1
        request = _request(path, method, operation)
        request["headers"] = {**request.get("headers", {}), **kit.bearer(token)}
        response = await client.request(**request)
        assert response.status_code == 403, f"{method} {path}: {response.text}"
        assert response.json()["error"] == "insufficient_scope"
    assert scoped == 21  # + the seven /admin/clients routes, GET and POST /oauth/userinfo
