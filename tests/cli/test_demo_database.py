"""The management commands beside a ``jotauth serve --demo`` server need no variables.

``serve --demo`` marks a database it created; the CLI then uses demo mode (and the master key
file beside the database) when nothing is configured, and says so on stderr. A production
database, an explicit JOTAUTH_MODE or a missing key file keep the strict behaviour.
"""

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from tests.serve_process import CHEAP_ARGON2, jotauth_executable, running_serve

from jotauth.cli.main import main
from jotauth.issuer.bootstrap import MASTER_FILE, demo_key_file
from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore

NOTE = "jotauth: demo mode: this database was created by `jotauth serve --demo`"
MASTER = base64.urlsafe_b64encode(bytes(range(32))).decode()


def _clean_env(**values: str) -> dict[str, str | None]:
    """Nothing of the developer's JOTAUTH_* settings; CliRunner restores what serve writes."""
    names = ("DATABASE_URL", "MODE", "MASTER_KEY", "ISSUER", "CONFIG_FILE", "SIGNING_ALG")
    env: dict[str, str | None] = {f"JOTAUTH_{name}": None for name in names}
    env.update(CHEAP_ARGON2)
    env.update(values)
    return env


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the current directory; uvicorn.run returns at once."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    return tmp_path


def _serve(*args: str, **env: str) -> None:
    result = CliRunner().invoke(main, ["serve", *args], env=_clean_env(**env))
    assert result.exit_code == 0, result.output


@pytest.fixture
def demo(folder: Path) -> Path:
    """The folder after `jotauth serve --demo` ran in it once."""
    _serve("--demo")
    return folder


def test_user_and_keys_commands_work_beside_a_demo_server(demo: Path) -> None:
    """`user list`, `user add` and `keys list` need no variable; one stderr line says why.

    Before, each failed with "JOTAUTH_MASTER_KEY is not set" unless JOTAUTH_MODE=demo was set.
    """
    runner = CliRunner()
    listed = runner.invoke(main, ["user", "list"], env=_clean_env())
    assert listed.exit_code == 0, listed.output
    assert "john" in listed.stdout
    assert "admin" in listed.stdout
    assert listed.stderr.count("\n") == 1
    assert listed.stderr.startswith(NOTE)
    added = runner.invoke(
        main, ["user", "add", "mia", "--password", "long-enough-pw"], env=_clean_env()
    )
    assert added.exit_code == 0, added.output
    keys = runner.invoke(main, ["keys", "list"], env=_clean_env())
    assert keys.exit_code == 0, keys.output
    assert "active" in keys.stdout
    assert NOTE in keys.stderr


def test_production_database_still_needs_the_master_key(folder: Path) -> None:
    """A database `serve` made in production mode is never treated as a demo one."""
    _serve(JOTAUTH_MASTER_KEY=MASTER)
    (folder / MASTER_FILE).write_text(MASTER + "\n")  # even with a key file lying beside it
    result = CliRunner().invoke(main, ["user", "list"], env=_clean_env())
    assert result.exit_code == 1
    assert "JOTAUTH_MASTER_KEY is not set" in result.output
    assert NOTE not in result.output


def test_demo_start_on_an_existing_database_does_not_mark_it(folder: Path) -> None:
    """`serve --demo` over a database made in production mode leaves it a production one."""
    _serve(JOTAUTH_MASTER_KEY=MASTER)
    _serve("--demo", JOTAUTH_MASTER_KEY=MASTER)
    settings = Settings(database_url="sqlite:///./jotauth.db")
    assert demo_key_file(settings) is None
    result = CliRunner().invoke(main, ["user", "list"], env=_clean_env())
    assert result.exit_code == 1
    assert "JOTAUTH_MASTER_KEY is not set" in result.output


def test_explicit_production_mode_wins(demo: Path) -> None:
    """JOTAUTH_MODE=production beside a demo database still asks for the master key."""
    result = CliRunner().invoke(main, ["user", "list"], env=_clean_env(JOTAUTH_MODE="production"))
    assert result.exit_code == 1
    assert "JOTAUTH_MASTER_KEY is not set" in result.output


def test_missing_key_file_is_not_replaced(demo: Path) -> None:
    """Without the demo key file the CLI refuses, and does not make a new key file."""
    (demo / MASTER_FILE).unlink()
    result = CliRunner().invoke(main, ["user", "list"], env=_clean_env())
    assert result.exit_code == 1
    assert "JOTAUTH_MASTER_KEY is not set" in result.output
    assert not (demo / MASTER_FILE).exists()


def test_demo_database_named_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A demo database elsewhere (JOTAUTH_DATABASE_URL) is recognized the same way."""
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    url = f"sqlite:///{tmp_path / 'sub' / 'demo.db'}"
    _serve("--demo", JOTAUTH_DATABASE_URL=url)
    result = CliRunner().invoke(main, ["user", "list"], env=_clean_env(JOTAUTH_DATABASE_URL=url))
    assert result.exit_code == 0, result.output
    assert "john" in result.stdout
    assert (tmp_path / "sub" / MASTER_FILE).exists()


def test_db_downgrade_removes_the_demo_mark(demo: Path) -> None:
    """Downgrading past the mark's table (0004) makes the database a production one again."""
    runner = CliRunner()
    down = runner.invoke(main, ["db", "downgrade", "0003", "--yes"], env=_clean_env())
    assert down.exit_code == 0, down.output
    result = runner.invoke(main, ["user", "list"], env=_clean_env())
    assert result.exit_code == 1
    assert "JOTAUTH_MASTER_KEY is not set" in result.output


def test_set_password_of_the_demo_admin(demo: Path) -> None:
    """The admin password printed once can be replaced from the CLI beside the server."""
    result = CliRunner().invoke(
        main,
        ["user", "set-password", "admin", "--password-stdin"],
        env=_clean_env(),
        input="a-new-admin-password\n",
    )
    assert result.exit_code == 0, result.output
    store = SQLStore.from_url("sqlite:///./jotauth.db")
    try:
        admin = store.find_user_any(["admin"])
        assert admin is not None
        assert admin.not_before > 0
    finally:
        store.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A real `jotauth serve --demo` process in tmp_path."""
    with running_serve(tmp_path, "--demo", env=CHEAP_ARGON2) as server:
        yield server.base


def _jotauth(folder: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("JOTAUTH_")}
    return subprocess.run(
        [jotauth_executable(), *args],
        cwd=folder,
        env={**env, **CHEAP_ARGON2},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_newcomer_manages_a_running_demo_server(served: str, tmp_path: Path) -> None:
    """Beside `scripts/serve`: list users, reset the admin's password, log in with it."""
    listed = _jotauth(tmp_path, "user", "list")
    assert listed.returncode == 0, listed.stderr
    assert "admin" in listed.stdout
    assert listed.stderr.strip().startswith(NOTE)
    reset = _jotauth(
        tmp_path, "user", "set-password", "admin", "--password-stdin", stdin="fresh-admin-pw\n"
    )
    assert reset.returncode == 0, reset.stderr
    login = httpx.post(
        served + "/login", json={"username": "admin", "password": "fresh-admin-pw"}, timeout=10
    )
    assert login.status_code == 200, login.text
