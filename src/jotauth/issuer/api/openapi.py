"""How a route says, in OpenAPI, what it takes, what it answers and who may call it.

* ``form_body(Model)``: a form body's schema, generated from the Pydantic model that
  ``api.body.form(Model)`` validates it with. JSON bodies need nothing here: they are handler
  parameters, which FastAPI documents itself; the form is parsed by a dependency (strictly,
  see ``api/body.py``), which FastAPI cannot see into, so its schema goes in through
  ``openapi_extra``.
* ``errors(400, 401, ...)``: the error answers the route really gives, each with the
  ``{"error", "error_description"}`` body, plus ``4XX`` for the rest (404, 405). Declaring
  ``4XX`` also keeps FastAPI from advertising its own 422 validation body on routes with a
  body model, which this server never sends (validation errors are 400 ``invalid_request``,
  ``api/errors.py``).
* ``bearer(*scopes)``: the security requirement, as a FastAPI ``Security`` dependency so the
  scheme and the requirement come from FastAPI. It only declares: the route itself checks
  the token (``deps.authenticate`` / ``deps.require_admin``), and a test asks every route
  that declares it without a token, expecting 401, and every other route, expecting none.
"""

import re
from typing import Any, Final

from fastapi import Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from jotauth.issuer.api.models import BearerError, OAuthError

__all__ = ["BEARER", "SERVICE_TOKEN", "bearer", "errors", "form_body"]

BEARER: Final = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An access token from /login or /oauth/token: `Authorization: Bearer <token>`.",
)
SERVICE_TOKEN: Final = HTTPBearer(
    auto_error=False,
    scheme_name="service_token",
    description="A shared service secret from JOTAUTH_SERVICE_TOKENS (the revocation feed).",
)

_DESCRIPTIONS: Final = {
    400: "`invalid_request` (or an OAuth code): a malformed body, field or parameter",
    401: "`missing_token` / `invalid_token`: no valid, unrevoked bearer access token",
    403: "`insufficient_scope`: the token lacks the permission",
    404: "`not_found`",
    409: "`conflict`",
    413: "`invalid_request`: the body is over JOTAUTH_MAX_BODY_BYTES",
    415: "`invalid_request`: the body is not `application/json`",
    422: "`token_too_large`: the access token would exceed 8 KiB (too many permissions)",
    429: "`rate_limited`: too many attempts from this address or for this account",
    503: "the service cannot answer right now",
}
_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": 'the RFC 6750 challenge, e.g. `Bearer error="invalid_token"`',
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds until the next attempt may succeed",
            "schema": {"type": "integer"},
        }
    },
}


def form_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a form-encoded body (RFC 6749 token requests) of ``model``."""
    schema = model.model_json_schema()
    if "$defs" in schema:  # "#/$defs/..." would not resolve inside the OpenAPI document
        raise TypeError(f"{model.__name__}: a form model must not nest other models")
    content = {"application/x-www-form-urlencoded": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


def _example(description: str) -> dict[str, str]:
    """The body a description names: its first `code`, and the rest as the text."""
    code = re.search(r"`([a-z_]+)`", description)
    text = description.partition(": ")[2] or description
    return {"error": code.group(1) if code else "invalid_request", "error_description": text}


def errors(
    *statuses: int,
    described: dict[int, str] | None = None,
    guard: bool = True,
    challenge: bool = True,
) -> dict[int | str, Any]:
    """``responses`` for these error statuses, with ``4XX`` for any other client error.

    ``described`` replaces a status's default description for this route. A 401 is by
    default the guard's (its body adds ``hint`` and ``jotauth_code``) with a
    ``WWW-Authenticate`` challenge; ``guard=False`` is the plain body of the issuer's own
    401s, and ``challenge=False`` a 401 without the header (``invalid_grant``: a wrong
    password or refresh token is no bearer-token failure).
    """
    own = described or {}
    responses: dict[int | str, Any] = {}
    for status in statuses:
        description = own.get(status, _DESCRIPTIONS[status])
        entry: dict[str, Any] = {
            "model": BearerError if status == 401 and guard else OAuthError,
            "description": description,
            "content": {"application/json": {"example": _example(description)}},
        }
        if status in _HEADERS and (status != 401 or challenge):
            entry["headers"] = _HEADERS[status]
        responses[status] = entry
    responses["4XX"] = {
        "model": OAuthError,
        "description": "any other client error (`not_found`, `method_not_allowed`, or 408 "
        "`invalid_request`: the body did not arrive within JOTAUTH_BODY_TIMEOUT)",
        "content": {"application/json": {"example": _example("`not_found`: Not Found")}},
    }
    return responses


def bearer(*scopes: str) -> list[Any]:
    """``dependencies`` declaring that the route needs a bearer token with ``scopes``."""
    return [Security(BEARER, scopes=list(scopes))]
