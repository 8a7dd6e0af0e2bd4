"""``jotauth serve`` start-up checks (the running server is tested in tests/issuer)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth.cli.main import main


def test_production_refuses_without_master_key(tmp_path: Path) -> None:
    """Outside demo/dev, serve exits 1 and explains how to make a master key."""
    result = CliRunner().invoke(
        main,
        ["serve", "--port", "1"],
        env={
            "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "JOTAUTH_MODE": "",
            "JOTAUTH_MASTER_KEY": "",
        },
    )
    assert result.exit_code == 1
    assert "jotauth keys master" in result.output
    assert not (tmp_path / "jotauth-master.key").exists()


def test_weak_master_key_is_refused(tmp_path: Path) -> None:
    """A master key that is not 32 random bytes is refused."""
    result = CliRunner().invoke(
        main,
        ["serve"],
        env={
            "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "JOTAUTH_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        },
    )
    assert result.exit_code == 1
    assert "32 random bytes" in result.output


def test_bad_setting_is_refused(tmp_path: Path) -> None:
    """A malformed JOTAUTH_ variable names itself."""
    result = CliRunner().invoke(main, ["serve", "--demo"], env={"JOTAUTH_ACCESS_TTL": "soon"})
    assert result.exit_code == 1
    assert "JOTAUTH_ACCESS_TTL" in result.output


def test_start_up_line_hides_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The "is migrated" line goes to logs: a PostgreSQL URL's password must not."""
    import base64
    import secrets
    import types

    import uvicorn

    from jotauth.cli import serve as serve_module

    fake = types.SimpleNamespace(
        ring=types.SimpleNamespace(list=list), store=types.SimpleNamespace(close=lambda: None)
    )
    monkeypatch.setattr(serve_module, "build_runtime", lambda settings, **_: fake)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    for name in ("JOTAUTH_MODE", "JOTAUTH_ISSUER", "JOTAUTH_MASTER_KEY"):
        monkeypatch.setenv(name, "")  # recorded, so what serve writes there is undone afterwards
        monkeypatch.delenv(name)
    master = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    result = CliRunner().invoke(
        main,
        ["serve"],
        env={
            "JOTAUTH_DATABASE_URL": "postgresql+psycopg://jot:s3cret-db-pw@127.0.0.1:5432/jot",
            "JOTAUTH_MASTER_KEY": master,
        },
    )
    assert result.exit_code == 0, result.output
    assert "is migrated" in result.output
    assert "s3cret-db-pw" not in result.output


@pytest.mark.parametrize(
    ("issuer_line", "expected"),
    [
        ("JOTAUTH_ISSUER=https://auth.example\n", "https://auth.example"),
        ("JOTAUTH_ISSUER=\n", "http://127.0.0.1:8123"),  # empty is unset: where serve listens
        ("", "http://127.0.0.1:8123"),
    ],
)
def test_serve_keeps_an_issuer_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, issuer_line: str, expected: str
) -> None:
    """An issuer set anywhere (environment or JOTAUTH_CONFIG_FILE) wins over the listening
    address; before, only the environment counted and the file's issuer was replaced."""
    import base64
    import os
    import secrets
    import types

    import uvicorn

    from jotauth.cli import serve as serve_module

    seen: list[str] = []
    fake = types.SimpleNamespace(
        ring=types.SimpleNamespace(list=list), store=types.SimpleNamespace(close=lambda: None)
    )

    def build(settings: object, **_: object) -> object:
        seen.append(getattr(settings, "issuer", ""))
        return fake

    monkeypatch.setattr(serve_module, "build_runtime", build)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    for name in ("JOTAUTH_MODE", "JOTAUTH_ISSUER", "JOTAUTH_MASTER_KEY"):
        monkeypatch.setenv(name, "")  # recorded, so what serve writes there is undone afterwards
        monkeypatch.delenv(name)
    master = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    config = tmp_path / "jotauth.env"
    config.write_text(f"{issuer_line}JOTAUTH_MASTER_KEY={master}\n")
    result = CliRunner().invoke(
        main,
        ["serve", "--port", "8123"],
        env={
            "JOTAUTH_CONFIG_FILE": str(config),
            "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        },
    )
    assert result.exit_code == 0, result.output
    assert seen == [expected]
    assert os.environ["JOTAUTH_ISSUER"] == expected  # what the workers are handed
