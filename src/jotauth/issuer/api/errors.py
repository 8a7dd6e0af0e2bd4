"""One error path: every failure answers ``{"error": code, "error_description": text}``.

Guard and jose errors keep the RFC 6750 shape (``WWW-Authenticate``) from the guard's own
mapping. A database that cannot be reached, is too slow or has no free connection
(``StoreUnavailableError``, raised by the store for every such driver or pool error) answers
503 ``temporarily_unavailable`` with ``Retry-After``, logged once per outage by the store
rather than once per request, and the connection is kept alive. Anything unexpected is
logged with its traceback and answers a bare 500 ``server_error`` that reveals nothing.

A refused browser login or refresh also clears the browser's token cookies here
(``cookies.clear_if_refused``: the handler marked the request, the status decides).
"""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jotauth.errors import JotauthError
from jotauth.guard import error_response
from jotauth.issuer.api.cookies import clear_if_refused
from jotauth.issuer.errors import (
    InvalidClientError,
    IssuerError,
    RateLimitedError,
    UseDPoPNonceError,
)
from jotauth.store.errors import StoreUnavailableError

__all__ = ["RETRY_AFTER", "error_json", "install_error_handlers", "unavailable_json"]

logger = logging.getLogger("jotauth.issuer")

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
RETRY_AFTER = 2
"""Seconds a client is asked to wait after a 503: short, an outage is usually noticed late."""
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "invalid_request",
    415: "invalid_request",
}


def error_json(
    status: int, code: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error body every endpoint uses."""
    return JSONResponse(
        {"error": code, "error_description": description},
        status_code=status,
        headers={**_NO_STORE, **(headers or {})},
    )


async def _issuer_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, IssuerError):  # pragma: no cover - registered for this class
        raise exc
    if exc.status == 503:  # a dependency of this request is down (an audience's JWKS): retry
        return unavailable_json(str(exc))
    if exc.status >= 500:
        logger.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc)
        return error_json(500, "server_error", "the server failed; the error is logged")
    status = exc.status
    code = exc.code
    if request.url.path == "/oauth/token" and code == "invalid_grant":
        status = 400  # RFC 6749 5.2
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    if code == "invalid_grant":
        headers = None
    if isinstance(exc, InvalidClientError):  # RFC 6749 5.2: challenge the scheme the client used
        realm = request.app.state.settings.issuer.replace('"', "")
        headers = {"WWW-Authenticate": f'Basic realm="{realm}"'} if exc.basic else None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, UseDPoPNonceError):  # RFC 9449 8: the nonce to put in the next proof
        headers = {"DPoP-Nonce": exc.nonce}
    response = error_json(status, code, str(exc), headers)
    clear_if_refused(request, response)
    return response


def unavailable_json(description: str) -> JSONResponse:
    """503 ``temporarily_unavailable`` with ``Retry-After`` (RFC 6749 5.2's error for it)."""
    return error_json(
        503, "temporarily_unavailable", description, {"Retry-After": str(RETRY_AFTER)}
    )


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StoreUnavailableError):  # pragma: no cover
        raise exc
    return unavailable_json("the database is unavailable; retry shortly")


async def _jotauth_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, JotauthError):  # pragma: no cover - registered for this class
        raise exc
    answer = error_response(exc, dpop=getattr(request.state, "dpop", False))
    headers = {name: value for name, value in answer.headers}
    response = JSONResponse(answer.body, answer.status, headers={**_NO_STORE, **headers})
    clear_if_refused(request, response)
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """400 ``invalid_request`` naming the first bad field (RFC 6749 5.2's code for it).

    Only the field's place and pydantic's message are shown, never its ``input``: the value
    that failed may be a password.
    """
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    return error_json(400, "invalid_request", _describe(exc.errors()))


def _describe(errors: Sequence[Any]) -> str:
    """One line for the first error: ``field: message``, without the value."""
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        reason = str(first.get("ctx", {}).get("error", ""))[:200]
        return f"the body is not valid JSON: {reason}" if reason else "the body is not valid JSON"
    loc = [str(part)[:100] for part in first.get("loc", ()) if part != "body"]
    message = str(first.get("msg", "invalid request"))
    if not loc and first.get("type") == "missing":
        return "a request body is required"
    return f"{'.'.join(loc)}: {message}" if loc else message


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # pragma: no cover
        raise exc
    code = _HTTP_CODES.get(exc.status_code, "invalid_request")
    return error_json(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_json(500, "server_error", "the server failed; the error is logged")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(StoreUnavailableError, _unavailable)
    app.add_exception_handler(IssuerError, _issuer_error)
    app.add_exception_handler(JotauthError, _jotauth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
