"""``jotauth user add|list|set-password|disable|enable|import``."""

import base64
import json
from pathlib import Path

import anyio
import bcrypt
import pytest
from click.testing import CliRunner

from jotauth.cli.main import main
from jotauth.issuer.errors import InvalidGrantError
from jotauth.issuer.runtime import build_runtime
from jotauth.issuer.services.auth import Client
from jotauth.issuer.settings import Settings
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
    user = store.find_user_any(["ann"])
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
    john = store.find_user_any(["john"])
    mary = store.find_user_any(["mary"])
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


def _add(env: dict[str, str], name: str, password: str) -> None:
    result = CliRunner().invoke(main, ["user", "add", name, "--password", password], env=env)
    assert result.exit_code == 0, result.output


def test_set_password_asks_twice_hidden_and_ends_every_session(env: dict[str, str]) -> None:
    """The new password works, the old one does not, and a session from before is revoked."""
    _add(env, "ann", "old-password-1")
    settings = Settings.from_env(env)
    runtime = build_runtime(settings)
    web = Client(ip="127.0.0.1", user_agent="test")
    try:
        pair = anyio.run(lambda: runtime.auth.login("ann", "old-password-1", web))
        result = CliRunner().invoke(
            main,
            ["user", "set-password", "ann"],
            input="new-password-22\nnew-password-22\n",
            env=env,
        )
        assert result.exit_code == 0, result.output
        assert "new-password-22" not in result.output  # hidden input is not echoed
        assert result.output.count("assword") >= 2  # asked, then asked to repeat
        assert "every session and token of theirs is revoked" in result.output
        with pytest.raises(InvalidGrantError):
            anyio.run(lambda: runtime.auth.refresh(pair.refresh_token, web))
        with pytest.raises(InvalidGrantError):
            anyio.run(lambda: runtime.auth.check_password("ann", "old-password-1", web))
        user = anyio.run(lambda: runtime.auth.check_password("ann", "new-password-22", web))
        assert user.not_before > pair.claims["iat"]
        events = runtime.store.list_audit_events(user_id=user.sub, limit=10)
    finally:
        runtime.store.close()
    changed = [e for e in events if e.type == "password_changed" and e.outcome == "success"]
    assert changed
    assert changed[0].detail == {"by": "cli"}
    assert any(e.type == "admin_action" and e.detail["action"] == "set_password" for e in events)


def test_set_password_from_stdin(env: dict[str, str]) -> None:
    """--password-stdin reads one line (for scripts), without a prompt."""
    _add(env, "bo", "old-password-1")
    result = CliRunner().invoke(
        main, ["user", "set-password", "BO", "--password-stdin"], input="from-a-pipe-99\n", env=env
    )
    assert result.exit_code == 0, result.output
    assert "password of bo set" in result.output
    settings = Settings.from_env(env)
    runtime = build_runtime(settings)
    try:
        anyio.run(lambda: runtime.auth.check_password("bo", "from-a-pipe-99", Client()))
    finally:
        runtime.store.close()


def test_set_password_refuses_a_short_password_and_keeps_the_old(env: dict[str, str]) -> None:
    """The server's password policy applies; a refused password changes nothing."""
    _add(env, "cy", "old-password-1")
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    before = store.find_user_any(["cy"])
    store.close()
    result = CliRunner().invoke(
        main, ["user", "set-password", "cy", "--password-stdin"], input="short\n", env=env
    )
    assert result.exit_code == 1
    assert "password must be 8 to 1024 characters" in result.output
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    after = store.find_user_any(["cy"])
    store.close()
    assert before is not None
    assert after == before


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_set_password_stdin_needs_a_password(env: dict[str, str], stdin: str) -> None:
    """Empty standard input is refused, not taken as an empty password."""
    _add(env, "dee", "old-password-1")
    result = CliRunner().invoke(
        main, ["user", "set-password", "dee", "--password-stdin"], input=stdin, env=env
    )
    assert result.exit_code == 1
    assert "no password on standard input" in result.output


def test_set_password_of_an_unknown_user(env: dict[str, str]) -> None:
    """An unknown username is exit 1 before any password is asked."""
    result = CliRunner().invoke(main, ["user", "set-password", "ghost"], env=env, input="")
    assert result.exit_code == 1
    assert "no user named 'ghost'" in result.output
    assert "assword" not in result.output


def test_set_password_takes_no_password_argument(env: dict[str, str]) -> None:
    """There is no --password option: a password on the command line would leak to ps."""
    _add(env, "eve", "old-password-1")
    result = CliRunner().invoke(
        main, ["user", "set-password", "eve", "--password", "visible-in-ps"], env=env
    )
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_list_pages_by_id(env: dict[str, str]) -> None:
    """A full page ends with the command for the next; --after starts past an id."""
    runner = CliRunner()
    for name in ("ann", "bob", "cid"):
        result = runner.invoke(main, ["user", "add", name, "--password", "password123"], env=env)
        assert result.exit_code == 0, result.output
    first = runner.invoke(main, ["user", "list", "--limit", "2"], env=env)
    assert "ann" in first.output
    assert "bob" in first.output
    assert "cid" not in first.output
    assert "more: jotauth user list --limit 2 --after 2" in first.output
    rest = runner.invoke(main, ["user", "list", "--limit", "2", "--after", "2"], env=env)
    assert "cid" in rest.output
    assert "ann" not in rest.output
    assert "more:" not in rest.output
