"""``clients=`` / ``tiers=`` and the tier rate limit, through every adapter.

One ``AccessRule`` and ``Guard.admit`` serve ASGI, FastAPI, Flask and WSGI alike: each test
runs the same three cases (allowed client, other client, over the limit) through one adapter.
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jotauth.guard import ClientNotAllowedError, Principal, RateLimitedError
from jotauth.guard.asgi import GuardMiddleware
from jotauth.guard.ratelimit import ClientRateLimiter, limit_of
from jotauth.guard.testing import LocalIssuer
from jotauth.guard.wsgi import GuardWSGIMiddleware, principal_from_environ

NOW = 1_900_000_000
LIMIT = {"requests": 2, "window": 60}


def _token(issuer: LocalIssuer, client_id: str, tier: str = "gold", **claims: Any) -> str:
    return issuer.make_token(sub=client_id, client_id=client_id, tier=tier, now=NOW,
                             scope="jobs:run", **claims)  # fmt: skip


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def issuer(ed_key: Any) -> LocalIssuer:
    return LocalIssuer(key=ed_key, issuer="https://auth.test", audience="jobs")


def _guard(issuer: LocalIssuer, cls: Any = None, storage: str = "memory://") -> Any:
    from jotauth.guard import Guard

    return issuer.guard(cls or Guard, clock=lambda: NOW, rate_limiter=ClientRateLimiter(storage))


def test_asgi_middleware(issuer: LocalIssuer) -> None:
    """GuardMiddleware(clients=, tiers=) and the limiter."""
    guard = _guard(issuer)

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.scope["auth"].sub})

    app = GuardMiddleware(Starlette(routes=[Route("/jobs", endpoint)]), guard,
                          clients=None, tiers=["gold"], scopes=["jobs:run"])  # fmt: skip
    get = _asgi_get(app)
    client_id = "svc-" + uuid.uuid4().hex[:8]
    token = _token(issuer, client_id, rate_limit=LIMIT)
    answers = [get(_headers(token)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"] == "rate_limited"
    assert int(answers[2].headers["retry-after"]) >= 1
    free = get(_headers(_token(issuer, client_id, tier="free")))
    assert free.status_code == 403
    assert free.json()["jotauth_code"] == "client_not_allowed"
    by_client = _asgi_get(GuardMiddleware(Starlette(routes=[Route("/jobs", endpoint)]), guard,
                                          clients=["billing"]))  # fmt: skip
    assert by_client(_headers(_token(issuer, "other"))).status_code == 403
    assert by_client(_headers(_token(issuer, "billing"))).status_code == 200


def _asgi_get(app: Any) -> Callable[[dict[str, str]], httpx.Response]:
    import anyio

    def get(headers: dict[str, str]) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.get("/jobs", headers=headers)

        return anyio.run(call)

    return get


def test_fastapi_dependency_and_middleware_count_once(issuer: LocalIssuer) -> None:
    """Depends(guard.require(..., clients=, tiers=)); behind the middleware too, a request is
    counted once against the limit."""
    from jotauth.guard.fastapi import Guard

    guard = _guard(issuer, Guard)
    client_id = "svc-" + uuid.uuid4().hex[:8]
    api = FastAPI()
    guard.install(api)
    needed = guard.require("jobs:run", clients=[client_id], tiers=["gold"])

    @api.get("/jobs")
    async def jobs(principal: Annotated[Principal, Depends(needed)]) -> dict[str, str]:
        return {"sub": principal.sub}

    get = _asgi_get(api)
    good = _token(issuer, client_id, rate_limit=LIMIT)
    answers = [get(_headers(good)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
    assert answers[2].json()["error"] == "rate_limited"
    other = get(_headers(_token(issuer, "intruder")))
    assert other.status_code == 403
    assert other.json()["jotauth_code"] == "client_not_allowed"
    free = get(_headers(_token(issuer, client_id, tier="free")))
    assert free.status_code == 403
    # Behind GuardMiddleware as well: the middleware and the dependency both admit the
    # request, and it still counts once (two allowed, the third refused).
    second_id = "svc-" + uuid.uuid4().hex[:8]
    api2 = FastAPI()
    guard.install(api2)
    needed2 = guard.require("jobs:run", clients=[second_id])

    @api2.get("/jobs")
    async def jobs2(principal: Annotated[Principal, Depends(needed2)]) -> dict[str, str]:
        return {"sub": principal.sub}

    both = _asgi_get(GuardMiddleware(api2, guard))
    token = _token(issuer, second_id, rate_limit=LIMIT)
    assert [both(_headers(token)).status_code for _ in range(3)] == [200, 200, 429]


def test_flask_decorator(issuer: LocalIssuer) -> None:
    """@guard.require(..., clients=, tiers=) in Flask."""
    from jotauth.guard.flask import Guard

    guard = _guard(issuer, Guard)
    client_id = "svc-" + uuid.uuid4().hex[:8]
    app = Flask(__name__)

    @app.get("/jobs")
    @guard.require("jobs:run", clients=[client_id, "intruder-not"], tiers=["gold"])
    def jobs() -> Any:
        return {"ok": True}

    test = app.test_client()
    token = _token(issuer, client_id, rate_limit=LIMIT)
    assert [test.get("/jobs", headers=_headers(token)).status_code for _ in range(3)] == [
        200, 200, 429,
    ]  # fmt: skip
    assert test.get("/jobs", headers=_headers(token)).headers["Retry-After"]
    assert test.get("/jobs", headers=_headers(_token(issuer, "intruder"))).status_code == 403
    free = test.get("/jobs", headers=_headers(_token(issuer, client_id, tier="free")))
    assert free.status_code == 403
    assert free.get_json()["jotauth_code"] == "client_not_allowed"


def test_wsgi_middleware(issuer: LocalIssuer) -> None:
    """GuardWSGIMiddleware(clients=, tiers=): 429 has a WSGI status line and Retry-After."""
    guard = _guard(issuer)
    client_id = "svc-" + uuid.uuid4().hex[:8]
    inner = Flask(__name__)

    @inner.get("/jobs")
    def jobs() -> Any:
        from flask import request

        principal = principal_from_environ(request.environ)
        return {"sub": None if principal is None else principal.sub}

    inner.wsgi_app = GuardWSGIMiddleware(  # type: ignore[method-assign]
        inner.wsgi_app, guard, clients=[client_id], tiers=["gold"]
    )
    test = inner.test_client()
    token = _token(issuer, client_id, rate_limit=LIMIT)
    answers = [test.get("/jobs", headers=_headers(token)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].status == "429 Too Many Requests"
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert test.get("/jobs", headers=_headers(_token(issuer, "intruder"))).status_code == 403


def test_redis_limiter_is_shared_between_guards(issuer: LocalIssuer, redis_url: str) -> None:
    """Two guards (two instances of a service) on one Redis share the client's count."""
    from jotauth.guard import Guard, Principal

    first, second = _guard(issuer, Guard, redis_url), _guard(issuer, Guard, redis_url)
    client_id = "svc-" + uuid.uuid4().hex
    token = _token(issuer, client_id, rate_limit=LIMIT)
    rule = first.rule(clients=[client_id])
    principal: Principal = first.authenticate_sync(token)
    first.admit_sync(principal, rule, {})
    second.admit_sync(second.authenticate_sync(token), rule, {})
    with pytest.raises(RateLimitedError):
        first.admit_sync(principal, rule, {})


