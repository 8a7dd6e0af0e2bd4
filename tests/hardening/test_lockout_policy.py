"""The login lockout is not a denial-of-service tool (OWASP Authentication Cheat Sheet).

Failures are counted per (account, client address), strictly, and per account over every
address, more loosely: an attacker guessing from one address locks only that address out of
the account, and guessing spread over many addresses is slowed to the account-wide limit
while the owner's known address still reaches the password check. Tested on the real auth
server over /login, /oauth/token and POST /password.
"""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

GOOD = {"username": "john", "password": "password123"}
BAD = {"username": "john", "password": "wrong"}
OWNER = "192.0.2.10"
ATTACKER = "198.51.100.66"


async def _login(c: httpx.AsyncClient, body: dict[str, str]) -> int:
    return (await c.post("/login", json=body)).status_code


async def test_attacker_elsewhere_cannot_lock_the_owner_out(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """The attacker's address fails 10 times and is refused; the owner, from another
    address, logs in with the right password at once (the old per-account lock said 429)."""
    app = await make_issuer(ip_burst=100)
    async with make_client(app, ip=ATTACKER) as bad, make_client(app, ip=OWNER) as owner:
        codes = [await _login(bad, BAD) for _ in range(10)]
        assert codes == [401] * 5 + [429] * 5
        r = await bad.post("/login", json=GOOD)  # even the right password, from that address
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 15 * 60
        assert await _login(owner, GOOD) == 200


async def test_password_grant_guesses_lock_only_their_address(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """/oauth/token counts into the same (account, address) window as /login."""
    app = await make_issuer(ip_burst=100)
    form = {"grant_type": "password", "username": "john", "password": "nope"}
    async with make_client(app, ip=ATTACKER) as bad, make_client(app, ip=OWNER) as owner:
        assert [(await bad.post("/oauth/token", data=form)).status_code for _ in range(5)] == [
            400
        ] * 5
        assert await _login(bad, GOOD) == 429
        good = {"grant_type": "password", **GOOD}
        assert (await owner.post("/oauth/token", data=good)).status_code == 200


async def test_guessing_from_many_addresses_is_slowed_but_the_owner_gets_in(
    make_issuer: Callable[..., Any], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Past the account-wide limit (here 6 per hour) new addresses get 429 + Retry-After;
    the address the owner logged in from before still reaches the password check."""
    app = await make_issuer(ip_burst=100, account_any_limit="6 per hour")
    async with make_client(app, ip=OWNER) as owner:
        assert await _login(owner, GOOD) == 200  # the owner's usual address becomes known
    for n in range(6):  # one guess each from six addresses: under every per-pair limit
        async with make_client(app, ip=f"203.0.113.{n + 20}") as c:
            assert await _login(c, BAD) == 401
    async with make_client(app, ip="203.0.113.99") as fresh:
        r = await fresh.post("/login", json=BAD)
        assert r.status_code == 429
        assert r.json()["error"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 3600
    async with make_client(app, ip=OWNER) as owner:
        assert await _login(owner, GOOD) == 200


async def test_account_wide_limit_default_is_twenty_an_hour() -> None:
    """The documented defaults: 5 per 15 minutes per pair, 20 per hour per account."""
    from jotauth.issuer.settings import Settings

    s = Settings.from_env({})
    assert (s.account_limit, s.account_any_limit) == ("5 per 15 minutes", "20 per hour")
