"""``jotauth keys list|rotate|revoke|master``."""

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth.cli.main import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    return {
        "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "JOTAUTH_MASTER_KEY": key,
    }


def _states(runner: CliRunner, env: dict[str, str]) -> dict[str, str]:
    result = runner.invoke(main, ["keys", "list"], env=env)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    return {row[0]: row[2] for row in rows}


def test_list_rotate_revoke(env: dict[str, str]) -> None:
    """A new ring has an active and a next key; rotate promotes; revoke marks and replaces."""
    runner = CliRunner()
    states = _states(runner, env)
    assert sorted(states.values()) == ["active", "next"]
    nxt = next(k for k, s in states.items() if s == "next")
    rotated = runner.invoke(main, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0
    assert nxt in rotated.output
    assert _states(runner, env)[nxt] == "active"
    # "--" ends the options: a kid (a base64url thumbprint) may start with "-".
    revoked = runner.invoke(main, ["keys", "revoke", "--yes", "--", nxt], env=env)
    assert revoked.exit_code == 0, revoked.output
    after = _states(runner, env)
    assert after[nxt] == "revoked"
    assert sorted(s for s in after.values() if s in ("active", "next")) == ["active", "next"]


def test_revoke_unknown_kid(env: dict[str, str]) -> None:
    """An unknown kid is exit 1 with a message."""
    result = CliRunner().invoke(main, ["keys", "revoke", "--yes", "--", "-nope"], env=env)
    assert result.exit_code == 1
    assert "no revocable key" in result.output


def test_master_prints_a_usable_key() -> None:
    """keys master prints 32 random bytes in base64url, different each time."""
    runner = CliRunner()
    one = runner.invoke(main, ["keys", "master"]).output.splitlines()[0]
    two = runner.invoke(main, ["keys", "master"]).output.splitlines()[0]
    assert one != two
    assert len(base64.urlsafe_b64decode(one + "=")) == 32


def test_production_without_master_key_refuses(tmp_path: Path) -> None:
    """Without JOTAUTH_MASTER_KEY outside demo/dev, key commands say how to make one."""
    result = CliRunner().invoke(
        main,
        ["keys", "list"],
        env={"JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "JOTAUTH_MASTER_KEY": ""},
    )
    assert result.exit_code == 1
    assert "jotauth keys master" in result.output
