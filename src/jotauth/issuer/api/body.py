"""Request bodies: decoded once, strictly, then validated (and documented) by FastAPI's models.

JSON bodies are handler parameters typed by the models of ``api/models.py``: FastAPI validates
them and puts their schemas in OpenAPI. The routers use ``route_class=BodyRoute``, which adds
what FastAPI does not do by itself:

* 415 for a non-empty body that is not ``application/json``, before anything is decoded
  (FastAPI would hand the raw bytes to the model and answer a type error);
* pydantic's own JSON parser (``pydantic_core.from_json``) in place of ``json.loads``. It
  refuses NaN and Infinity, invalid UTF-8, lone surrogates (``"\\ud800"`` is valid JSON but no
  UTF-8 database or hash can take it) and nesting past 200 levels, anywhere in the body, in
  the members a model ignores too. A refusal is FastAPI's ``json_invalid`` error: 400.

Form bodies (RFC 6749 token requests) do not go through FastAPI's ``Form()``: Starlette's form
parser turns undecodable bytes into U+FFFD and keeps the last of a repeated parameter, where
RFC 6749 wants the request refused (section 3.2, appendix B). Two parsers reading one body
differently let a password guess past a lock once; ``form(Model)`` is the only form parser: a
dependency that decodes the body strictly and hands it to ``Model.model_validate``.
``api.openapi.form_body(Model)`` documents the same model.
"""

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl

import pydantic_core
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from jotauth.issuer.errors import InvalidRequestError, UnsupportedMediaError

__all__ = ["FORM", "BodyRoute", "form", "form_pairs"]

FORM: Final = "application/x-www-form-urlencoded"
_JSON: Final = "application/json"
Model = TypeVar("Model", bound=BaseModel)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


class _StrictJSONRequest(Request):
    """A request whose ``json()`` is pydantic's strict parser (FastAPI calls it once)."""

    async def json(self) -> Any:
        try:
            return pydantic_core.from_json(await self.body(), allow_inf_nan=False)
        except ValueError as exc:  # FastAPI turns this one into its 400 json_invalid error
            raise json.JSONDecodeError(str(exc), "", 0) from None


class BodyRoute(APIRoute):
    """A route whose JSON body must say it is JSON and is decoded strictly (see module doc)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict(request: Request) -> Response:
            strict_request = _StrictJSONRequest(request.scope, request.receive)
            if await strict_request.body() and _media_type(strict_request) != _JSON:
                raise UnsupportedMediaError(
                    'send the body as JSON with "Content-Type: application/json"'
                )
            return await handler(strict_request)

        return strict


async def form_pairs(
    request: Request, *, what: str = "this endpoint takes"
) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of an ``application/x-www-form-urlencoded`` body, in order,
    decoded strictly (a ``%ff`` refuses the form rather than becoming U+FFFD): the one form
    parser, for the token endpoint's models and the issuer's own pages alike. The body's size
    and time are bounded before it gets here (``http/body_limit.py``)."""
    raw = await request.body()
    if _media_type(request) != FORM:
        raise UnsupportedMediaError(f"{what} {FORM} (RFC 6749 section 4)")
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequestError("the form is not valid UTF-8 (RFC 6749 appendix B)") from None


def form(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A dependency: the ``application/x-www-form-urlencoded`` body, validated as ``model``.

    Parameters sent without a value count as omitted (RFC 6749 section 3.1); a repeated one
    or one that is not UTF-8 refuses the request (section 3.2, appendix B).
    """

    async def parse(request: Request) -> Model:
        pairs = await form_pairs(request, what="token requests are")
        values: dict[str, str] = {}
        seen: set[str] = set()
        for name, value in pairs:
            if name in seen:
                raise InvalidRequestError(f"parameter {name!r} is repeated (RFC 6749 section 3.2)")
            seen.add(name)
            if value:
                values[name] = value
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in errors]
            ) from None

    return parse
