"""The key ring: publication before use, rotation, retirement, emergency revocation, sealing."""

import json
import os
from typing import Any

import httpx
import pytest

from jotauth import jose
from jotauth.issuer.app import create_app
from jotauth.issuer.errors import ConfigurationError

pytestmark = pytest.mark.anyio


async def _kids(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/.well-known/jwks.json")
    assert response.headers["cache-control"] == "public, max-age=300"
    return [k["kid"] for k in response.json()["keys"]]


def _states(app: Any) -> dict[str, str]:
    """The access-token keys' states (the list also shows the ID-token rings' keys)."""
    alg = app.state.settings.signing_alg
    return {k.kid: k.state for k in app.state.auth.ring.list() if k.alg == alg}


async def test_next_key_is_published_before_it_signs(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A fresh ring publishes the active and the next key; after rotation the next one signs."""
    await kit.add_user(app)
    states = _states(app)
    assert sorted(states.values()) == ["active", "next"]
    nxt = next(k for k, s in states.items() if s == "next")
    assert nxt in await _kids(client)
    app.state.auth.ring.rotate()
    token = (await kit.login(client))["access_token"]
    assert jose.peek_header(token)["kid"] == nxt


async def test_rotation_keeps_old_tokens_valid_until_they_expire(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """A token signed before rotation verifies after it; the retiring key leaves JWKS later."""
    await kit.add_user(app)
    old = (await kit.login(client))["access_token"]
    old_kid = jose.peek_header(old)["kid"]
    app.state.auth.ring.rotate()
    assert _states(app)[old_kid] == "retiring"
    assert (await client.get("/profile", headers=kit.bearer(old))).status_code == 200
    assert old_kid in await _kids(client)
    clock.advance(900 + 61)
    app.state.auth.ring.invalidate()
    assert old_kid not in await _kids(client)
    assert _states(app)[old_kid] == "retired"


async def test_rotation_keeps_a_key_published_for_a_clients_longer_access_ttl(
    app: Any, client: httpx.AsyncClient, clock: Any
) -> None:
    """A client whose tokens live 2 h (the server's live 15 min): a key retired at rotation
    stays in JWKS until such a token it signed has expired, not 15 minutes later."""
    from jotauth.issuer.services.clients import ClientSpec

    record, secret = await app.state.clients.register(
        ClientSpec(name="nightly-batch", audiences=("reports",), access_ttl=7200)
    )
    answer = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(record.client_id, secret)
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert answer.json()["expires_in"] == 7200
    kid = jose.peek_header(token)["kid"]
    app.state.auth.ring.rotate()
    clock.advance(900 + 61)
    app.state.auth.ring.invalidate()
    assert kid in await _kids(client)
    assert _states(app)[kid] == "retiring"
    clock.advance(7200 - 900)
    app.state.auth.ring.invalidate()
    assert kid not in await _kids(client)


async def test_emergency_revocation_kills_tokens_at_once(
    app: Any, client: httpx.AsyncClient, kit: Any
) -> None:
    """A revoked key leaves JWKS immediately and every token it signed is refused."""
    await kit.add_user(app)
    token = (await kit.login(client))["access_token"]
    kid = jose.peek_header(token)["kid"]
    app.state.auth.ring.revoke(kid)
    assert kid not in await _kids(client)
    assert (await client.get("/profile", headers=kit.bearer(token))).status_code == 401
    fresh = (await kit.login(client))["access_token"]
    assert jose.peek_header(fresh)["kid"] != kid
    assert (await client.get("/profile", headers=kit.bearer(fresh))).status_code == 200
    assert sorted(s for s in _states(app).values() if s != "revoked") == ["active", "next"]


async def test_scheduled_rotation(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """After 30 days the next key takes over by itself."""
    await kit.add_user(app)
    before = jose.peek_header((await kit.login(client))["access_token"])["kid"]
    clock.advance(30 * 86400 + 1)
    app.state.auth.ring.invalidate()
    after = jose.peek_header((await kit.login(client))["access_token"])["kid"]
    assert after != before
    assert _states(app)[before] == "retiring"


async def test_private_keys_are_sealed_at_rest(app: Any, store: Any) -> None:
    """The database holds no private JWK member; only the master key opens the blobs."""
    with store.engine.connect() as connection:
        rows = list(
            connection.exec_driver_sql("SELECT public_jwk, private_sealed FROM signing_keys")
        )
    assert rows
    for public, sealed in rows:
        jwk = json.loads(public) if isinstance(public, str) else public
        assert "d" not in jwk
        assert b'"d"' not in bytes(sealed)


async def test_wrong_master_key_refuses_to_start(sqlite_url: str, kit: Any, clock: Any) -> None:
    """Opening the ring with another master key fails with a clear configuration error."""
    first = create_app(kit.make_settings(sqlite_url), clock=clock, sleep=clock.advance)
    first.state.store.close()
    other = kit.make_settings(sqlite_url, master_key=os.urandom(32))
    with pytest.raises(ConfigurationError, match="MASTER_KEY"):
        create_app(other, clock=clock, sleep=clock.advance)


async def test_hs256_needs_a_strong_secret(sqlite_url: str, kit: Any) -> None:
    """HS256 is refused without a secret of at least 32 bytes."""
    with pytest.raises(ConfigurationError, match="HMAC_SECRET"):
        kit.make_settings(sqlite_url, signing_alg="HS256", hmac_secret=b"short")


async def test_hs256_with_a_secret_signs_and_publishes_nothing(
    sqlite_url: str, kit: Any, clock: Any
) -> None:
    """With an explicit strong secret tokens are HS256 and the secret is never published: the
    JWKS holds only the ID-token keys (RS256, ES256, EdDSA: the master key seals them)."""
    settings = kit.make_settings(sqlite_url, signing_alg="HS256", hmac_secret=os.urandom(32))
    app = create_app(settings, clock=clock, sleep=clock.advance)
    await kit.add_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = (await kit.login(client))["access_token"]
        assert jose.peek_header(token)["alg"] == "HS256"
        assert (await client.get("/profile", headers=kit.bearer(token))).status_code == 200
        published = (await client.get("/.well-known/jwks.json")).json()["keys"]
        assert published
        assert {(k["kty"], k["alg"]) for k in published} == {
            ("RSA", "RS256"), ("EC", "ES256"), ("OKP", "EdDSA"),
        }  # fmt: skip
    app.state.store.close()


def test_a_key_revoked_by_another_worker_is_replaced(app: Any, store: Any) -> None:
    """When another process revoked the active key, the next reload promotes the next key."""
    import threading

    ring = app.state.auth.ring
    active = next(k for k in ring.list() if k.state == "active")
    nxt = next(k for k in ring.list() if k.state == "next")
    store.revoke_key(active.kid, now=kit_start())
    ring.invalidate()
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(ring.signer().kid), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert result == [nxt.kid], "the reload deadlocked or did not promote the next key"


def kit_start() -> float:
    return 1_900_000_000.0


@pytest.mark.postgres
def test_instances_starting_together_make_one_ring(pg_schema_url: str, kit: Any) -> None:
    """Four instances creating the ring at once on PostgreSQL leave one active, one next key."""
    from concurrent.futures import ThreadPoolExecutor

    from jotauth.issuer.services.keyring import KeyRing
    from jotauth.store.sql import SQLStore

    settings = kit.make_settings(pg_schema_url)
    stores = [SQLStore.from_url(pg_schema_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda s: KeyRing(s, settings).ensure(), stores))
        states = sorted(k.state for k in stores[0].list_keys())
        assert states == ["active", "next"]
    finally:
        for store in stores:
            store.close()


async def test_an_emergency_revocation_stops_every_instance_signing_at_once(
    sqlite_url: str, kit: Any, clock: Any
) -> None:
    """Two instances over one database: after one revokes the signing key, the other signs its
    very next token with the replacement, not with the revoked key until its cache expires
    (a login there would hand out a token every verifier refuses)."""
    settings = kit.make_settings(sqlite_url)
    one = create_app(settings, clock=clock, sleep=clock.advance)
    two = create_app(settings, clock=clock, sleep=clock.advance)
    try:
        await kit.add_user(one)
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=one), base_url="http://a") as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=two), base_url="http://b") as b,
        ):
            kid = jose.peek_header((await kit.login(b))["access_token"])["kid"]  # two caches it
            one.state.auth.ring.revoke(kid)
            clock.advance(1)  # well inside the other instance's 5 s ring cache
            fresh = await kit.login(b)
            assert jose.peek_header(fresh["access_token"])["kid"] != kid
            refreshed = await b.post("/refresh", json={"refresh_token": fresh["refresh_token"]})
            assert jose.peek_header(refreshed.json()["access_token"])["kid"] != kid
            for client in (a, b):
                me = await client.get("/me", headers=kit.bearer(fresh["access_token"]))
                assert me.status_code == 200, me.text
    finally:
        one.state.store.close()
        two.state.store.close()


async def test_signing_key_is_confirmed_at_most_twice_a_second(
    sqlite_url: str, kit: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The revocation check before signing is one read per half second, not one per token (a
    read per token cost a quarter of refresh throughput), and resumes once the interval ends."""
    app = create_app(kit.make_settings(sqlite_url), clock=clock, sleep=clock.advance)
    try:
        ring = app.state.auth.ring
        store = ring.store
        reads: list[str] = []
        real = store.key_state

        def counted(kid: str) -> str | None:
            reads.append(kid)
            return real(kid)

        monkeypatch.setattr(store, "key_state", counted)
        first = ring.signer()  # loads the view: current, nothing to confirm
        clock.advance(0.6)
        assert [ring.signer() for _ in range(20)] == [first] * 20
        assert len(reads) == 1  # confirmed once, then trusted for half a second
        clock.advance(0.4)
        ring.signer()
        assert len(reads) == 1
        clock.advance(0.2)
        ring.signer()
        assert reads == [first.kid, first.kid]
    finally:
        app.state.store.close()


def _guarded(app: Any, kit: Any, clock: Any) -> tuple[Any, httpx.Client]:
    """A Guard fetching this app's JWKS over HTTP, and a client logging john in."""
    from jotauth.guard import Guard

    guard = Guard(
        issuer="http://testserver",
        audience="jotauth",
        transport=kit.sync_transport(app),
        clock=clock,
    )
    http = httpx.Client(transport=kit.sync_transport(app), base_url="http://testserver")
    return guard, http


def _token(http: httpx.Client) -> str:
    response = http.post("/login", json={"username": "john", "password": "password123"})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize("second", ["rotate", "revoke"])
def test_two_key_changes_right_after_a_guards_fetch_lock_no_token_out(
    app: Any, kit: Any, clock: Any, second: str
) -> None:
    """A guard fetched the JWKS; within a second the key changes twice (rotate + rotate, or
    rotate + revoke of the new active key). Every token the issuer hands out must verify at
    that guard at once, not after its 30 s unknown-kid cooldown; later the newest key signs
    and the guard learns it by itself."""
    import anyio

    anyio.run(kit.add_user, app)
    ring = app.state.auth.ring
    guard, http = _guarded(app, kit, clock)
    try:
        guard.authenticate_sync(_token(http))  # the guard has fetched the JWKS now
        clock.advance(0.3)
        ring.rotate()
        if second == "rotate":
            ring.rotate()
        else:
            ring.revoke(next(k.kid for k in ring.list() if k.state == "active"))
        newest = next(k.kid for k in ring.list() if k.state == "active")
        clock.advance(0.3)
        for _ in range(3):
            guard.authenticate_sync(_token(http))
        from jotauth.issuer.services.keyring import PUBLISH_LEAD

        clock.advance(PUBLISH_LEAD)
        ring.invalidate()
        token = _token(http)
        assert jose.peek_header(token)["kid"] == newest
        guard.authenticate_sync(token)
    finally:
        http.close()
        guard.close()


async def test_revoking_the_last_key_services_know_is_refused_and_changes_nothing(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """Revoke the next key, then the active one: only a key made a moment ago would be left,
    which guards cannot know yet; 409, both states as before, tokens still issued and valid.
    Once the replacement has been published long enough the revocation goes through."""
    from jotauth.issuer.services.keyring import PUBLISH_LEAD

    await kit.add_user(app, "root", "root-password", permissions={"admin": ["*"]})
    headers = kit.bearer((await kit.login(client, "root", "root-password"))["access_token"])
    states = _states(app)
    active = next(k for k, s in states.items() if s == "active")
    nxt = next(k for k, s in states.items() if s == "next")
    clock.advance(1)
    assert (await client.post(f"/admin/keys/{nxt}/revoke", headers=headers)).status_code == 200
    before = _states(app)
    refused = await client.post(f"/admin/keys/{active}/revoke", headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "conflict"
    assert "retry in" in refused.json()["error_description"]
    assert _states(app) == before
    token = (await kit.login(client, "root", "root-password"))["access_token"]
    assert jose.peek_header(token)["kid"] == active
    assert (await client.get("/me", headers=kit.bearer(token))).status_code == 200
    clock.advance(PUBLISH_LEAD)
    app.state.auth.ring.invalidate()
    done = await client.post(f"/admin/keys/{active}/revoke", headers=headers)
    assert done.status_code == 200, done.text
    assert _states(app)[active] == "revoked"
    fresh = (await kit.login(client, "root", "root-password"))["access_token"]
    assert jose.peek_header(fresh)["kid"] not in (active, nxt)


def test_two_revocations_at_once_cannot_leave_no_key_to_sign(app: Any, kit: Any) -> None:
    """Two instances revoke the active and the next key at the same moment: each alone is
    allowed, together they would leave no key guards know, so exactly one is refused."""
    from concurrent.futures import ThreadPoolExecutor

    from jotauth.issuer.errors import ConflictError
    from jotauth.issuer.services.keyring import KeyRing

    store = app.state.store
    settings, clock = app.state.settings, app.state.auth.clock
    rings = [KeyRing(store, settings, clock=clock, sleep=lambda _: None) for _ in range(2)]
    clock.advance(1)  # a moment after the ring was made
    kids = [k.kid for k in store.list_keys() if k.state in ("active", "next")]

    def revoke(pair: tuple[Any, str]) -> str:
        try:
            pair[0].revoke(pair[1])
        except ConflictError:
            return "refused"
        return "revoked"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(revoke, zip(rings, kids, strict=True)))
    assert outcomes == ["refused", "revoked"]


async def test_no_instance_signs_with_a_key_once_its_revocation_returned(
    sqlite_url: str, kit: Any, clock: Any
) -> None:
    """Instance two confirmed its signing key a moment ago; instance one revokes it. When the
    revoke call returns, instance two's very next token already uses the replacement (revoke
    waits out the half-second confirmation interval instead of leaving it to chance)."""
    settings = kit.make_settings(sqlite_url)
    one = create_app(settings, clock=clock, sleep=clock.advance)
    two = create_app(settings, clock=clock, sleep=clock.advance)
    try:
        await kit.add_user(one)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=two), base_url="http://b"
        ) as b:
            kid = jose.peek_header((await kit.login(b))["access_token"])["kid"]
            clock.advance(0.6)
            await kit.login(b)  # two confirms its signing key now
            clock.advance(0.05)
            one.state.auth.ring.revoke(kid)
            after = (await kit.login(b))["access_token"]
            assert jose.peek_header(after)["kid"] != kid
    finally:
        one.state.store.close()
        two.state.store.close()


def test_guards_refuse_a_token_signed_with_a_key_after_its_revocation(
    app: Any, kit: Any, clock: Any
) -> None:
    """A token signed with the revoked key after the revoke (a worker that stalled between
    taking the key and signing) is refused by a guard that still has the key in its JWKS
    cache: the key's revocation event in the feed decides, not the cache."""
    import anyio

    from jotauth.guard import RevocationFeed, RevokedTokenError

    anyio.run(kit.add_user, app)
    ring = app.state.auth.ring
    feed = RevocationFeed(
        "http://testserver/revocations",
        service_token="feed-secret-0123456789",
        transport=kit.sync_transport(app),
        clock=clock,
    )
    from jotauth.guard import Guard

    guard = Guard(
        issuer="http://testserver",
        audience="jotauth",
        transport=kit.sync_transport(app),
        revocation=feed,
        clock=clock,
    )
    http = httpx.Client(transport=kit.sync_transport(app), base_url="http://testserver")
    try:
        token = _token(http)
        guard.authenticate_sync(token)  # JWKS cached with the signing key in it
        stalled = ring.signer()
        ring.revoke(stalled.kid)
        late = jose.encode(
            {**jose.peek_claims(token), "jti": "signed-after-revoke", "iat": int(clock())},
            stalled,
            headers={"typ": "at+jwt"},
        )
        assert feed.poll_once()
        with pytest.raises(RevokedTokenError):
            guard.authenticate_sync(late)
        me = http.get("/me", headers=kit.bearer(late))
        assert me.status_code == 401
    finally:
        http.close()
        guard.close()


async def test_unknown_kids_do_not_reload_the_ring_on_every_request(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 tokens naming made-up kids cost one ring reload (a write, a read, an unsealing) per
    cooldown, not 60; after the cooldown a new kid may force one reload again."""
    await kit.add_user(app)
    ring = app.state.auth.ring
    loads: list[object] = []
    real = ring._load

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(args)
        return real(*args, **kwargs)

    await client.get("/.well-known/jwks.json")  # the ring's view is loaded and fresh
    monkeypatch.setattr(ring, "_load", counted)
    for number in range(60):
        stranger = jose.Key.generate("EdDSA", kid=f"made-up-{number}")
        token = jose.encode(
            {"iss": "http://testserver", "aud": "jotauth", "sub": "1", "iat": int(clock()),
             "exp": int(clock()) + 60, "jti": str(number)},
            stranger, headers={"typ": "at+jwt"},
        )  # fmt: skip
        response = await client.get("/profile", headers=kit.bearer(token))
        assert response.status_code == 401
        assert response.json()["jotauth_code"] == "no_matching_key"
    assert len(loads) == 1
    clock.advance(6)
    for number in range(3):
        stranger = jose.Key.generate("EdDSA", kid=f"later-{number}")
        token = jose.encode(
            {"iss": "http://testserver", "aud": "jotauth", "sub": "1", "iat": int(clock()),
             "exp": int(clock()) + 60, "jti": f"l{number}"},
            stranger, headers={"typ": "at+jwt"},
        )  # fmt: skip
        assert (await client.get("/profile", headers=kit.bearer(token))).status_code == 401
    assert len(loads) == 3  # the stale view's regular reload, and one forced reload
