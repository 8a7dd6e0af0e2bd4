"""Every shipped migration goes down and up again, through jotauth and through plain ``alembic``.

Runs on SQLite and on PostgreSQL (a fresh schema per test, ``database_url`` in
tests/conftest.py). Plain ``alembic`` is the venv's own script with the repository's
``alembic.ini``, run in an empty folder, as a user would run it.
"""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from tests.migration_facts import ALL_TABLES

from jotauth.store.sql import SQLStore
from jotauth.store.sql.engine import make_engine
from jotauth.store.sql.migrate import (
    SCRIPT_LOCATION,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)

REPO = Path(__file__).resolve().parents[2]
ALEMBIC = str(Path(sys.executable).with_name("alembic"))


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return ScriptDirectory.from_config(config)


def _chain() -> list[str]:
    """Revision ids, oldest first."""
    scripts = _scripts()
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def _add_user(url: str) -> None:
    store = SQLStore.from_url(url, migrate_now=False)
    try:
        store.create_user(
            username="ann", username_key="ann", password_hash="$argon2id$x", now=time.time()
        )
    finally:
        store.close()


def _usernames(url: str) -> list[str]:
    store = SQLStore.from_url(url, migrate_now=False)
    try:
        return [user.username for user in store.list_users()]
    finally:
        store.close()


