"""WSGI middleware: the ASGI middleware's twin for Flask, Django or any WSGI app.

The principal of an authenticated request is in ``environ["jotauth.principal"]``. A DPoP
request's proof is checked against ``REQUEST_METHOD``, ``wsgi.url_scheme``, ``HTTP_HOST`` and
the request target as received: ``RAW_URI`` or ``REQUEST_URI`` (set by gunicorn, uWSGI,
mod_wsgi and Werkzeug), without its query. A server that sets neither gives only
``SCRIPT_NAME`` + ``PATH_INFO``, percent-decoded: their ``%``, ``?`` and ``#`` are encoded
again (a decoded ``/files%23/../secret`` must not compare as ``/files``), and a proof whose
``htu`` escapes a ``/`` as ``%2F`` then does not match. A WSGI server passes one header of a
name, joining repeats with commas; a JWS holds no comma, so a comma means two ``DPoP`` headers.
"""

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from jotauth.errors import JotauthError
from jotauth.guard.asgi import excluded
from jotauth.guard.dpop import DPoPRequest, decoded_path, raw_path
from jotauth.guard.errors import MissingTokenError
from jotauth.guard.guard import Guard
from jotauth.guard.principal import Principal
from jotauth.guard.response import ErrorResponse

__all__ = [
    "ENVIRON_KEY",
    "GuardWSGIMiddleware",
    "authenticate_environ",
    "environ_dpop_request",
    "principal_from_environ",
]

ENVIRON_KEY = "jotauth.principal"
_DPOP_KEY = "jotauth.dpop"
"""Whether the request used the DPoP scheme, for the answer's challenge."""
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STATUS = {400: "400 Bad Request", 401: "401 Unauthorized", 403: "403 Forbidden",
           429: "429 Too Many Requests", 503: "503 Service Unavailable"}  # fmt: skip


def principal_from_environ(environ: dict[str, Any]) -> Principal | None:
    """The principal the middleware stored, if the request was authenticated."""
    principal = environ.get(ENVIRON_KEY)
    return principal if isinstance(principal, Principal) else None


def environ_dpop_request(environ: dict[str, Any]) -> DPoPRequest:
    """The DPoP facts of a WSGI request (see the module docstring)."""
    proof = environ.get("HTTP_DPOP")
    return DPoPRequest(
        environ.get("REQUEST_METHOD", "GET"),
        environ.get("wsgi.url_scheme", "http"),
        environ.get("HTTP_HOST") or environ.get("SERVER_NAME"),
        _target_path(environ),
        () if proof is None else tuple(proof.split(",")),
    )


def _target_path(environ: dict[str, Any]) -> str:
    """The request's path as URI text: the raw target when the server gives it."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(target, str) and target:
        return raw_path(target.encode("latin-1", "replace"))
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return decoded_path(path.encode("latin-1", "replace") or b"/")


def authenticate_environ(guard: Guard, environ: dict[str, Any]) -> Principal:
    """Extract and verify the token of a WSGI request (raises the guard's errors)."""
    header = environ.get("HTTP_AUTHORIZATION")
    csrf = None
    if guard.cookie is not None:
        csrf = environ.get("HTTP_" + guard.cookie.csrf_header.upper().replace("-", "_"))
    environ[_DPOP_KEY] = False
    token, dpop = guard.extract_credentials(
        [] if header is None else [header],
        environ.get("HTTP_COOKIE"),
        environ.get("REQUEST_METHOD", "GET"),
        csrf,
        origin=environ.get("HTTP_ORIGIN"),
        host=environ.get("HTTP_HOST"),
    )
    environ[_DPOP_KEY] = dpop
    return guard.authenticate_sync(token, dpop=environ_dpop_request(environ) if dpop else None)


def send_error(answer: ErrorResponse, start_response: StartResponse) -> list[bytes]:
    """Start a WSGI response for a guard error and return its body."""
    body = answer.body_bytes()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("Cache-Control", "no-store"), *answer.headers]  # fmt: skip
    start_response(_STATUS.get(answer.status, str(answer.status)), headers)
    return [body]


class GuardWSGIMiddleware:
    """Authenticate every request; same options as ``jotauth.guard.asgi.GuardMiddleware``."""

    def __init__(
        self,
        app: WSGIApp,
        guard: Guard,
        *,
        required: bool = True,
        scopes: Sequence[str] = (),
        exclude: Collection[str] = (),
        clients: Collection[str] | None = None,
        tiers: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.guard = guard
        self.required = required
        self.rule = guard.rule(scopes, clients=clients, tiers=tiers)
        self.scopes = self.rule.scopes
        self.exclude = tuple(exclude)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.exclude and excluded(environ.get("PATH_INFO", ""), self.exclude):
            return self.app(environ, start_response)
        principal: Principal | None
        guard = self.guard
        try:
            principal = authenticate_environ(guard, environ)
            guard.admit_sync(principal, self.rule, environ)
        except MissingTokenError as exc:
            if self.required:
                return send_error(guard.refusal(exc), start_response)
            principal = None
        except JotauthError as exc:
            dpop = bool(environ.get(_DPOP_KEY))
            return send_error(guard.refusal(exc, dpop=dpop), start_response)
        environ[ENVIRON_KEY] = principal
        return self.app(environ, start_response)
