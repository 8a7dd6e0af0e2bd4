"""Flask: ``@guard.require("comments:create")`` on a view.

    from jotauth.guard.flask import Guard, current_principal
    guard = Guard(issuer="https://auth.example.com", audience="comments")

    @app.post("/comments")
    @guard.require("comments:create")
    def create():
        return {"by": current_principal().sub}

A refused request gets the RFC 6750 JSON answer from ``jotauth.guard.response``; the view
never runs.
"""

import functools
from collections.abc import Callable, Collection
from typing import Any, TypeVar, cast

from jotauth.errors import JotauthError, MissingDependencyError
from jotauth.guard import guard as _core
from jotauth.guard.errors import GuardError
from jotauth.guard.principal import Principal
from jotauth.guard.wsgi import environ_dpop_request

try:
    from flask import Flask, Response, g, request
except ModuleNotFoundError as exc:
    raise MissingDependencyError("jotauth.guard.flask needs Flask", "flask", exc) from None

__all__ = ["Guard", "current_principal"]

View = TypeVar("View", bound=Callable[..., Any])


def current_principal() -> Principal:
    """The principal of the current request; only inside a view behind ``@guard.require``."""
    principal = g.get("jotauth_principal")
    if not isinstance(principal, Principal):
        raise RuntimeError("no authenticated principal: decorate the view with @guard.require()")
    return principal


def _respond(guard: _core.Guard, exc: JotauthError, dpop: bool = False) -> Response:
    answer = guard.refusal(exc, dpop=dpop)
    response = Response(answer.body_bytes(), answer.status, mimetype="application/json")
    for name, value in answer.headers:
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


class Guard(_core.Guard):
    """A ``jotauth.guard.Guard`` whose ``require`` decorates Flask views."""

    def init_app(self, app: Flask) -> None:
        """Answer a ``GuardError`` raised in a view (``guard.authorize``) like the decorator."""
        app.register_error_handler(GuardError, lambda exc: _respond(self, exc))

    def require(
        self,
        *requirements: str,
        clients: Collection[str] | None = None,
        tiers: Collection[str] | None = None,
    ) -> Callable[[View], View]:
        """Refuse the request unless it carries a valid token granting every requirement
        (and, with ``clients`` / ``tiers``, of one of those clients or tiers)."""
        rule = self.rule(requirements, clients=clients, tiers=tiers)

        def decorator(view: View) -> View:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                dpop = False
                try:
                    cookie = self.cookie
                    token, dpop = self.extract_credentials(
                        request.headers.getlist("Authorization"),
                        request.headers.get("Cookie"),
                        request.method,
                        None if cookie is None else request.headers.get(cookie.csrf_header),
                        origin=request.headers.get("Origin"),
                        host=request.headers.get("Host"),
                    )
                    principal = self.authenticate_sync(
                        token, dpop=environ_dpop_request(request.environ) if dpop else None
                    )
                    self.admit_sync(principal, rule, request.environ)
                except JotauthError as exc:
                    return _respond(self, exc, dpop)
                g.jotauth_principal = principal
                return view(*args, **kwargs)

            return cast(View, wrapper)

        return decorator
