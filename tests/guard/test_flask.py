"""The Flask decorator and the WSGI middleware: every error answer, through Flask's client."""

import json
from typing import Any

import pytest
from flask import Flask

from jotauth.guard import Principal
from jotauth.guard.flask import Guard, current_principal
from jotauth.guard.testing import LocalIssuer
from jotauth.guard.wsgi import GuardWSGIMiddleware, principal_from_environ


@pytest.fixture
def guard_class() -> type[Guard]:
    """The scenario builds a Flask guard."""
    return Guard


def flask_app(guard: Guard) -> Flask:
    app = Flask(__name__)

    @app.route("/articles", methods=["GET", "POST"])
    @guard.require("articles:read")
    def articles() -> Any:
        return {"sub": current_principal().sub}

    @app.get("/open")
    def open_view() -> Any:
        return {"sub": current_principal().sub}

    return app


def test_decorator_every_case(scenario: Any, check: Any) -> None:
    """Each success and error path gets the status, challenge and body RFC 6750 prescribes."""
    client = flask_app(scenario.guard).test_client(use_cookies=False)
    for case in scenario.cases:
        response = client.open("/articles", method=case.method, headers=case.headers)
        body = response.get_json()
        check(case, response.status_code, response.headers, body, scenario.secrets)
        if case.status == 200:
            assert body == {"sub": "1"}
        else:
            assert response.headers["Cache-Control"] == "no-store"


def test_current_principal_outside_guarded_view(issuer: LocalIssuer) -> None:
    """current_principal() in an unguarded view is a programming error, said clearly."""
    app = flask_app(issuer.guard(cls=Guard))
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError, match=r"@guard\.require"):
        app.test_client(use_cookies=False).get("/open")


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    principal = principal_from_environ(environ)
    body = json.dumps({"sub": None if principal is None else principal.sub}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_wsgi_middleware_every_case(scenario: Any, check: Any) -> None:
    """The WSGI middleware answers every case like the other adapters."""
    app = Flask(__name__)
    app.wsgi_app = GuardWSGIMiddleware(wsgi_app, scenario.guard, scopes=["articles:read"])  # type: ignore[method-assign]
    client = app.test_client(use_cookies=False)
    for case in scenario.cases:
        response = client.open("/articles", method=case.method, headers=case.headers)
        body = response.get_json()
        check(case, response.status_code, response.headers, body, scenario.secrets)
        if case.status == 200:
            assert body == {"sub": "1"}


def test_wsgi_optional_and_excluded(issuer: LocalIssuer) -> None:
    """required=False passes anonymous requests; excluded paths skip the guard entirely."""
    guard = issuer.guard()
    app = Flask(__name__)
    app.wsgi_app = GuardWSGIMiddleware(wsgi_app, guard, required=False, exclude=["/health"])  # type: ignore[method-assign]
    client = app.test_client(use_cookies=False)
    assert client.get("/x").get_json() == {"sub": None}
    assert client.get("/x", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/health", headers={"Authorization": "Bearer nope"}).status_code == 200
    token = issuer.make_token(sub="w")
    assert client.get("/x", headers={"Authorization": f"Bearer {token}"}).get_json() == {"sub": "w"}


def test_principal_type(issuer: LocalIssuer) -> None:
    """principal_from_environ ignores anything that is not a Principal."""
    assert principal_from_environ({"jotauth.principal": "forged"}) is None
    assert isinstance(issuer.guard().authenticate_sync(issuer.make_token()), Principal)


def test_init_app_answers_authorize_in_views(issuer: LocalIssuer) -> None:
    """With guard.init_app(app), guard.authorize() inside a view gives a 403, not a 500."""
    guard = issuer.guard(cls=Guard)
    app = Flask(__name__)
    guard.init_app(app)

    @app.delete("/articles/<int:article_id>")
    @guard.require()
    def delete(article_id: int) -> Any:
        guard.authorize(current_principal(), ["articles:delete"])
        return "", 204

    client = app.test_client(use_cookies=False)
    reader = issuer.make_token(scope="articles:read")
    response = client.delete("/articles/1", headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code == 403
    assert response.get_json()["required"] == ["articles:delete"]
    assert 'scope="articles:delete"' in response.headers["WWW-Authenticate"]
    admin = issuer.make_token(scope="articles:*")
    assert (
        client.delete("/articles/1", headers={"Authorization": f"Bearer {admin}"}).status_code
        == 204
    )
