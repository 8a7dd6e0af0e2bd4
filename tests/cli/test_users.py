"""``jotauth user add|list|disable|enable|import``."""

import base64
import json
from pathlib import Path

import bcrypt
import pytest
from click.testing import CliRunner

from jotauth.cli.main import main
from jotauth.store import open_store


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "JOTAUTH_MASTER_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
        "JOTAUTH_ARGON2_MEMORY_COST": "64",
        "JOTAUTH_ARGON2_TIME_COST": "1",
    }


def test_add_list_disable_enable(env: dict[str, str]) -> None:
    """A user added with roles and permissions is listed, disabled and enabled again."""
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["user", "add", "ann", "--role", "editor", "--permission", "articles:read"],
        input="secret-password\nsecret-password\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "created user ann" in added.output
    listed = runner.invoke(main, ["user", "list"], env=env)
    assert "ann" in listed.output
    assert "editor" in listed.output
    assert runner.invoke(main, ["user", "disable", "ann"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(main, ["user", "list"], env=env).output
    assert runner.invoke(main, ["user", "enable", "ann"], env=env).exit_code == 0
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    user = store.find_user("ann")
    assert user is not None
    assert user.permissions == {"articles": ["read"]}
    assert user.not_before > 0
    store.close()


def test_add_refuses_bad_input(env: dict[str, str]) -> None:
    """A short password, a duplicate or a bad permission is exit 1 or 2, with a message."""
    runner = CliRunner()
    short = runner.invoke(main, ["user", "add", "bob", "--password", "short"], env=env)
    assert short.exit_code == 1
    assert "password" in short.output
    runner.invoke(main, ["user", "add", "bob", "--password", "long-enough"], env=env)
    dup = runner.invoke(main, ["user", "add", "bob", "--password", "long-enough"], env=env)
    assert dup.exit_code == 1
    assert "taken" in dup.output
    bad = runner.invoke(
        main, ["user", "add", "cy", "--password", "long-enough", "--permission", "x"], env=env
    )
    assert bad.exit_code == 2


def test_disable_unknown_user(env: dict[str, str]) -> None:
    """Disabling a user who does not exist is exit 1."""
    result = CliRunner().invoke(main, ["user", "disable", "ghost"], env=env)
    assert result.exit_code == 1
    assert "no user named" in result.output


def test_import_with_existing_hashes(env: dict[str, str], tmp_path: Path) -> None:
    """JSON and CSV files with bcrypt hashes import; bad rows are skipped and reported."""
    hashed = bcrypt.hashpw(b"password123", bcrypt.gensalt(rounds=4)).decode()
    data = tmp_path / "users.json"
    data.write_text(
        json.dumps(
            [
                {"username": "john", "password_hash": hashed, "roles": ["user"],
                 "permissions": {"articles": ["read"]}},
                {"username": "nohash"},
                {"username": "weird", "password_hash": "plaintext"},
            ]
        )
    )  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(main, ["user", "import", str(data)], env=env)
    assert result.exit_code == 1
    assert "imported 1 user(s), skipped 2" in result.output
    csv_file = tmp_path / "users.csv"
    csv_file.write_text(f"username,password_hash,roles\nmary,{hashed},admin user\n")
    ok = runner.invoke(main, ["user", "import", str(csv_file)], env=env)
    assert ok.exit_code == 0, ok.output
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    john = store.find_user("john")
    mary = store.find_user("mary")
    assert john is not None
    assert john.password_hash == hashed
    assert mary is not None
    assert mary.roles == ["admin", "user"]
    store.close()


def test_import_unreadable_file(env: dict[str, str], tmp_path: Path) -> None:
    """A file that is not JSON is exit 1 naming the file."""
    bad = tmp_path / "users.json"
    bad.write_text("[not json")
    result = CliRunner().invoke(main, ["user", "import", str(bad)], env=env)
    assert result.exit_code == 1
    assert "cannot read" in result.output