def _schema(url: str) -> dict[str, set[str]]:
    """Every jotauth table with its column names and its indexes (name and columns)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            return {
                table: {column["name"] for column in inspector.get_columns(table)}
                | {  # jotauth's named indexes (unique constraints differ by dialect)
                    f"index {index['name']} {index['column_names']}"
                    for index in inspector.get_indexes(table)
                    if str(index["name"]).startswith("ix_")
                }
                for table in inspector.get_table_names()
                if table != "alembic_version"
            }
    finally:
        engine.dispose()


def test_every_migration_downgrades_one_step_at_a_time(database_url: str, tmp_path: Path) -> None:
    """From head, each step down leaves exactly the schema that upgrading to that revision
    makes (tables, columns and indexes), down to no table at all."""
    chain = _chain()
    store = SQLStore.from_url(database_url)
    store.close()
    assert _tables(database_url) == ALL_TABLES
    engine = make_engine(database_url)
    try:
        for below in [*reversed(chain[:-1]), "base"]:
            downgrade(engine, below)
            assert current_revision(engine) == (None if below == "base" else below)
            if below == "base":
                assert _schema(database_url) == {}
                continue
            fresh = f"sqlite:///{tmp_path / f'fresh-{below}.db'}"
            fresh_engine = make_engine(fresh)
            try:
                upgrade(fresh_engine, below)
            finally:
                fresh_engine.dispose()
            assert _schema(database_url) == _schema(fresh), f"downgrade to {below}"
    finally:
        engine.dispose()
    store = SQLStore.from_url(database_url)
    store.close()
    assert _tables(database_url) == ALL_TABLES
    assert _revision(database_url) == head_revision()


def test_data_survives_down_and_up_of_the_last_revision(database_url: str) -> None:
    """Undoing and redoing the newest migration keeps the users and gives the same schema."""
    store = SQLStore.from_url(database_url)
    store.close()
    _add_user(database_url)
    schema = _schema(database_url)
    engine = make_engine(database_url)
    try:
        downgrade(engine, "-1")
    finally:
        engine.dispose()
    assert _revision(database_url) == _chain()[-2]
    assert _usernames(database_url) == ["ann"]
    store = SQLStore.from_url(database_url)
    store.close()
    assert _schema(database_url) == schema
    assert _usernames(database_url) == ["ann"]


def test_downgrading_past_the_meta_migration_drops_its_facts(database_url: str) -> None:
    """Below 0004 the jotauth_meta table and its facts are gone; the users stay."""
    store = SQLStore.from_url(database_url)
    store.set_meta("created_by", "test", now=1.0)
    store.close()
    _add_user(database_url)
    engine = make_engine(database_url)
    try:
        downgrade(engine, "0003")
    finally:
        engine.dispose()
    assert "jotauth_meta" not in _tables(database_url)
    store = SQLStore.from_url(database_url)
    try:
        assert store.get_meta("created_by") is None  # the fact went with its table
    finally:
        store.close()


def alembic(*args: str, cwd: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """The plain ``alembic`` command with the repository's alembic.ini, as a user runs it."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("JOTAUTH_")}
    if url is not None:
        env["JOTAUTH_DATABASE_URL"] = url
    return subprocess.run(
        [ALEMBIC, "-c", str(REPO / "alembic.ini"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_plain_alembic_upgrades_downgrades_and_upgrades(database_url: str, tmp_path: Path) -> None:
    """`alembic upgrade head`, `downgrade -1`, `upgrade head`, `downgrade base` all work.

    Before, env.py expected jotauth's connection and plain alembic died with KeyError.
    """
    up = alembic("upgrade", "head", cwd=tmp_path, url=database_url)
    assert up.returncode == 0, up.stderr
    assert _tables(database_url) == ALL_TABLES
    assert _revision(database_url) == head_revision()
    _add_user(database_url)
    one = alembic("downgrade", "-1", cwd=tmp_path, url=database_url)
    assert one.returncode == 0, one.stderr
    assert _revision(database_url) == _chain()[-2]
    assert _usernames(database_url) == ["ann"]
    again = alembic("upgrade", "head", cwd=tmp_path, url=database_url)
    assert again.returncode == 0, again.stderr
    assert _tables(database_url) == ALL_TABLES
    assert _usernames(database_url) == ["ann"]
    base = alembic("downgrade", "base", cwd=tmp_path, url=database_url)
    assert base.returncode == 0, base.stderr
    assert _tables(database_url) == set()
    assert _revision(database_url) is None


@pytest.mark.slow
def test_plain_alembic_takes_the_url_from_x_argument(tmp_path: Path) -> None:
    """`-x url=...` wins over JOTAUTH_DATABASE_URL, so one command can target any database."""
    chosen = tmp_path / "chosen.db"
    other = tmp_path / "other.db"
    result = alembic(
        "-x", f"url=sqlite:///{chosen}", "upgrade", "head", cwd=tmp_path, url=f"sqlite:///{other}"
    )
    assert result.returncode == 0, result.stderr
    assert _tables(f"sqlite:///{chosen}") == ALL_TABLES
    assert not other.exists()


@pytest.mark.slow
def test_plain_alembic_defaults_to_jotauth_db_in_the_current_folder(tmp_path: Path) -> None:
    """With no URL anywhere, plain alembic migrates ./jotauth.db, created owner-only."""
    result = alembic("upgrade", "head", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "jotauth.db"
    assert _tables(f"sqlite:///{database}") == ALL_TABLES
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


@pytest.mark.slow
def test_plain_alembic_prints_sql_offline(tmp_path: Path) -> None:
    """`alembic upgrade head --sql` prints PostgreSQL's DDL and connects to nothing (the URL
    names a port where no server listens). SQLite alters tables by copying them, which needs
    the live table, so its migrations run online only (docs/issuer.md)."""
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    result = alembic("-x", f"url={url}", "upgrade", "head", "--sql", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE jotauth_meta" in result.stdout
    assert "ALTER TABLE refresh_families ALTER COLUMN scope TYPE TEXT" in result.stdout
    assert not (tmp_path / "jotauth.db").exists()


@pytest.mark.parametrize("revision", _chain())
def test_each_revision_has_a_downgrade(revision: str) -> None:
    """No shipped migration leaves downgrade() empty (a `pass` would go down silently)."""
    script = _scripts().get_revision(revision)
    assert script is not None
    source = Path(script.path).read_text()
    body = source.split("def downgrade() -> None:", 1)[1]
    assert "op." in body
