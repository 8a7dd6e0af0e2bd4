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
    assert "upgraded from empty to 0001" in first.output
    second = runner.invoke(main, ["db", "upgrade"], env=env)
    assert "already at revision 0001" in second.output
    current = runner.invoke(main, ["db", "current"], env=env)
    assert "current: 0001; newest: 0001" in current.output


def test_upgrade_fails_cleanly_on_an_unreachable_database() -> None:
    """A database that cannot be reached is exit 1 with a message, not a traceback."""
    result = CliRunner().invoke(
        main,
        ["db", "upgrade"],
        env={"JOTAUTH_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == 1
    assert "migration failed" in result.output
