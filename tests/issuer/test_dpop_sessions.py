"""DPoP-bound sessions in the database (SQLite and PostgreSQL), and time-dependent DPoP rules
(nonce slots, proof age) on a manual clock.

The refresh family keeps the key's thumbprint (migration 0008, ``refresh_families.dpop_jkt``):
written by the login's one statement (PostgreSQL's CTE, SQLite's transaction) and read by the
refresh's one lookup, so a binding survives any number of rotations and instances.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jotauth import jose
from jotauth.guard.testing import ManualClock
from jotauth.issuer.app import create_app
from jotauth.issuer.services.tokens import hash_refresh
from jotauth.jose.dpop import make_proof

pytestmark = pytest.mark.anyio

ISSUER = "http://testserver"


@pytest.fixture
async def issuer(
    database_url: str, kit: Any, clock: ManualClock
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(kit.make_settings(database_url), clock=clock, sleep=clock.advance)
    await kit.add_user(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield app, client
    app.state.store.close()


def _proof(key: jose.Key, path: str, clock: ManualClock, **options: Any) -> dict[str, str]:
    return {"DPoP": make_proof(key, "POST", ISSUER + path, iat=int(clock()), **options)}


async def test_the_binding_is_stored_and_kept_through_rotations(
    issuer: tuple[Any, httpx.AsyncClient], clock: ManualClock
) -> None:
    """Login with a proof stores the thumbprint on the family; three rotations later only
    that key refreshes, and the admin's view of the session is the same family."""
    app, client = issuer
    key = jose.Key.generate("ES256")
    login = await client.post(
        "/login", json={"username": "john", "password": "password123"},
        headers=_proof(key, "/login", clock),
    )  # fmt: skip
    assert login.status_code == 200, login.text
    token = login.json()["refresh_token"]
    family = app.state.store.find_session(hash_refresh(token))[1]
    assert family.dpop_jkt == key.public().thumbprint()
    for _ in range(3):
        clock.advance(30)
        thief = _proof(jose.Key.generate("ES256"), "/refresh", clock)
        other = await client.post("/refresh", json={"refresh_token": token}, headers=thief)
        assert other.json()["error"] == "invalid_grant"
        answer = await client.post(
            "/refresh", json={"refresh_token": token}, headers=_proof(key, "/refresh", clock)
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"] == "DPoP"
        token = answer.json()["refresh_token"]
    assert app.state.store.find_session(hash_refresh(token))[1].id == family.id


async def test_an_unbound_session_stays_unbound(
    issuer: tuple[Any, httpx.AsyncClient], clock: ManualClock
) -> None:
    """A login without a proof stores no key; a later refresh with one binds its access
    token only (the family keeps refreshing without a proof)."""
    app, client = issuer
    login = await client.post("/login", json={"username": "john", "password": "password123"})
    token = login.json()["refresh_token"]
    assert app.state.store.find_session(hash_refresh(token))[1].dpop_jkt is None
    key = jose.Key.generate("EdDSA")
    proved = await client.post(
        "/refresh", json={"refresh_token": token}, headers=_proof(key, "/refresh", clock)
    )
    assert proved.json()["token_type"] == "DPoP"
    plain = await client.post("/refresh", json={"refresh_token": proved.json()["refresh_token"]})
    assert plain.status_code == 200, plain.text
    assert plain.json()["token_type"] == "Bearer"


# -- the clock -----------------------------------------------------------------------------


@pytest.fixture
async def nonce_issuer(
    sqlite_url: str, kit: Any, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    settings = kit.make_settings(sqlite_url, dpop_nonce=True, dpop_nonce_interval=60)
    app = create_app(settings, clock=clock, sleep=clock.advance)
    await kit.add_user(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client:
        yield client
    app.state.store.close()


async def _login_with(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/login", json={"username": "john", "password": "password123"}, headers=headers
    )


async def test_the_previous_nonce_is_accepted_and_an_older_one_is_not(
    nonce_issuer: httpx.AsyncClient, clock: ManualClock
) -> None:
    """One slot later the nonce still works (a client that fetched it just before the
    change); two slots later it is use_dpop_nonce with the current one."""
    key = jose.Key.generate("ES256")
    asked = await _login_with(nonce_issuer, _proof(key, "/login", clock))
    nonce = asked.headers["DPoP-Nonce"]
    clock.advance(60)
    late = await _login_with(nonce_issuer, _proof(key, "/login", clock, nonce=nonce))
    assert late.status_code == 200, late.text
    assert late.headers["DPoP-Nonce"] != nonce  # the next slot's
    clock.advance(60)
    stale = await _login_with(nonce_issuer, _proof(key, "/login", clock, nonce=nonce))
    assert (stale.status_code, stale.json()["error"]) == (400, "use_dpop_nonce")
    assert stale.headers["DPoP-Nonce"] not in (nonce, "")


async def test_an_old_or_future_proof_is_refused(
    issuer: tuple[Any, httpx.AsyncClient], clock: ManualClock
) -> None:
    """``iat`` outside the window: invalid_dpop_proof, and nothing is issued."""
    _, client = issuer
    key = jose.Key.generate("ES256")
    for iat in (int(clock()) - 600, int(clock()) + 600):
        proof = {"DPoP": make_proof(key, "POST", ISSUER + "/login", iat=iat)}
        answer = await _login_with(client, proof)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_dpop_proof")


async def test_a_thief_without_the_key_cannot_lock_the_owner_out(
    sqlite_url: str, kit: Any, clock: ManualClock
) -> None:
    """With the brute-force limits on, more refusals than the refresh limit allows (5 per
    15 minutes) for want of the key leave the owner's refresh working; each is audited."""
    app = create_app(kit.make_settings(sqlite_url, ratelimit_enabled=True), clock=clock)
    await kit.add_user(app)
    key = jose.Key.generate("ES256")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client:
        login = await _login_with(client, _proof(key, "/login", clock))
        token = {"refresh_token": login.json()["refresh_token"]}
        for _ in range(8):
            stolen = await client.post("/refresh", json=token)
            assert (stolen.status_code, stolen.json()["error"]) == (401, "invalid_grant")
        owner = await client.post("/refresh", json=token, headers=_proof(key, "/refresh", clock))
        assert owner.status_code == 200, owner.text
    events = app.state.store.list_audit_events(type="token_refreshed", limit=50)
    reasons = [e.detail.get("reason") for e in events if e.outcome == "failure"]
    assert reasons == ["dpop_key_mismatch"] * 8
    app.state.store.close()


async def test_proofs_of_callers_who_prove_nothing_never_fill_the_replay_cache(
    issuer: tuple[Any, httpx.AsyncClient], clock: ManualClock
) -> None:
    """Anyone can sign a proof with a key of their own: the replay cache (which refuses every
    proof once full) records a proof only once its caller authenticated — a password, a
    client's credentials, a live refresh token — so anonymous proofs cannot turn DPoP off."""
    app, client = issuer
    app.state.dpop.replays.maxsize = 3  # stands for the default 100 000
    for path, attempt in (
        ("/login", {"json": {"username": "john", "password": "wrong-password"}}),
        ("/refresh", {"json": {"refresh_token": "x" * 43}}),
        ("/oauth/token", {"data": {"grant_type": "nonsense"}}),
        ("/oauth/token", {"data": {"grant_type": "client_credentials"}, "auth": ("who", "no")}),
        ("/oauth/token", {"data": {"grant_type": "refresh_token", "refresh_token": "y" * 43}}),
    ):
        for _ in range(2):
            headers = _proof(jose.Key.generate("ES256"), path, clock)
            refused = await client.post(path, headers=headers, **attempt)
            assert refused.status_code in (400, 401), (path, refused.text)
    key = jose.Key.generate("ES256")
    honest = _proof(key, "/login", clock)
    answer = await _login_with(client, honest)
    assert answer.status_code == 200, answer.text
    replayed = await _login_with(client, honest)  # the honest proof was recorded: no replay
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_dpop_proof")
    refresh = await client.post(
        "/refresh", json={"refresh_token": answer.json()["refresh_token"]},
        headers=_proof(key, "/refresh", clock),
    )  # fmt: skip
    assert refresh.status_code == 200, refresh.text
