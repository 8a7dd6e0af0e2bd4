"""``jotauth token encode``: the builder's defaults, claim syntax and every error path."""

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth import jose
from jotauth.cli.main import main


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture(scope="module")
def key() -> jose.Key:
    return jose.Key.generate("EdDSA")


@pytest.fixture
def key_file(tmp_path: Path, key: jose.Key) -> Path:
    path = tmp_path / "key.jwk"
    path.write_text(json.dumps(key.to_jwk(private=True)))
    return path


def encode(key_file: Path, *args: str, input: str | None = None) -> tuple[dict, dict]:
    result = run("token", "encode", "--key", str(key_file), *args, input=input)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    return jose.peek_header(token), jose.peek_claims(token)


def test_defaults_iat_jti_and_15_minute_exp(key_file: Path, key: jose.Key) -> None:
    """A bare encode gives iat now, a random jti, exp 15 minutes later, typ JWT and the kid."""
    before = int(time.time())
    header, claims = encode(key_file)
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": key.kid}
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 900
    assert len(claims["jti"]) >= 16
    assert encode(key_file)[1]["jti"] != claims["jti"]


def test_output_is_only_the_token_and_it_verifies(key_file: Path, key: jose.Key) -> None:
    """stdout is one token line that the core verifies with the public key."""
    result = run("token", "encode", "--key", str(key_file), "--sub", "42")
    assert result.stdout.count("\n") == 1
    assert jose.decode(result.stdout.strip(), key.public())["sub"] == "42"


@pytest.mark.parametrize(("given", "seconds"), [("1h", 3600), ("7d", 604800), ("90s", 90)])
def test_exp_durations(key_file: Path, given: str, seconds: int) -> None:
    """--exp takes durations like 1h and 7d."""
    _, claims = encode(key_file, "--exp", given)
    assert claims["exp"] - claims["iat"] == seconds


def test_exp_none_and_no_iat_no_jti(key_file: Path) -> None:
    """--exp none, --no-iat and --no-jti leave those claims out."""
    _, claims = encode(key_file, "--exp", "none", "--no-iat", "--no-jti", "--sub", "1")
    assert claims == {"sub": "1"}


def test_bad_duration_is_a_usage_error(key_file: Path) -> None:
    """An --exp that is not a duration says what is accepted."""
    result = run("token", "encode", "--key", str(key_file), "--exp", "soon")
    assert result.exit_code == 2
    assert "15m, 1h, 7d" in result.output


def test_registered_claims_typ_and_audiences(key_file: Path) -> None:
    """--iss, --sub, repeated --aud (a list) and --typ at+jwt land where they belong."""
    header, claims = encode(
        key_file, "--iss", "https://auth", "--sub", "9", "--aud", "a", "--aud", "b", "--typ",
        "at+jwt",
    )  # fmt: skip
    assert header["typ"] == "at+jwt"
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("https://auth", "9", ["a", "b"])
    assert encode(key_file, "--aud", "only")[1]["aud"] == "only"


def test_claim_strings_and_json_values(key_file: Path) -> None:
    """name=value is a string (even if it looks like a number); name:=json is JSON."""
    _, claims = encode(
        key_file,
        "--claim", "scope=articles:read articles:create",
        "--claim", "n=5",
        "--claim", "roles:=[\"admin\"]",
        "--claim", "permissions:={\"articles\": [\"read\"]}",
        "--claim", "url=https://x/?a=b",
    )  # fmt: skip
    assert claims["scope"] == "articles:read articles:create"
    assert claims["n"] == "5"
    assert claims["roles"] == ["admin"]
    assert claims["permissions"] == {"articles": ["read"]}
    assert claims["url"] == "https://x/?a=b"


@pytest.mark.parametrize(
    ("pair", "message"),
    [("noequals", "use name=value"), ("=x", "claim name is empty"), ("n:=[1", "JSON value")],
)
def test_bad_claim_syntax(key_file: Path, pair: str, message: str) -> None:
    """A malformed --claim is a usage error saying what is wrong."""
    result = run("token", "encode", "--key", str(key_file), "--claim", pair)
    assert result.exit_code == 2
    assert message in result.output


def test_claims_json_file_and_stdin_with_options_winning(key_file: Path, tmp_path: Path) -> None:
    """--claims-json is the base; explicit options override it; its own exp is kept."""
    source = tmp_path / "c.json"
    source.write_text(json.dumps({"sub": "file", "exp": 4_000_000_000, "x": [1]}))
    _, claims = encode(key_file, "--claims-json", str(source), "--sub", "flag")
    assert (claims["sub"], claims["exp"], claims["x"]) == ("flag", 4_000_000_000, [1])
    _, piped = encode(key_file, "--claims-json", "-", input='{"role": "r"}')
    assert piped["role"] == "r"


@pytest.mark.parametrize(
    ("content", "message"), [("{nope", "not valid JSON"), ("[1, 2]", "must hold a JSON object")]
)
def test_bad_claims_file(key_file: Path, tmp_path: Path, content: str, message: str) -> None:
    """A claims file that is not a JSON object is refused with its name."""
    source = tmp_path / "c.json"
    source.write_text(content)
    result = run("token", "encode", "--key", str(key_file), "--claims-json", str(source))
    assert result.exit_code == 2
    assert message in result.output
    assert "c.json" in result.output


