"""``jotauth keygen``: a usable key, private part only in a 0600 file, public part printed."""

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth import jose
from jotauth.cli.main import main


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def test_default_is_eddsa_jwk_private_file_0600_and_public_printed(tmp_path: Path) -> None:
    """The default key is Ed25519; the file is private and stdout holds only the public JWK."""
    out = tmp_path / "key.jwk"
    result = run("keygen", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    private = json.loads(out.read_text())
    public = json.loads(result.stdout)
    assert private["crv"] == "Ed25519"
    assert "d" in private
    assert "d" not in public
    assert public["x"] == private["x"]
    assert public["kid"] == private["kid"] == jose.Key.from_jwk(public).thumbprint()
    assert private["d"] not in result.output


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES384", "ES512", "RS256", "PS256", "HS256"])
def test_every_family_round_trips_through_encode_and_verify(tmp_path: Path, alg: str) -> None:
    """A generated key signs a token that the same key file verifies."""
    out = tmp_path / "k.jwk"
    extra = ["--size", "2048"] if alg[:2] in ("RS", "PS") else []
    assert run("keygen", "--alg", alg, "--out", str(out), *extra).exit_code == 0
    token = run("token", "encode", "--key", str(out), "--sub", "7").stdout.strip()
    assert jose.peek_header(token)["alg"] == alg
    result = run("token", "verify", token, "--key", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sub"] == "7"


def test_pem_format_writes_pkcs8_and_prints_spki(tmp_path: Path) -> None:
    """--format pem writes a PKCS#8 private key and prints the SPKI public key."""
    out = tmp_path / "k.pem"
    result = run("keygen", "--alg", "ES256", "--format", "pem", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert result.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in result.stdout
    assert jose.Key.from_pem(result.stdout).alg == "ES256"


def test_pem_with_custom_kid_warns_that_pem_cannot_keep_it(tmp_path: Path) -> None:
    """A kid is not part of PEM, so the user is told to pass it again."""
    result = run("keygen", "--format", "pem", "--kid", "k1", "--out", str(tmp_path / "k.pem"))
    assert result.exit_code == 0
    assert "PEM does not store the kid" in result.stderr


def test_hmac_has_no_public_part_and_no_pem(tmp_path: Path) -> None:
    """HS256 prints no public key (there is none) and refuses PEM."""
    result = run("keygen", "--alg", "HS256", "--out", str(tmp_path / "s.jwk"))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no public part" in result.stderr
    assert json.loads((tmp_path / "s.jwk").read_text())["kty"] == "oct"
    bad = run("keygen", "--alg", "HS256", "--format", "pem", "--out", str(tmp_path / "s.pem"))
    assert bad.exit_code == 2
    assert "no PEM form" in bad.output
    assert not (tmp_path / "s.pem").exists()


def test_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    """keygen never silently replaces a key; --force does, and keeps mode 0600."""
    out = tmp_path / "k.jwk"
    out.write_text("precious")
    out.chmod(0o644)
    result = run("keygen", "--out", str(out))
    assert result.exit_code == 1
    assert "exists" in result.output
    assert out.read_text() == "precious"
    assert run("keygen", "--out", str(out), "--force").exit_code == 0
    assert "d" in json.loads(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_out_dash_prints_private_key_only_when_asked(tmp_path: Path) -> None:
    """``--out -`` is the explicit request to print private material."""
    result = run("keygen", "--out", "-")
    assert result.exit_code == 0
    assert "d" in json.loads(result.stdout)


def test_out_is_required_so_private_material_is_never_printed_by_default() -> None:
    """Without --out there is no key anywhere: a usage error, nothing printed."""
    result = run("keygen")
    assert result.exit_code == 2
    assert "--out" in result.output
    assert '"d"' not in result.output


def test_ed448_and_kid(tmp_path: Path) -> None:
    """--crv Ed448 and --kid are honoured."""
    out = tmp_path / "k.jwk"
    result = run("keygen", "--crv", "Ed448", "--kid", "edge", "--out", str(out))
    assert result.exit_code == 0
    public = json.loads(result.stdout)
    assert (public["crv"], public["kid"]) == ("Ed448", "edge")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alg", "ES256", "--crv", "Ed448"], "--crv applies to --alg EdDSA only"),
        (["--alg", "EdDSA", "--size", "2048"], "--size applies to RSA"),
        (["--alg", "RS256", "--size", "1024"], "1024"),
        (["--alg", "none"], "none"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    """Options that do not fit the algorithm are refused before anything is written."""
    out = tmp_path / "k"
    result = run("keygen", *args, "--out", str(out))
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_unwritable_destination_is_a_clear_error(tmp_path: Path) -> None:
    """A directory that does not exist gives a message naming the file."""
    target = tmp_path / "missing" / "k.jwk"
    result = run("keygen", "--out", str(target))
    assert result.exit_code == 1
    assert "cannot write" in result.output
    assert "k.jwk" in result.output
