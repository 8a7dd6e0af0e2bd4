"""``jotauth db upgrade|downgrade|current|purge`` against a configured database."""

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from tests.migration_facts import NEWEST_COLUMNS, columns_of

from jotauth.cli.main import main
from jotauth.store.sql import SQLStore
from jotauth.store.sql.migrate import SCRIPT_LOCATION, head_revision

HEAD = head_revision()


def _previous(revision: str) -> str:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    script = ScriptDirectory.from_config(config).get_revision(revision)
    assert script is not None
    return str(script.down_revision)


PREVIOUS = _previous(HEAD)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}


def test_upgrade_creates_then_is_a_no_op(env: dict[str, str]) -> None:
    """The first upgrade migrates an empty database, the second says it is up to date."""
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    assert f"upgraded from empty to {HEAD}" in first.output
    second = runner.invoke(main, ["db", "upgrade"], env=env)
    assert f"already at revision {HEAD}" in second.output
    current = runner.invoke(main, ["db", "current"], env=env)
    assert f"current: {HEAD}; newest: {HEAD}" in current.output


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
    """Denylist entries expired for longer than any guard's leeway go; live ones stay, and so
    does one expired a moment ago (a guard may still accept its token within its leeway)."""
    import time

    from jotauth.store import open_store

    store = open_store(env["JOTAUTH_DATABASE_URL"])
    now = time.time()
    store.revoke_token("dead", int(now) - 7200, now=now)
    store.revoke_token("just-expired", int(now) - 10, now=now)
    store.revoke_token("live", int(now) + 600, now=now)
    store.close()
    result = CliRunner().invoke(main, ["db", "purge"], env=env)
    assert result.exit_code == 0, result.output
    assert "removed 1 expired row(s)" in result.output
    assert "  expired revocations: 1" in result.output
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    with store.engine.connect() as connection:
        kept = connection.exec_driver_sql("SELECT jti FROM revocations ORDER BY position").all()
    assert [row.jti for row in kept] == ["just-expired", "live"]
    store.close()


def test_purge_removes_expired_authorization_codes(env: dict[str, str]) -> None:
    """An expired code that issued nothing goes; a live one stays."""
    import time

    from jotauth.store import open_store
    from jotauth.store.records import AuthorizationCodeRecord

    store = open_store(env["JOTAUTH_DATABASE_URL"])
    now = time.time()
    for name, expires in (("dead", now - 1), ("live", now + 60)):
        store.create_code(name, AuthorizationCodeRecord(
            client_id="app", user_id=1, redirect_uri="https://app.example/cb",
            code_challenge="c" * 43, scope="openid", nonce=None, sso_sid="s",
            auth_time=now, created_at=now, expires_at=expires,
        ))  # fmt: skip
    store.close()
    result = CliRunner().invoke(main, ["db", "purge"], env=env)
    assert "removed 1 expired row(s)" in result.output
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    assert store.spend_code("dead", now=now) == (None, False)
    assert store.spend_code("live", now=now)[1]
    store.close()


def test_current_fails_cleanly_on_an_unreachable_database() -> None:
    """`db current` on a database that cannot be reached is one line, not a traceback."""
    result = CliRunner().invoke(
        main,
        ["db", "current"],
        env={"JOTAUTH_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot read the revision: the database is unavailable")
    assert "Connection refused" in result.output
    assert "Traceback" not in result.output


def _tables(url: str) -> set[str]:
    store = SQLStore.from_url(url, migrate_now=False)
    try:
        with store.engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    finally:
        store.close()


def _columns(url: str) -> frozenset[str]:
    store = SQLStore.from_url(url, migrate_now=False)
    try:
        with store.engine.connect() as connection:
            return columns_of(connection)
    finally:
        store.close()


def _usernames(url: str) -> list[str]:
    store = SQLStore.from_url(url, migrate_now=False)
    try:
        return [user.username for user in store.list_users()]
    finally:
        store.close()


def test_downgrade_then_upgrade_keeps_the_data(database_url: str) -> None:
    """`db downgrade --yes` undoes the newest migration, `db upgrade` redoes it; users stay."""
    env = {"JOTAUTH_DATABASE_URL": database_url}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    store = SQLStore.from_url(database_url, migrate_now=False)
    store.create_user(username="ann", username_key="ann", password_hash="$argon2id$x", now=1.0)
    store.close()
    tables = _tables(database_url)
    down = runner.invoke(main, ["db", "downgrade", "--yes"], env=env)
    assert down.exit_code == 0, down.output
    assert f"database downgraded from {HEAD} to {PREVIOUS}" in down.output
    assert _usernames(database_url) == ["ann"]
    up = runner.invoke(main, ["db", "upgrade"], env=env)
    assert up.exit_code == 0, up.output
    assert f"upgraded from {PREVIOUS} to {HEAD}" in up.output
    assert _tables(database_url) == tables
    assert _usernames(database_url) == ["ann"]


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    """`db downgrade base` lists every migration it undoes and leaves no table behind."""
    env = {"JOTAUTH_DATABASE_URL": database_url}
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"], env=env)
    down = runner.invoke(main, ["db", "downgrade", "base", "--yes"], env=env)
    assert down.exit_code == 0, down.output
    assert "  0001  Initial schema" in down.output
    assert _tables(database_url) == set()
    again = runner.invoke(main, ["db", "upgrade"], env=env)
    assert f"upgraded from empty to {HEAD}" in again.output


def test_downgrade_asks_first_and_no_keeps_everything(env: dict[str, str]) -> None:
    """Without --yes the command asks; answering no drops nothing (exit 1, "Aborted")."""
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"], env=env)
    refused = runner.invoke(main, ["db", "downgrade"], env=env, input="n\n")
    assert refused.exit_code == 1
    assert "Continue?" in refused.output
    assert "Aborted" in refused.output
    assert f"current: {HEAD};" in runner.invoke(main, ["db", "current"], env=env).output
    accepted = runner.invoke(main, ["db", "downgrade", "-1"], env=env, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert f"current: {PREVIOUS};" in runner.invoke(main, ["db", "current"], env=env).output


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("-99", f"only {int(HEAD)} revision(s) above base"),
        ("0099", "'0099' is not a revision below"),
        ("--bogus", "'--bogus' is not a revision below"),
    ],
)
def test_downgrade_refuses_unreachable_targets(
    env: dict[str, str], target: str, message: str
) -> None:
    """A target that is not below the current revision is exit 1 and changes nothing."""
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"], env=env)
    result = runner.invoke(main, ["db", "downgrade", target, "--yes"], env=env)
    assert result.exit_code == 1
    assert message in result.output
    assert _columns(env["JOTAUTH_DATABASE_URL"]) >= NEWEST_COLUMNS


def test_downgrade_of_an_empty_database(env: dict[str, str]) -> None:
    """Nothing to undo on a database that was never migrated."""
    result = CliRunner().invoke(main, ["db", "downgrade", "--yes"], env=env)
    assert result.exit_code == 1
    assert "nothing to downgrade" in result.output


def test_opening_the_store_migrates_a_downgraded_database_again(env: dict[str, str]) -> None:
    """The server's own migration on open brings a downgraded database back to head."""
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"], env=env)
    runner.invoke(main, ["db", "downgrade", "--yes"], env=env)
    store = SQLStore.from_url(env["JOTAUTH_DATABASE_URL"])
    try:
        assert store.revision() == HEAD
        store.set_meta("k", "v", now=time.time())
        assert store.get_meta("k") == "v"
    finally:
        store.close()