def test_non_json_claim_value_type_is_refused(key_file: Path, tmp_path: Path) -> None:
    """A date claim that is not a number stops the builder with the core's message."""
    result = run("token", "encode", "--key", str(key_file), "--claim", 'exp:="tomorrow"')
    assert result.exit_code == 1
    assert "cannot sign" in result.output
    assert "exp" in result.output


def test_pem_key_with_alg_and_kid(tmp_path: Path) -> None:
    """A PEM RSA key signs PS256 when asked, with the kid given on the command line."""
    rsa = jose.Key.generate("RS256", size=2048)
    pem = tmp_path / "rsa.pem"
    pem.write_bytes(rsa.to_pem(private=True))
    header, _ = encode(pem, "--alg", "PS256", "--kid", "r1")
    assert (header["alg"], header["kid"]) == ("PS256", "r1")


def test_jwk_kid_override(key_file: Path) -> None:
    """--kid replaces the kid stored in a JWK."""
    assert encode(key_file, "--kid", "other")[0]["kid"] == "other"


def test_raw_hmac_secret_needs_alg_and_strength(tmp_path: Path) -> None:
    """A raw secret file works with --alg HS256; a short one is refused as too weak."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    header, _ = encode(secret, "--alg", "HS256")
    assert header["alg"] == "HS256"
    short = tmp_path / "short"
    short.write_bytes(b"short")
    result = run("token", "encode", "--key", str(short), "--alg", "HS256")
    assert result.exit_code == 2
    assert "short" in result.output
    assert run("token", "encode", "--key", str(secret)).exit_code == 2


def test_alg_that_does_not_fit_the_key(key_file: Path) -> None:
    """An Ed25519 JWK cannot sign ES256."""
    result = run("token", "encode", "--key", str(key_file), "--alg", "ES256")
    assert result.exit_code == 2
    assert "ES256" in result.output


def test_public_key_cannot_sign(tmp_path: Path, key: jose.Key) -> None:
    """Giving the public JWK is a clear error, not a crash."""
    public = tmp_path / "pub.jwk"
    public.write_text(json.dumps(key.to_jwk()))
    result = run("token", "encode", "--key", str(public))
    assert result.exit_code == 2
    assert "holds a public key" in result.output


def test_jwks_file_with_exactly_one_private_key(tmp_path: Path, key: jose.Key) -> None:
    """A JWK Set works as a signing key file only if it holds one private key."""
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"keys": [key.to_jwk(private=True)]}))
    assert encode(one)[0]["kid"] == key.kid
    two = tmp_path / "two.json"
    other = jose.Key.generate("EdDSA")
    two.write_text(json.dumps({"keys": [key.to_jwk(True), other.to_jwk(True)]}))
    result = run("token", "encode", "--key", str(two))
    assert result.exit_code == 2
    assert "2 private keys" in result.output


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_text("hello"), "is not a JWK"),
        (lambda p: p.write_text("{broken"), "does not parse"),
        (lambda p: p.write_text('{"kty": "EC"}'), "unsupported EC curve"),
        (lambda p: p.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
         "could not load the PEM key"),
        (lambda p: p.write_bytes(b"x" * (1 << 20 | 1)), "over 1 MiB"),
    ],
)  # fmt: skip
def test_unreadable_or_invalid_key_files(tmp_path: Path, make, message: str) -> None:
    """Every kind of bad key file exits 2 with a message naming it, never its content."""
    path = tmp_path / "k"
    make(path)
    result = run("token", "encode", "--key", str(path))
    assert result.exit_code == 2
    assert message in result.output
    assert "'" + str(path) + "'" in result.output


def test_nan_claim_is_refused(key_file: Path) -> None:
    """JSON that is not interoperable (NaN) stops the builder instead of producing a bad token."""
    result = run("token", "encode", "--key", str(key_file), "--claim", "n:=NaN")
    assert result.exit_code == 1
    assert "cannot sign" in result.output


def test_encrypted_pem_takes_its_password_from_the_environment(tmp_path: Path) -> None:
    """JOTAUTH_KEY_PASSWORD unlocks an encrypted PEM; without it the error says it is encrypted."""
    key = jose.Key.generate("ES256")
    pem = tmp_path / "enc.pem"
    pem.write_bytes(key.to_pem(private=True, password=b"correct horse"))
    runner = CliRunner()
    locked = runner.invoke(
        main, ["token", "encode", "--key", str(pem)], env={"JOTAUTH_KEY_PASSWORD": None}
    )
    assert locked.exit_code == 2
    assert "encrypted" in locked.output
    wrong = runner.invoke(
        main, ["token", "encode", "--key", str(pem)], env={"JOTAUTH_KEY_PASSWORD": "nope"}
    )
    assert wrong.exit_code == 2
    assert "nope" not in wrong.output
    unlocked = runner.invoke(
        main, ["token", "encode", "--key", str(pem)], env={"JOTAUTH_KEY_PASSWORD": "correct horse"}
    )
    assert unlocked.exit_code == 0, unlocked.output
    assert jose.decode(unlocked.stdout.strip(), key.public())["exp"] > 0
