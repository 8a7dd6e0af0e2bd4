"""``jotauth serve`` start-up checks (the running server is tested in tests/issuer)."""

from pathlib import Path

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
