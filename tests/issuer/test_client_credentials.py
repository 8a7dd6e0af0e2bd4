"""client_credentials at /oauth/token, and every way a client authentication must fail.

The attacks: a public client posing as confidential, wrong secrets (Basic and post), the
secret of another client, a disabled or unknown client, a scope or audience the client was
not given, a grant it was not registered for. Answers for an unknown client and for a wrong
secret are the same bytes.
"""

import base64
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from jotauth import jose
from jotauth.guard import Guard
from jotauth.issuer.services.clients import ClientSpec

pytestmark = pytest.mark.anyio

SERVICE = ClientSpec(
    "Billing", grant_types=("client_credentials",), scopes=("invoices:read", "invoices:write"),
    audiences=("billing-api", "reports-api"), tier="gold", rate_limit=600, rate_window=60,
)  # fmt: skip


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 2.3.1: each part form-urlencoded, then base64 of id:secret."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def register(app: Any, spec: ClientSpec = SERVICE, **kwargs: Any) -> tuple[Any, str | None]:
    record, secret = await app.state.clients.register(spec, **kwargs)
    return record, secret


async def test_client_credentials_with_basic(app: Any, client: httpx.AsyncClient) -> None:
    """A service token: sub = client_id, every allowed scope, the first audience, tier and
    rate-limit claims, no refresh token, and a guard of that audience accepts it."""
    record, secret = await register(app)
    assert secret is not None
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"},
        headers=basic(record.client_id, secret),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    assert body["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    claims = jose.peek_claims(body["access_token"])
    assert claims["sub"] == claims["client_id"] == record.client_id
    assert claims["aud"] == "billing-api"
    assert claims["scope"] == body["scope"] == "invoices:read invoices:write"
    assert claims["tier"] == "gold"
    assert claims["rate_limit"] == {"requests": 600, "window": 60}
    assert "sid" not in claims
    assert "permissions" not in claims
    keys = jose.KeySet.from_jwks((await client.get("/.well-known/jwks.json")).json())
    guard = Guard(keys=keys, issuer="http://testserver", audience="billing-api",
                  clock=app.state.auth.clock)  # fmt: skip
    principal = guard.authenticate_sync(body["access_token"])
    assert principal.client_id == record.client_id
    guard.authorize(principal, ["invoices:read"])


async def test_client_credentials_with_post_scope_and_resource(
    app: Any, client: httpx.AsyncClient
) -> None:
    """client_secret_post; a narrower scope and an RFC 8707 resource among the allowed."""
    record, secret = await register(
        app, ClientSpec(**{**SERVICE.__dict__, "token_endpoint_auth_method": "client_secret_post"})
    )
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": record.client_id,
              "client_secret": secret, "scope": "invoices:read", "resource": "reports-api"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    claims = jose.peek_claims(response.json()["access_token"])
    assert claims["scope"] == "invoices:read"
    assert claims["aud"] == "reports-api"


async def test_access_ttl_override(app: Any, client: httpx.AsyncClient) -> None:
    """A client's access_ttl replaces the server's lifetime for its tokens."""
    record, secret = await register(app, ClientSpec(**{**SERVICE.__dict__, "access_ttl": 120}))
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 headers=basic(record.client_id, secret or ""))  # fmt: skip
    claims = jose.peek_claims(response.json()["access_token"])
    assert response.json()["expires_in"] == 120 == claims["exp"] - claims["iat"]


async def test_a_secret_with_reserved_characters_is_form_decoded(app: Any) -> None:
    """The Basic parts are form-urlencoded first: ':' '%' '+' in an id survive (RFC 6749
    2.3.1), and the id is refused as unknown rather than misparsed."""
    from jotauth.issuer.api.client_auth import _basic

    raw = base64.b64encode(f"{quote_plus('a:b%c')}:{quote_plus('s+e:c%t')}".encode()).decode()
    parsed = _basic(raw)
    assert (parsed.client_id, parsed.secret) == ("a:b%c", "s+e:c%t")


