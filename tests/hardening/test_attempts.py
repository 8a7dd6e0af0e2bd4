"""Registration and refresh windows of the limiter, in memory and in Redis.

They are ``limits`` fixed windows: one opens at the first counted attempt and lasts the
configured time, and refused attempts never extend it. ``limits`` reads the real time, so
the ends of windows are shown with windows of a second or two.
"""

import uuid
from typing import Any

import anyio
import pytest

from jotauth.issuer.hardening import RateLimiter
from jotauth.issuer.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for each counter store: the process's memory, or the shared Redis."""
    if request.param == "memory":
        return {}
    return {"ratelimit_redis_url": request.getfixturevalue("redis_url")}


async def test_registrations_are_allowed_up_to_the_amount(backend: dict[str, Any]) -> None:
    """Three attempts for a name pass; the fourth waits for the rest of the window."""
    rl = RateLimiter(Settings(register_limit="3 per minute", **backend))
    name = f"n-{uuid.uuid4().hex}"
    assert [(await rl.check("register", None, name)).allowed for _ in range(4)] == [
        True, True, True, False,
    ]  # fmt: skip
    assert (await rl.check("register", None, name)).retry_after == 60
    assert (await rl.check("register", None, f"other-{name}")).allowed
    await rl.aclose()


async def test_refusals_do_not_extend_the_window(backend: dict[str, Any]) -> None:
    """However often a refused name is tried, it is free one window after its first attempt."""
    rl = RateLimiter(Settings(register_limit="2 per 2 seconds", **backend))
    name = f"n-{uuid.uuid4().hex}"
    for _ in range(2):
        assert (await rl.check("register", None, name)).allowed
    await anyio.sleep(1)
    for _ in range(30):
        assert not (await rl.check("register", None, name)).allowed
    await anyio.sleep(1.1)
    assert [(await rl.check("register", None, name)).allowed for _ in range(3)] == [
        True, True, False,
    ]  # fmt: skip
    await rl.aclose()


@pytest.mark.redis
async def test_redis_windows_are_shared_between_instances(redis_url: str) -> None:
    """Two workers pointing at one Redis count into the same window, and see its refusals."""
    settings = Settings(
        ratelimit_redis_url=redis_url, register_limit="3 per minute", refresh_limit="3 per minute"
    )
    a, b = RateLimiter(settings), RateLimiter(settings)
    name = f"n-{uuid.uuid4().hex}"
    try:
        assert (await a.check("register", None, name)).allowed
        assert (await b.check("register", None, name)).allowed
        assert (await a.check("register", None, name)).allowed
        assert not (await b.check("register", None, name)).allowed
        user = f"u-{uuid.uuid4().hex}"
        for _ in range(3):
            await a.record_refresh_failure(user, None)
        assert await b.refresh_locks_possible()  # the marker is seen by every instance
        refused = await b.check("refresh", None, None, user_id=user)
        assert (refused.allowed, refused.scope) == (False, "account")
    finally:
        await a.aclose()
        await b.aclose()


# -- the limiter's registration and refresh calls --------------------------------------------


def limiter(**settings: Any) -> RateLimiter:
    return RateLimiter(Settings(**settings))


async def test_limiter_counts_registrations_per_normalized_name() -> None:
    """check("register") counts each allowed attempt and refuses past the limit, by account."""
    rl = limiter(register_limit="2 per minute")
    results = [await rl.check("register", None, name) for name in ("Ann", "ANN", "ann")]
    assert [d.allowed for d in results] == [True, True, False]
    assert (results[2].retry_after, results[2].scope) == (60, "account")
    assert (await rl.check("register", None, "bob")).allowed
    await rl.aclose()


async def test_limiter_refuses_refreshes_by_user_or_family() -> None:
    """Failures count against the user and the family; either one full refuses the refresh."""
    rl = limiter(refresh_limit="2 per minute")
    await rl.record_refresh_failure("7", "fam-a")
    await rl.record_refresh_failure("7", "fam-b")
    user_full = await rl.check("refresh", None, None, user_id="7", family_id="fam-c")
    assert (user_full.allowed, user_full.scope) == (False, "account")
    await rl.clear_refresh_failures("7")
    assert (await rl.check("refresh", None, None, user_id="7", family_id="fam-c")).allowed
    await rl.record_refresh_failure(None, "fam-c")
    await rl.record_refresh_failure(None, "fam-c")
    family_full = await rl.check("refresh", None, None, user_id="8", family_id="fam-c")
    assert (family_full.allowed, family_full.scope) == (False, "family")
    assert (await rl.check("refresh", None, None, user_id="8", family_id="fam-d")).allowed
    assert (await rl.check("refresh", None, None)).allowed  # unknown owner: IP bucket only
    await rl.aclose()


async def test_new_limits_fail_open_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    """With the counter store unreachable, registrations and refreshes still go through.

    The outage is logged once, when it starts, not once per call (issue 13.6).
    """
    rl = RateLimiter(Settings(ratelimit_redis_url="redis://127.0.0.1:1/0"))
    assert (await rl.check("register", None, "ann")).allowed
    assert (await rl.check("refresh", None, None, user_id="1", family_id="f")).allowed
    await rl.record_refresh_failure("1", "f")
    await rl.clear_refresh_failures("1")
    assert not await rl.refresh_locks_possible()
    assert caplog.text.count("failing open") == 1
    await rl.aclose()


async def test_the_services_seam_feeds_the_refresh_counts() -> None:
    """Failed refreshes and reuse count; a login clears the user's count, not the family's."""
    from jotauth.issuer.errors import RateLimitedError

    rl = limiter(refresh_limit="2 per minute")
    await rl.refresh_failed("5", "fam")
    await rl.admit_refresh(None, "5", "fam")
    await rl.refresh_failed("5", "fam")
    with pytest.raises(RateLimitedError):
        await rl.admit_refresh(None, "5", "fam")
    await rl.login_succeeded("ann", "5")
    with pytest.raises(RateLimitedError) as refused:
        await rl.admit_refresh(None, "5", "fam")
    assert refused.value.scope == "family"
    await rl.admit_refresh(None, "5", "new")
    await rl.aclose()


async def test_owner_lookups_are_needed_only_while_a_refusal_lasts() -> None:
    """No lookup before any refusal; one is needed while a window is full, and not after it."""
    rl = limiter(refresh_limit="2 per 2 seconds")
    assert not await rl.refresh_locks_possible()
    await rl.record_refresh_failure("5", None)
    assert not await rl.refresh_locks_possible()  # counted, nobody refused yet
    await rl.record_refresh_failure("5", None)
    assert await rl.refresh_locks_possible()
    await anyio.sleep(1)
    assert await rl.refresh_locks_possible()
    await anyio.sleep(1.1)
    assert not await rl.refresh_locks_possible()
    await rl.aclose()
