"""``jotauth audit``: the audit trail from the configured database, filtered, table or JSON."""

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth.cli.main import main
from jotauth.store import open_store

NOW = time.time()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database with a few audit events, configured via JOTAUTH_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_store(url)
    rows = [
        ("login_succeeded", "success", "1", "john", NOW - 300, {}),
        ("login_failed", "failure", None, "mallory", NOW - 200, {"reason": "invalid_credentials"}),
        ("login_failed", "failure", "1", "john", NOW - 100, {"password": "leaked-by-mistake"}),
        ("key_revoked", "success", "2", "admin", NOW - 50, {"kid": "k-1"}),
    ]
    for type_, outcome, user_id, username, at, detail in rows:
        store.add_audit_event(
            type=type_,
            outcome=outcome,
            user_id=user_id,
            username=username,
            ip="192.0.2.1",
            user_agent="curl/8",
            detail=detail,
            at=at,
        )
    store.close()
    monkeypatch.setenv("JOTAUTH_DATABASE_URL", url)
    monkeypatch.delenv("JOTAUTH_CONFIG_FILE", raising=False)
    return url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", *args])
    return result.exit_code, result.output


def test_lists_newest_first_as_a_table(database: str) -> None:
    """Without filters every event shows, newest first, with a header."""
    code, out = run()
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["time", "(UTC)", "event"]
    events = [line.split()[1] for line in lines[1:]]
    assert events == ["key_revoked", "login_failed", "login_failed", "login_succeeded"]


def test_filters_combine(database: str) -> None:
    """--type, --user, --outcome and --limit narrow the result together."""
    code, out = run("--type", "login_failed", "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["username"] for e in events] == ["john", "mallory"]
    _, out = run("--type", "login_failed", "--user", "1", "--json")
    assert [json.loads(line)["username"] for line in out.splitlines()] == ["john"]
    _, out = run("--outcome", "success", "--limit", "1", "--json")
    assert [json.loads(line)["type"] for line in out.splitlines()] == ["key_revoked"]


def test_time_window(database: str) -> None:
    """--since/--until take ISO 8601 or Unix seconds."""
    _, out = run("--since", str(int(NOW - 150)), "--json")
    assert [json.loads(line)["type"] for line in out.splitlines()] == [
        "key_revoked",
        "login_failed",
    ]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 250))
    _, out = run("--until", iso, "--json")
    assert [json.loads(line)["type"] for line in out.splitlines()] == ["login_succeeded"]


def test_json_output_is_scrubbed(database: str) -> None:
    """A secret stored by mistake in a detail never reaches the terminal."""
    code, out = run("--json")
    assert code == 0
    assert "leaked-by-mistake" not in out
    event = json.loads(out.splitlines()[1])
    assert event["detail"] == {"password": "[redacted]"}
    assert event["ip"] == "192.0.2.1"
    assert event["user_agent"] == "curl/8"


def test_no_match_says_so(database: str) -> None:
    """An empty result is a message on stderr and exit 0."""
    code, out = run("--type", "admin_action")
    assert code == 0
    assert "no audit events match" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "ISO 8601"),
        (["--since", "2030-01-01", "--until", "2020-01-01"], "after --until"),
        (["--limit", "0"], "--limit"),
        (["--type", "nonsense"], "--type"),
        (["--outcome", "maybe"], "--outcome"),
    ],
)
def test_bad_filters_are_clear_errors(database: str, args: list[str], message: str) -> None:
    """Bad input exits 2 with a message naming the option."""
    code, out = run(*args)
    assert code == 2
    assert message in out


def test_missing_database_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pointing at a database that does not exist says so, and creates nothing."""
    path = tmp_path / "nope.db"
    monkeypatch.setenv("JOTAUTH_DATABASE_URL", f"sqlite:///{path}")
    code, out = run()
    assert code == 1
    assert "no database at" in out
    assert not path.exists()


def test_unmigrated_database_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty database file gets advice to migrate, not a traceback."""
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    monkeypatch.setenv("JOTAUTH_DATABASE_URL", f"sqlite:///{path}")
    code, out = run()
    assert code == 1
    assert "jotauth db upgrade" in out
