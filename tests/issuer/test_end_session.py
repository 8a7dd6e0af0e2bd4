"""RP-initiated logout and back-channel logout tokens."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.issuer.oidc_support import (
    LOGOUT_TARGET,
    Client,
    auth_params,
    form_fields,
    full_flow,
    query,
)

from jotauth import jose
from jotauth.issuer.app import create_app
from jotauth.issuer.services.backchannel import BackchannelSender
from jotauth.issuer.services.id_tokens import BACKCHANNEL_EVENT

pytestmark = pytest.mark.anyio


class Receiver:
    """The clients' back-channel logout endpoints, on a MockTransport."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        self.received.append((str(request.url), form["logout_token"]))
        return httpx.Response(self.status)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def web(
    settings: Any, clock: Any, clients: Any, receiver: Receiver
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    clients.add(Client("app-a", backchannel_logout_uri="https://app-a.example/bc"))
    clients.add(
        Client(
            "app-b",
            redirect_uris=("https://app-b.example/cb",),
            backchannel_logout_uri="https://app-b.example/bc",
        )
    )

    async def no_sleep(_: float) -> None:
        return None

    sender = BackchannelSender(transport=httpx.MockTransport(receiver.handle), sleep=no_sleep)
    app = clients.bind(create_app(settings, clock=clock, sleep=clock.advance, backchannel=sender))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield app, c
    app.state.store.close()


async def test_logout_with_hint_ends_sso_and_every_token(
    web: tuple[Any, httpx.AsyncClient], kit: Any, receiver: Receiver
) -> None:
    """id_token_hint + registered post_logout_redirect_uri: signed out everywhere, redirected."""
    app, c = web
    await kit.add_user(app)
    a, _ = await full_flow(c)
    b, _ = await full_flow(c, "app-b", "https://app-b.example/cb")
    for tokens in (a, b):
        assert (
            await c.get("/oauth/userinfo", headers=kit.bearer(tokens["access_token"]))
        ).status_code == 200
    response = await c.get(
        "/oauth/logout",
        params={
            "id_token_hint": a["id_token"],
            "post_logout_redirect_uri": LOGOUT_TARGET,
            "state": "s1",
        },
    )
    assert response.status_code == 302
    assert response.headers["location"] == LOGOUT_TARGET + "?state=s1"
    for tokens in (a, b):
        assert (
            await c.get("/oauth/userinfo", headers=kit.bearer(tokens["access_token"]))
        ).status_code == 401
        refresh = await c.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refresh.json()["error"] == "invalid_grant"
    again = await c.get("/oauth/authorize", params=auth_params(prompt="none"))
    assert query(again.headers["location"])["error"] == "login_required"
    feed = await c.get("/revocations", headers={"Authorization": "Bearer feed-secret-0123456789"})
    sessions = {e["sid"] for e in feed.json()["events"] if e["type"] == "session"}
    assert {jose.peek_claims(t["access_token"])["sid"] for t in (a, b)} <= sessions
    assert sorted(url for url, _ in receiver.received) == [
        "https://app-a.example/bc",
        "https://app-b.example/bc",
    ]
    logouts = app.state.store.list_audit_events(type="logout")
    assert [(e.user_id, e.detail.get("via")) for e in logouts] == [
        (jose.peek_claims(a["access_token"])["sub"], "end_session")
    ]


async def test_logout_tokens_follow_back_channel_logout_1_0(
    web: tuple[Any, httpx.AsyncClient], kit: Any, receiver: Receiver
) -> None:
    """typ logout+jwt, the events claim, sid and sub, aud = the client, no nonce."""
    app, c = web
    await kit.add_user(app)
    a, _ = await full_flow(c)
    await c.get("/oauth/logout", params={"id_token_hint": a["id_token"]})
    keys = jose.KeySet.from_jwks((await c.get("/.well-known/jwks.json")).json())
    ((_, token),) = receiver.received
    assert jose.peek_header(token)["typ"] == "logout+jwt"
    claims = jose.decode(
        token,
        keys,
        algorithms=["RS256"],
        issuer="http://testserver",
        audience="app-a",
        typ="logout+jwt",
        now=kit.start,
    )
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert claims["sid"] == jose.peek_claims(a["id_token"])["sid"]
    assert claims["sub"] == "1"
    assert "nonce" not in claims
    assert claims["jti"]


async def test_logout_without_hint_asks_first(web: tuple[Any, httpx.AsyncClient], kit: Any) -> None:
    """No id_token_hint: a CSRF-protected confirmation; a forged POST signs nobody out."""
    app, c = web
    await kit.add_user(app)
    a, _ = await full_flow(c)
    page = await c.get("/oauth/logout")
    assert page.status_code == 200
    assert "Sign out?" in page.text
    forged = await c.post("/oauth/logout", data={"jotauth_action": "logout", "jotauth_csrf": "x"})
    assert forged.status_code == 403
    assert (
        await c.get("/oauth/userinfo", headers=kit.bearer(a["access_token"]))
    ).status_code == 200
    fields = form_fields(page.text)
    fields["jotauth_action"] = "logout"
    done = await c.post("/oauth/logout", data=fields)
    assert done.status_code == 200
    assert "You are signed out" in done.text
    assert (
        await c.get("/oauth/userinfo", headers=kit.bearer(a["access_token"]))
    ).status_code == 401
    cleared = [h for h in done.headers.get_list("set-cookie") if "jotauth_sso" in h]
    assert cleared
    assert "max-age=0" in cleared[0].lower()


@pytest.mark.parametrize(
    "params",
    [
        {"post_logout_redirect_uri": "https://evil.example/"},  # no client named
        {"post_logout_redirect_uri": "https://evil.example/", "client_id": "app-a"},
        {"post_logout_redirect_uri": LOGOUT_TARGET + "/x", "client_id": "app-a"},
        {"id_token_hint": "not.a.token"},
        {"post_logout_redirect_uri": LOGOUT_TARGET, "client_id": "nobody"},
    ],
)
async def test_logout_never_redirects_to_an_unregistered_uri(
    web: tuple[Any, httpx.AsyncClient], params: dict[str, str]
) -> None:
    """An unregistered post_logout_redirect_uri or a bad hint is an error page."""
    _, c = web
    response = await c.get("/oauth/logout", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_hint_for_another_client_is_refused(
    web: tuple[Any, httpx.AsyncClient], kit: Any
) -> None:
    """client_id must be the hint's audience."""
    app, c = web
    await kit.add_user(app)
    a, _ = await full_flow(c)
    response = await c.get(
        "/oauth/logout", params={"id_token_hint": a["id_token"], "client_id": "app-b"}
    )
    assert response.status_code == 400


async def test_back_channel_retries_server_errors_then_gives_up() -> None:
    """A 5xx is retried (bounded), a 4xx is not, a network error is retried."""
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503 if len(calls) < 3 else 200)

    async def no_sleep(_: float) -> None:
        return None

    sender = BackchannelSender(transport=httpx.MockTransport(flaky), sleep=no_sleep)
    assert await sender.send("https://c.example/bc", "t")
    assert len(calls) == 3
    refused = BackchannelSender(
        transport=httpx.MockTransport(lambda r: httpx.Response(400)), sleep=no_sleep
    )
    assert not await refused.send("https://c.example/bc", "t")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    dead = BackchannelSender(transport=httpx.MockTransport(down), sleep=no_sleep, attempts=2)
    assert not await dead.send("https://c.example/bc", "t")
