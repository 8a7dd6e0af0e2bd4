"""Logout, logout everywhere, password change, and the revocation feed services follow."""

from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest

from jotauth import jose
from jotauth.guard import RevocationView

pytestmark = pytest.mark.anyio

FEED = {"Authorization": "Bearer feed-secret-0123456789"}


async def test_logout_kills_both_tokens(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """After /logout the access token and the refresh token both stop working."""
    await kit.add_user(app)
    pair = await kit.login(client)
    out = await client.post("/logout", headers=kit.bearer(pair["access_token"]))
    assert out.status_code == 200
    profile = await client.get("/profile", headers=kit.bearer(pair["access_token"]))
    assert profile.status_code == 401
    assert profile.json()["jotauth_code"] == "token_revoked"
    refresh = await client.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    assert [e.type for e in store.list_audit_events(type="logout")] == ["logout"]


async def test_logout_leaves_other_sessions_alone(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Logging out on one device keeps the other logged in."""
    await kit.add_user(app)
    laptop, phone = await kit.login(client), await kit.login(client)
    await client.post("/logout", headers=kit.bearer(laptop["access_token"]))
    assert (await client.get("/me", headers=kit.bearer(phone["access_token"]))).status_code == 200
    refreshed = await client.post("/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refreshed.status_code == 200


async def test_logout_needs_a_token(client: httpx.AsyncClient) -> None:
    """POST /logout without a bearer token is 401."""
    assert (await client.post("/logout")).status_code == 401


async def test_logout_all_ends_every_session(app: Any, client: httpx.AsyncClient, kit: Any) -> None:
    """Every access and refresh token issued before /logout-all dies; a new login works."""
    await kit.add_user(app)
    one, two = await kit.login(client), await kit.login(client)
    assert (
        await client.post("/logout-all", headers=kit.bearer(one["access_token"]))
    ).status_code == 200
    for pair in (one, two):
        assert (
            await client.get("/me", headers=kit.bearer(pair["access_token"]))
        ).status_code == 401
        refresh = await client.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refresh.status_code == 401
    fresh = await kit.login(client)
    assert (await client.get("/me", headers=kit.bearer(fresh["access_token"]))).status_code == 200


async def test_password_change_ends_other_sessions(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """The changing session continues with a new access token; the others end; passwords swap."""
    await kit.add_user(app)
    here, there = await kit.login(client), await kit.login(client)
    response = await client.post(
        "/password",
        json={"current_password": "password123", "new_password": "correct horse battery"},
        headers=kit.bearer(here["access_token"]),
    )
    assert response.status_code == 200
    new_access = response.json()["access_token"]
    assert (await client.get("/me", headers=kit.bearer(new_access))).status_code == 200
    assert (await client.get("/me", headers=kit.bearer(here["access_token"]))).status_code == 401
    assert (await client.get("/me", headers=kit.bearer(there["access_token"]))).status_code == 401
    kept = await client.post("/refresh", json={"refresh_token": here["refresh_token"]})
    assert kept.status_code == 200
    ended = await client.post("/refresh", json={"refresh_token": there["refresh_token"]})
    assert ended.status_code == 401
    old = await client.post("/login", json={"username": "john", "password": "password123"})
    assert old.status_code == 401
    await kit.login(client, "john", "correct horse battery")


async def test_password_change_needs_the_current_password(
    app: Any, client: httpx.AsyncClient, kit: Any, store: Any
) -> None:
    """A wrong current password changes nothing."""
    await kit.add_user(app)
    pair = await kit.login(client)
    before = store.find_user_any(["john"]).password_hash
    response = await client.post(
        "/password",
        json={"current_password": "guess-guess", "new_password": "another password"},
        headers=kit.bearer(pair["access_token"]),
    )
    assert response.status_code == 401
    assert store.find_user_any(["john"]).password_hash == before
    assert (await client.get("/me", headers=kit.bearer(pair["access_token"]))).status_code == 200


async def test_password_change_rejects_a_short_password(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """New passwords under 8 characters are a 400."""
    await kit.add_user(app)
    pair = await kit.login(client)
    response = await client.post(
        "/password",
        json={"current_password": "password123", "new_password": "short"},
        headers=kit.bearer(pair["access_token"]),
    )
    assert response.status_code == 400


async def test_feed_requires_a_service_credential(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """No token, a wrong secret or a user token without revocations:read: 401."""
    await kit.add_user(app)
    user_token = (await kit.login(client))["access_token"]
    for headers, error in (
        ({}, "missing_token"),  # no error code, RFC 6750 3.1 (test_www_authenticate.py)
        ({"Authorization": "Bearer wrong"}, "invalid_token"),
        (kit.bearer(user_token), "invalid_token"),
    ):
        response = await client.get("/revocations", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == error


async def test_feed_accepts_an_access_token_with_the_scope(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A service account whose token has revocations:read may read the feed."""
    await kit.add_user(app, "svc", "service-password", permissions={"revocations": ["read"]})
    token = (await kit.login(client, "svc", "service-password"))["access_token"]
    response = await client.get("/revocations", headers=kit.bearer(token))
    assert response.status_code == 200


async def test_feed_publishes_logouts_users_and_keys(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Events come in order with a cursor; a guard's RevocationView applies them."""
    await kit.add_user(app)
    first = await client.get("/revocations", headers=FEED)
    assert first.json() == {
        "cursor": "0",
        "poll_interval": 5,
        "events": [],
        "has_more": False,
    }
    a, b = await kit.login(client), await kit.login(client)
    await client.post("/logout", headers=kit.bearer(a["access_token"]))
    page = (await client.get("/revocations", headers=FEED, params={"after": "0"})).json()
    assert [e["type"] for e in page["events"]] == ["session", "token"]
    claims_a = _claims(a["access_token"])
    assert page["events"][0]["sid"] == claims_a["sid"]
    assert page["events"][0]["exp"] >= claims_a["exp"]
    assert page["events"][1] == {"type": "token", "jti": claims_a["jti"], "exp": claims_a["exp"]}
    await client.post("/logout-all", headers=kit.bearer(b["access_token"]))
    kid = app.state.auth.ring.view().records[0].kid
    app.state.auth.ring.revoke(kid)
    more = (await client.get("/revocations", headers=FEED, params={"after": page["cursor"]})).json()
    assert [e["type"] for e in more["events"]] == ["user", "key"]
    assert more["events"][0]["sub"] == "1"
    assert more["events"][1] == {"type": "key", "kid": kid}
    empty = (
        await client.get("/revocations", headers=FEED, params={"after": more["cursor"]})
    ).json()
    assert empty["events"] == []
    assert empty["cursor"] == more["cursor"]
    view = RevocationView()
    everything = (await client.get("/revocations", headers=FEED)).json()
    assert view.apply(everything["events"]) == 4


def test_a_guard_reads_a_backlog_of_several_pages_before_it_is_ready(
    app: Any, store: Any, kit: Any, clock: Any
) -> None:
    """1,080 revocations (over a 1,000-event page): the feed says has_more, and a guard
    polling it holds all of them, the newest included, when it first reports ready."""
    from jotauth.guard import RevocationFeed
    from jotauth.store.sql.revocations import publish

    exp = int(clock()) + 600
    with store.engine.begin() as connection:
        for n in range(1080):
            publish(connection, type="token", jti=f"j{n}", exp=exp, created_at=clock())
    feed = RevocationFeed(
        "http://testserver/revocations",
        service_token="feed-secret-0123456789",
        transport=kit.sync_transport(app),
        clock=clock,
    )
    view = RevocationView()
    try:
        assert feed.poll_once(view)
    finally:
        feed.close()
    assert view.ready
    assert len(view) == 1080
    assert view.check("j1079", "1", clock(), None) is not None
    assert feed.polls == 2
    assert feed.cursor == "1080"


async def test_feed_pages_say_whether_more_is_waiting(
    app: Any, client: httpx.AsyncClient, store: Any, clock: Any
) -> None:
    """A full page says has_more; the page after it, holding the rest, does not."""
    from jotauth.store.sql.revocations import publish

    with store.engine.begin() as connection:
        for n in range(1001):
            publish(connection, type="token", jti=f"j{n}", exp=int(clock()) + 600, created_at=0)
    first = (await client.get("/revocations", headers=FEED)).json()
    assert (len(first["events"]), first["has_more"], first["cursor"]) == (1000, True, "1000")
    rest = (await client.get("/revocations", headers=FEED, params={"after": "1000"})).json()
    assert (len(rest["events"]), rest["has_more"], rest["cursor"]) == (1, False, "1001")


def test_a_guard_moves_its_cursor_past_a_feed_of_expired_events(
    app: Any, store: Any, kit: Any, clock: Any
) -> None:
    """2,500 expired events, none purged, then one live: a new guard's first poll answers a
    cursor past all of them over HTTP (not "0", which made every poll read them again), and
    the live event published next is the only thing the following poll reads."""
    from jotauth.guard import RevocationFeed
    from jotauth.store.sql.revocations import publish

    with store.engine.begin() as connection:
        for n in range(2500):
            publish(connection, type="token", jti=f"d{n}", exp=int(clock()) - 1, created_at=0)
    feed = RevocationFeed(
        "http://testserver/revocations",
        service_token="feed-secret-0123456789",
        transport=kit.sync_transport(app),
        clock=clock,
    )
    view = RevocationView()
    try:
        assert feed.poll_once(view)
        assert (feed.cursor, feed.polls, len(view)) == ("2500", 1, 0)
        store.revoke_token("live", int(clock()) + 600, now=clock())
        assert feed.poll_once(view)
    finally:
        feed.close()
    assert (feed.cursor, feed.polls, len(view)) == ("2501", 2, 1)
    assert view.check("live", "1", clock(), None) is not None


async def test_feed_leaves_out_expired_token_events(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """A new client is not sent denylist entries whose tokens have expired anyway."""
    await kit.add_user(app)
    pair = await kit.login(client)
    await client.post("/logout", headers=kit.bearer(pair["access_token"]))
    clock.advance(901)
    events = (await client.get("/revocations", headers=FEED)).json()["events"]
    assert [e["type"] for e in events] == ["session"]  # kept a minute past the last token
    clock.advance(60)
    assert (await client.get("/revocations", headers=FEED)).json()["events"] == []


async def test_feed_rejects_a_bad_cursor(client: httpx.AsyncClient) -> None:
    """A cursor that this server did not hand out is a 400."""
    response = await client.get("/revocations", headers=FEED, params={"after": "abc"})
    assert response.status_code == 400


@pytest.mark.parametrize("cursor", ["\u00b2", "\u0663", "9" * 32])
async def test_feed_rejects_odd_digits_and_huge_cursors(
    client: httpx.AsyncClient, cursor: str
) -> None:
    """str.isdigit() takes superscripts, which int() refuses; SQLite takes 64 bits: 400, not 500."""
    response = await client.get("/revocations", headers=FEED, params={"after": cursor})
    assert response.status_code == 400, response.text


def _claims(token: str) -> dict[str, Any]:
    from jotauth import jose

    return jose.peek_claims(token)


async def test_every_protected_issuer_route_refuses_a_logged_out_token(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """The audit API and /metrics check revocation as /profile does (once, in the database),
    and the refusal is counted by the issuer's guard."""
    await kit.add_user(
        app, "root", "root-password", permissions={"admin": ["*"], "metrics": ["read"]}
    )
    pair = await kit.login(client, "root", "root-password")
    headers = kit.bearer(pair["access_token"])
    assert (await client.get("/admin/audit", headers=headers)).status_code == 200
    await client.post("/logout", headers=headers)
    response = await client.get("/admin/audit", headers=headers)
    assert response.status_code == 401
    assert response.json()["jotauth_code"] == "token_revoked"
    assert (await client.get("/metrics", headers=headers)).status_code == 401
    assert app.state.guard.stats()["rejected"]["token_revoked"] >= 1


@pytest.mark.redis
async def test_revocations_are_pushed_over_redis(
    redis_url: str, sqlite_url: str, kit: Any, clock: Any
) -> None:
    """With JOTAUTH_REDIS_URL a logout reaches a subscribed guard's view within a second."""
    import time

    from jotauth.guard.redis_source import RedisRevocationSource
    from jotauth.issuer.app import create_app

    app = create_app(
        kit.make_settings(sqlite_url, redis_url=redis_url), clock=clock, sleep=clock.advance
    )
    source = RedisRevocationSource(redis_url)
    view = RevocationView()
    source.attach(view)
    try:
        assert source.subscribed.wait(5)
        await kit.add_user(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            pair = await kit.login(c)
            await c.post("/logout", headers=kit.bearer(pair["access_token"]))
        claims = _claims(pair["access_token"])
        deadline = time.monotonic() + 5
        while view.check(claims["jti"], "1", claims["iat"], None) is None:
            assert time.monotonic() < deadline, "the logout never arrived over Redis"
            await anyio.sleep(0.02)
    finally:
        source.close()
        app.state.store.close()


async def test_redis_outage_does_not_break_logout(
    sqlite_url: str, kit: Any, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An unreachable Redis is logged; the logout still succeeds and the feed has the event."""
    from jotauth.issuer.app import create_app

    app = create_app(
        kit.make_settings(sqlite_url, redis_url="redis://127.0.0.1:1/0"),
        clock=clock,
        sleep=clock.advance,
    )
    await kit.add_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        pair = await kit.login(c)
        out = await c.post("/logout", headers=kit.bearer(pair["access_token"]))
        assert out.status_code == 200
        feed = (await c.get("/revocations", headers=FEED)).json()
    assert [e["type"] for e in feed["events"]] == ["session", "token"]
    assert "not pushed to Redis" in caplog.text
    app.state.store.close()


async def test_tokens_after_logout_all_are_never_issued_in_the_future(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any, store: Any
) -> None:
    """A login right after logout-all waits for the not-before second: iat <= now, >= not-before."""
    await kit.add_user(app)
    pair = await kit.login(client)
    await client.post("/logout-all", headers=kit.bearer(pair["access_token"]))
    fresh = await kit.login(client)
    iat = _claims(fresh["access_token"])["iat"]
    assert iat >= store.find_user_any(["john"]).not_before
    assert iat <= clock()
    assert (await client.get("/me", headers=kit.bearer(fresh["access_token"]))).status_code == 200


class _AppTransport(httpx.BaseTransport):
    """A synchronous transport into the in-process app, for a guard's RevocationFeed: the feed
    polls from a worker thread, and each request is run on the test's event loop."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self.client.send(request)
            await response.aread()
            return response

        response = anyio.from_thread.run(send)
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


async def _follower(client: httpx.AsyncClient, app: Any) -> tuple[Any, Any]:
    """A service's guard trusting the JWKS and following the feed (polled on demand)."""
    from jotauth.guard import Guard, RevocationFeed

    keys = jose.KeySet.from_jwks((await client.get("/.well-known/jwks.json")).json())
    guard = Guard(keys=keys, issuer="http://testserver", audience="jotauth",
                  clock=app.state.auth.clock)  # fmt: skip
    feed = RevocationFeed(
        "http://testserver/revocations",
        service_token="feed-secret-0123456789",
        transport=_AppTransport(client),
    )
    return guard, feed


async def _refused_everywhere(
    client: httpx.AsyncClient, app: Any, kit: Any, guard: Any, feed: Any, tokens: list[str]
) -> None:
    from jotauth.guard import RevokedTokenError

    assert await anyio.to_thread.run_sync(feed.poll_once, guard.revocations)
    for token in tokens:
        profile = await client.get("/profile", headers=kit.bearer(token))
        assert profile.status_code == 401, profile.text
        assert profile.json()["jotauth_code"] == "token_revoked"
        with pytest.raises(RevokedTokenError):
            await guard.authenticate(token)


async def test_logout_ends_every_access_token_of_the_session(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """Login -> AT1, refresh -> AT2, logout with AT2: AT1 answered 200 at /profile and at
    guards. A session event now ends every access token of the session."""
    await kit.add_user(app)
    guard, feed = await _follower(client, app)
    first = await kit.login(client)
    second = (await client.post("/refresh", json={"refresh_token": first["refresh_token"]})).json()
    other = await kit.login(client)  # another device: untouched
    for pair in (first, second, other):
        assert (await guard.authenticate(pair["access_token"])).sub == "1"  # cached
    out = await client.post("/logout", headers=kit.bearer(second["access_token"]))
    assert out.status_code == 200
    await _refused_everywhere(
        client, app, kit, guard, feed, [first["access_token"], second["access_token"]]
    )
    assert (
        await client.get("/profile", headers=kit.bearer(other["access_token"]))
    ).status_code == 200
    assert (await guard.authenticate(other["access_token"])).sub == "1"
    feed.close()


async def test_refresh_reuse_ends_every_access_token_of_the_family(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """Reuse detection revoked the family's refresh tokens but left its access tokens alive."""
    await kit.add_user(app)
    guard, feed = await _follower(client, app)
    first = await kit.login(client)
    second = (await client.post("/refresh", json={"refresh_token": first["refresh_token"]})).json()
    clock.advance(11)  # past the grace window
    reuse = await client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    await _refused_everywhere(
        client, app, kit, guard, feed, [first["access_token"], second["access_token"]]
    )
    feed.close()


async def test_an_admin_ending_a_session_ends_its_access_tokens(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """DELETE /admin/sessions/{id} stopped the refresh token only; now its access tokens too."""
    await kit.add_user(app)
    await kit.add_user(app, "root", "root-password", permissions={"admin": ["*"]})
    admin = kit.bearer((await kit.login(client, "root", "root-password"))["access_token"])
    guard, feed = await _follower(client, app)
    first = await kit.login(client)
    second = (await client.post("/refresh", json={"refresh_token": first["refresh_token"]})).json()
    sid = _claims(first["access_token"])["sid"]
    ended = await client.delete(f"/admin/sessions/{sid}", headers=admin)
    assert ended.status_code == 200, ended.text
    await _refused_everywhere(
        client, app, kit, guard, feed, [first["access_token"], second["access_token"]]
    )
    assert (await client.get("/admin/users", headers=admin)).status_code == 200
    feed.close()


@pytest.mark.redis
async def test_a_logout_pushes_its_session_over_redis(
    redis_url: str, sqlite_url: str, kit: Any, clock: Any
) -> None:
    """A guard subscribed to Redis refuses the session's earlier access token within a second."""
    import time

    from jotauth.guard.redis_source import RedisRevocationSource
    from jotauth.issuer.app import create_app

    app = create_app(
        kit.make_settings(sqlite_url, redis_url=redis_url), clock=clock, sleep=clock.advance
    )
    source = RedisRevocationSource(redis_url)
    view = RevocationView()
    source.attach(view)
    try:
        assert source.subscribed.wait(5)
        await kit.add_user(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            first = await kit.login(c)
            second = (
                await c.post("/refresh", json={"refresh_token": first["refresh_token"]})
            ).json()
            await c.post("/logout", headers=kit.bearer(second["access_token"]))
        claims = _claims(first["access_token"])
        deadline = time.monotonic() + 5
        while view.check(claims["jti"], "1", claims["iat"], None, claims["sid"]) is None:
            assert time.monotonic() < deadline, "the session end never arrived over Redis"
            await anyio.sleep(0.02)
    finally:
        source.close()
        app.state.store.close()
