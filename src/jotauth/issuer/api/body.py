"""Reading request bodies strictly: the right media type, a size cap, a JSON object.

FastAPI's automatic body models answer 422 with their own shape and guess at content types;
the token endpoints instead need 415 for the wrong type, 413 for huge bodies and 400 for the
rest, all in the one error format, so bodies are read here and validated by hand.
"""

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from jotauth.issuer.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaError,
)

__all__ = ["client_of", "field", "optional_field", "read_form", "read_json"]


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, limit: int, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; ``optional`` accepts an empty body as ``{}``."""
    raw = await _read(request, limit)
    if optional and not raw.strip():
        return {}
    if _media_type(request) != "application/json":
        raise UnsupportedMediaError('send the body as JSON with "Content-Type: application/json"')
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"the body is not valid JSON: {_short(exc)}") from None
    except RecursionError:
        raise InvalidRequestError("the body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("the body must be a JSON object")
    try:  # "\ud800" is valid JSON but no valid Unicode: UTF-8 databases and hashes refuse it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError("the body is not valid JSON: a lone surrogate") from None
    return data


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (RFC 6749 token requests)."""
    raw = await _read(request, limit)
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise UnsupportedMediaError(
            "token requests are application/x-www-form-urlencoded (RFC 6749 section 4)"
        )
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidRequestError("the form is not valid UTF-8") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequestError(f"parameter {name!r} is repeated (RFC 6749 section 3.2)")
        form[name] = value
    return form


def _short(exc: Exception) -> str:
    return str(exc).split(":")[0][:80]


def field(data: dict[str, Any], name: str, *, max_length: int = 4096) -> str:
    """A required string member."""
    value = data.get(name)
    if value is None:
        raise InvalidRequestError(f"{name} is required")
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string")
    if len(value) > max_length:
        raise InvalidRequestError(f"{name} is longer than {max_length} characters")
    return value


def optional_field(data: dict[str, Any], name: str, *, max_length: int = 4096) -> str | None:
    """An optional string member."""
    if data.get(name) is None:
        return None
    return field(data, name, max_length=max_length)


def client_of(request: Request) -> tuple[str | None, str | None]:
    """(IP, User-Agent) of the caller, as recorded in audit events."""
    ip = request.client.host if request.client else None
    return ip, request.headers.get("user-agent")