async def _token_error(client: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
    return await client.post("/oauth/token", **kwargs)


async def test_wrong_and_unknown_secrets_answer_the_same(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Basic: a wrong secret, another client's secret and an unknown client id are all 401
    invalid_client with a Basic challenge and the same body."""
    one, one_secret = await register(app)
    _two, two_secret = await register(app)
    form = {"grant_type": "client_credentials"}
    tries = [(one.client_id, "wrong"), (one.client_id, two_secret or ""),
             ("nobody", one_secret or "")]  # fmt: skip
    answers = [
        await client.post("/oauth/token", data=form, headers=basic(client_id, secret))
        for client_id, secret in tries
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Basic realm="http://testserver"'
    assert len({answer.content for answer in answers}) == 1
    assert answers[0].json()["error"] == "invalid_client"


async def test_post_failures_carry_no_basic_challenge(app: Any, client: httpx.AsyncClient) -> None:
    """client_secret_post with a wrong secret: 401 invalid_client, no WWW-Authenticate."""
    record, _ = await register(
        app, ClientSpec(**{**SERVICE.__dict__, "token_endpoint_auth_method": "client_secret_post"})
    )
    for client_id in (record.client_id, "unknown-client"):
        answer = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id,
                  "client_secret": "wrong"},
        )  # fmt: skip
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"
        assert "www-authenticate" not in answer.headers


async def test_the_registered_method_is_the_only_one(app: Any, client: httpx.AsyncClient) -> None:
    """A basic client's right secret sent as client_secret_post is refused, and vice versa."""
    record, secret = await register(app)
    answer = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": record.client_id,
              "client_secret": secret},
    )  # fmt: skip
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_confidential_client_without_credentials(app: Any, client: httpx.AsyncClient) -> None:
    """A confidential client's id alone (posing as public) is 401 invalid_client."""
    record, _ = await register(app)
    answer = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": record.client_id}
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_public_client_posing_as_confidential(app: Any, client: httpx.AsyncClient) -> None:
    """A public client cannot register client_credentials; sending a made-up secret for it is
    invalid_client (it has none), and its bare id is unauthorized_client for the grant."""
    with pytest.raises(Exception, match="public client cannot use client_credentials"):
        await register(app, ClientSpec("App", type="public", grant_types=("client_credentials",),
                                       audiences=("api",)))  # fmt: skip
    spa, secret = await register(
        app, ClientSpec("SPA", type="public", grant_types=("password", "refresh_token"))
    )
    assert secret is None
    posing = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               headers=basic(spa.client_id, "anything"))  # fmt: skip
    assert posing.status_code == 401
    assert posing.json()["error"] == "invalid_client"
    bare = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": spa.client_id}
    )
    assert bare.status_code == 400
    assert bare.json()["error"] == "unauthorized_client"


async def test_grant_not_registered_is_unauthorized_client(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A client_credentials-only client asking for the password grant: unauthorized_client."""
    await kit.add_user(app)
    record, secret = await register(app)
    answer = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "john", "password": "password123"},
        headers=basic(record.client_id, secret or ""),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"scope": "invoices:read admin:write"}, "invalid_scope"),
        ({"scope": "admin:write"}, "invalid_scope"),
        ({"resource": "payroll-api"}, "invalid_target"),
        ({"audience": "payroll-api"}, "invalid_target"),
        ({"resource": "billing-api", "audience": "reports-api"}, "invalid_target"),
    ],
)
async def test_scope_or_audience_not_given(
    app: Any, client: httpx.AsyncClient, extra: dict[str, str], error: str
) -> None:
    """A scope or an audience the client was not registered with is refused, not dropped."""
    record, secret = await register(app)
    answer = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **extra},
        headers=basic(record.client_id, secret or ""),
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["error"] == error


async def test_disabled_client_is_refused_and_its_tokens_die(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Disabling: the right secret is invalid_client, and the feed revokes its tokens."""
    record, secret = await register(app)
    headers = basic(record.client_id, secret or "")
    issued = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    token = issued.json()["access_token"]
    await app.state.clients.set_disabled(record.client_id, True)
    refused = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    events = app.state.store.revocations_after(0, now=app.state.auth.clock())
    assert [(e.type, e.sub) for e in events] == [("user", record.client_id)]
    keys = jose.KeySet.from_jwks((await client.get("/.well-known/jwks.json")).json())
    from jotauth.guard import RevocationView, RevokedTokenError

    guard = Guard(keys=keys, issuer="http://testserver", audience="billing-api",
                  clock=app.state.auth.clock)  # fmt: skip
    view: RevocationView = guard.revocations
    view.apply([event.as_event() for event in events])
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)


async def test_two_methods_at_once_is_invalid_request(app: Any, client: httpx.AsyncClient) -> None:
    """Basic and client_secret in one request: invalid_request (RFC 6749 2.3)."""
    record, secret = await register(app)
    answer = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": secret},
        headers=basic(record.client_id, secret or ""),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(),
               "Basic " + base64.b64encode(b"\xff\xfe:x").decode()],
)  # fmt: skip
async def test_malformed_basic_is_invalid_client(client: httpx.AsyncClient, header: str) -> None:
    """A Basic header that is not base64 of id:secret: 401 invalid_client, Basic challenge."""
    answer = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": header}
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic ")


async def test_unknown_client_id_is_never_written_into_a_token(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """The invented client_id=totally-unknown-app of the issue: refused, no token."""
    await kit.add_user(app)
    answer = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "john", "password": "password123",
              "client_id": "totally-unknown-app"},
    )  # fmt: skip
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert "access_token" not in answer.json()


async def test_secret_rotation_shows_the_new_secret_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    """After rotate_secret the old secret fails and the new one works."""
    record, old = await register(app)
    _, new = await app.state.clients.rotate_secret(record.client_id)
    form = {"grant_type": "client_credentials"}
    stale = await client.post("/oauth/token", data=form, headers=basic(record.client_id, old or ""))
    fresh = await client.post("/oauth/token", data=form, headers=basic(record.client_id, new))
    assert (stale.status_code, fresh.status_code) == (401, 200)
    stored = app.state.store.get_client(record.client_id)
    assert new not in repr(stored)
    assert stored.secret_hash.startswith("sha256:")
