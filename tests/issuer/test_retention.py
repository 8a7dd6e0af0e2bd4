"""Retention in the server: reuse detection after pruning, the policy from settings, the task."""

import logging
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from jotauth.issuer.app import create_app
from jotauth.issuer.retention import RetentionTask, retention_policy
from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore

pytestmark = pytest.mark.anyio

DAY = 86400


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/refresh", json={"refresh_token": token})


async def _chain(
    client: httpx.AsyncClient, kit: Any, clock: Any, steps: int, every: float
) -> list[str]:
    """Log in, then refresh ``steps`` times ``every`` seconds apart: every token, oldest first."""
    tokens = [(await kit.login(client))["refresh_token"]]
    for _ in range(steps):
        clock.advance(every)
        response = await _refresh(client, tokens[-1])
        assert response.status_code == 200, response.text
        tokens.append(response.json()["refresh_token"])
    return tokens


async def test_a_pruned_token_replayed_is_refused_and_a_kept_one_still_revokes(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any, store: SQLStore
) -> None:
    """A session refreshed daily for 9 days: retention prunes the tokens rotated more than the
    idle lifetime (7 days) ago. Replaying a pruned one is refused (401 invalid_grant) and the
    session goes on; replaying one rotated within the window is reuse: the family is revoked."""
    await kit.add_user(app)
    tokens = await _chain(client, kit, clock, steps=9, every=DAY)
    clock.advance(DAY // 2)
    report = app.state.retention.run_once()
    assert report.removed["rotated_tokens"] == 2  # rotated on day 1 and day 2, > 7 days ago
    pruned, kept, current = tokens[0], tokens[3], tokens[-1]
    refused = await _refresh(client, pruned)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_grant"
    assert store.list_audit_events(type="refresh_reuse_detected") == []
    clock.advance(60)
    alive = await _refresh(client, current)
    assert alive.status_code == 200  # the pruned replay did not end the session
    reuse = await _refresh(client, kept)
    assert reuse.status_code == 401
    assert len(store.list_audit_events(type="refresh_reuse_detected")) == 1
    assert (await _refresh(client, alive.json()["refresh_token"])).status_code == 401


async def test_the_current_token_of_an_idle_but_live_session_survives(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """A session unused for 6 days (idle lifetime 7) keeps its token through retention."""
    await kit.add_user(app)
    tokens = await _chain(client, kit, clock, steps=1, every=60)
    clock.advance(6 * DAY)
    app.state.retention.run_once()
    assert (await _refresh(client, tokens[-1])).status_code == 200


async def test_dead_sessions_go_a_day_after_they_ended(
    app: Any, client: httpx.AsyncClient, kit: Any, clock: Any, store: SQLStore
) -> None:
    """A session idle past its lifetime answers "session ended" for a day, then is removed."""
    await kit.add_user(app)
    tokens = await _chain(client, kit, clock, steps=0, every=0)
    clock.advance(7 * DAY + 10)
    app.state.retention.run_once()
    ended = await _refresh(client, tokens[0])
    assert ended.status_code == 401
    assert "unused for too long" in ended.json()["error_description"]
    clock.advance(DAY)
    report = app.state.retention.run_once()
    assert (report.removed["dead_session_tokens"], report.removed["dead_sessions"]) == (1, 1)
    assert store.list_families() == []


def test_the_policy_follows_the_settings(kit: Any, sqlite_url: str) -> None:
    """Audit kept 90 days by default, forever with 0; rotated tokens kept the idle lifetime."""
    default = retention_policy(kit.make_settings(sqlite_url))
    assert default.audit_age == 90 * DAY
    assert default.reuse_window == 7 * DAY
    forever = retention_policy(kit.make_settings(sqlite_url, audit_retention_days=0))
    assert forever.audit_age is None
    assert (
        retention_policy(kit.make_settings(sqlite_url, audit_retention_days=3)).audit_age == 3 * DAY
    )


def test_the_settings_come_from_the_environment() -> None:
    """JOTAUTH_AUDIT_RETENTION_DAYS, _RETENTION_INTERVAL and _RETENTION_BATCH are read strictly."""
    settings = Settings.from_env(
        {"JOTAUTH_AUDIT_RETENTION_DAYS": "0", "JOTAUTH_RETENTION_INTERVAL": "60",
         "JOTAUTH_RETENTION_BATCH": "50"}
    )  # fmt: skip
    assert (settings.audit_retention_days, settings.retention_interval) == (0, 60)
    assert settings.retention_batch == 50
    assert Settings.from_env({}).audit_retention_days == 90
    from jotauth.issuer.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="JOTAUTH_RETENTION_BATCH must be an integer >= 1"):
        Settings.from_env({"JOTAUTH_RETENTION_BATCH": "0"})
    with pytest.raises(ConfigurationError, match="JOTAUTH_AUDIT_RETENTION_DAYS"):
        Settings.from_env({"JOTAUTH_AUDIT_RETENTION_DAYS": "-1"})


class Steps:
    """An injected ``sleep`` for the task: each call waits until the test lets it go."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.go = anyio.Event()
        self.waiting = anyio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.waiting.set()
        await self.go.wait()
        self.go = anyio.Event()

    async def step(self) -> None:
        """Release one sleep and wait until the task sleeps again."""
        self.waiting = anyio.Event()
        self.go.set()
        await self.waiting.wait()


async def test_the_task_runs_every_interval_and_survives_a_failed_run(
    kit: Any, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each interval one run; a run that fails (database away) is logged, the next one runs."""
    settings = kit.make_settings(sqlite_url, retention_interval=300)
    store = SQLStore.from_url(sqlite_url)
    steps = Steps()
    task = RetentionTask(store, settings, clock=lambda: kit.start, sleep=steps)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(task.run)
            await steps.waiting.wait()
            assert (task.running, task.runs, steps.asked) == (True, 0, [300])
            await steps.step()
            assert task.runs == 1
            broken = store.purge

            def fail(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("database away")

            store.purge = fail  # type: ignore[method-assign]
            with caplog.at_level(logging.WARNING, logger="jotauth.store"):
                await steps.step()
            assert "retention run failed: RuntimeError" in caplog.text
            store.purge = broken  # type: ignore[method-assign]
            await steps.step()
            assert task.runs == 2
            group.cancel_scope.cancel()
    finally:
        store.close()
    assert task.running is False


async def test_the_app_starts_and_stops_the_task(kit: Any, sqlite_url: str, clock: Any) -> None:
    """The lifespan starts retention with the app and stops it on shutdown; interval 0: none."""
    app = create_app(kit.make_settings(sqlite_url), clock=clock)
    try:
        task = app.state.retention
        assert task.running is False
        async with app.router.lifespan_context(app):
            await anyio.lowlevel.checkpoint()
            assert task.running is True
        assert task.running is False
    finally:
        app.state.store.close()
    off = create_app(kit.make_settings(sqlite_url, retention_interval=0), clock=clock)
    try:
        async with off.router.lifespan_context(off):
            await anyio.lowlevel.checkpoint()
            assert off.state.retention.running is False
    finally:
        off.state.store.close()
