"""``jotauth db upgrade|current`` against a configured database."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth.cli.main import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}


def test_upgrade_creates_then_is_a_no_op(env: dict[str, str]) -> None:
    """The first upgrade migrates an empty database, the second says it is up to date."""
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    assert "upgraded from empty to 0002" in first.output
    second = runner.invoke(main, ["db", "upgrade"], env=env)
    assert "already at revision 0002" in second.output
    current = runner.invoke(main, ["db", "current"], env=env)
    assert "current: 0002; newest: 0002" in current.output


def test_upgrade_fails_cleanly_on_an_unreachable_database() -> None:
    """A database that cannot be reached is exit 1 with a message, not a traceback."""
    result = CliRunner().invoke(
        main,
        ["db", "upgrade"],
        env={"JOTAUTH_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == 1
    assert "migration failed" in result.output


def test_purge_removes_only_expired_rows(env: dict[str, str]) -> None:
    """Expired denylist entries go; live ones stay."""
    import time

    from jotauth.store import open_store

    store = open_store(env["JOTAUTH_DATABASE_URL"])
    now = time.time()
    store.revoke_token("dead", int(now) - 10, now=now)
    store.revoke_token("live", int(now) + 600, now=now)
    store.close()
    result = CliRunner().invoke(main, ["db", "purge"], env=env)
    assert result.exit_code == 0, result.output
    assert "removed 1 expired row(s)" in result.output
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    assert [e.jti for e in store.revocations_after(0, now=0)] == ["live"]
    store.close()