def test_unreachable_redis_admits(issuer: LocalIssuer, caplog: pytest.LogCaptureFixture) -> None:
    """A limiter whose store is down admits (and logs once) rather than refusing everyone."""
    from jotauth.guard import Guard

    guard = _guard(issuer, Guard, "redis://127.0.0.1:1/0")
    token = _token(issuer, "svc", rate_limit={"requests": 1, "window": 60})
    principal = guard.authenticate_sync(token)
    for _ in range(3):
        guard.admit_sync(principal, guard.rule(), {})
    assert sum("rate-limit storage failed" in r.message for r in caplog.records) == 1


def test_tokens_without_a_limit_are_not_counted(issuer: LocalIssuer) -> None:
    """A user token (no rate_limit claim) passes any number of times."""
    from jotauth.guard import Guard

    guard = _guard(issuer, Guard)
    principal = guard.authenticate_sync(issuer.make_token(sub="42", now=NOW))
    for _ in range(5):
        guard.admit_sync(principal, guard.rule(), {})


@pytest.mark.parametrize(
    "claim",
    [{"requests": 0}, {"requests": "5"}, [5, 60], 5, {"requests": 5, "window": 10**9},
     {"requests": True}],
)  # fmt: skip
def test_a_malformed_limit_claim_is_refused(claim: Any) -> None:
    """A rate_limit claim of another shape is an invalid claim, never "no limit"."""
    from jotauth import jose

    with pytest.raises(jose.InvalidClaimError):
        limit_of({"rate_limit": claim})


def test_rule_arguments_are_checked_at_definition(issuer: LocalIssuer) -> None:
    """An empty clients= or tiers= is a mistake (it would refuse everyone): ValueError."""
    from jotauth.guard import Guard

    guard = _guard(issuer, Guard)
    for bad in ({"clients": []}, {"tiers": [""]}):
        with pytest.raises(ValueError, match="non-empty"):
            guard.rule(**bad)
    assert guard.rule(clients="one").clients == frozenset({"one"})
    with pytest.raises(ClientNotAllowedError):
        guard.admit_sync(guard.authenticate_sync(_token(issuer, "two")),
                         guard.rule(clients="one"), {})  # fmt: skip
