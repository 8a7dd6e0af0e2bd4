"""``jotauth token decode`` and ``verify`` on encrypted tokens (JWE, nested JWTs)."""

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jotauth import jose
from jotauth.cli.main import main
from jotauth.jose import jwe


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture(scope="module")
def signer() -> jose.Key:
    return jose.Key.generate("EdDSA", kid="sig-1")


@pytest.fixture(scope="module")
def recipient() -> jose.Key:
    return jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="enc-1")


@pytest.fixture
def files(tmp_path: Path, signer: jose.Key, recipient: jose.Key) -> dict[str, str]:
    """Key files as an operator has them: the private JWE key, the issuer's public key."""
    paths = {
        "enc": (tmp_path / "enc.jwk", recipient.to_jwk(private=True)),
        "enc_public": (tmp_path / "enc-public.jwk", recipient.public().to_jwk()),
        "sig_public": (tmp_path / "sig.jwk", signer.public().to_jwk()),
        "other_enc": (
            tmp_path / "other.jwk",
            jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="enc-1").to_jwk(private=True),
        ),
    }
    for path, jwk in paths.values():
        path.write_text(json.dumps(jwk))
    return {name: str(path) for name, (path, _) in paths.items()}


def nested(signer: jose.Key, recipient: jose.Key, **claims: object) -> str:
    body = {"sub": "42", "iss": "https://auth.test", "exp": int(time.time()) + 600, **claims}
    return jose.encode(body, signer, headers={"typ": "at+jwt"}, encrypt_to=recipient.public())


def test_decode_shows_the_jwe_header_and_says_it_is_encrypted(
    signer: jose.Key, recipient: jose.Key
) -> None:
    """Without a key: the protected header, the parts, and that the claims are unreadable."""
    result = run("token", "decode", nested(signer, recipient, salary=90000))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("NOT VERIFIED")
    assert "Encrypted (JWE), not decrypted" in out
    assert '"alg": "ECDH-ES+A256KW"' in out
    assert '"enc": "A256GCM"' in out
    assert '"kid": "enc-1"' in out
    assert '"cty": "JWT"' in out
    assert "ciphertext" in out
    assert "--key FILE" in out
    assert "90000" not in out
    assert "Claims" not in out


def test_decode_with_key_shows_the_inner_token_not_verified(
    signer: jose.Key, recipient: jose.Key, files: dict[str, str]
) -> None:
    """--key decrypts: the inner JWS's header and claims appear, still marked NOT VERIFIED."""
    token = nested(signer, recipient, salary=90000)
    result = run("token", "decode", "--key", files["enc"], token)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("NOT VERIFIED")
    assert "decrypted with the given key" in out
    assert "Inner JWS header" in out
    assert '"kid": "sig-1"' in out
    assert '"typ": "at+jwt"' in out
    assert '"salary": 90000' in out
    as_json = json.loads(run("token", "decode", "--json", "--key", files["enc"], token).output)
    assert as_json["verified"] is False
    assert as_json["encrypted"]["decrypted"] is True
    assert as_json["encrypted"]["header"]["alg"] == "ECDH-ES+A256KW"
    assert as_json["header"]["alg"] == "EdDSA"
    assert as_json["claims"]["salary"] == 90000


def test_decode_json_without_key_and_plain_content(
    recipient: jose.Key, files: dict[str, str]
) -> None:
    """--json marks an undecrypted JWE; a JWE of plain text shows the text."""
    token = jwe.encrypt("hello there", recipient.public(), headers={"cty": "text/plain"})
    as_json = json.loads(run("token", "decode", "--json", token).output)
    assert as_json["header"] is None
    assert as_json["claims"] is None
    assert as_json["encrypted"]["decrypted"] is False
    assert set(as_json["encrypted"]["parts"]) == {
        "protected", "encrypted_key", "iv", "ciphertext", "tag"
    }  # fmt: skip
    result = run("token", "decode", "--key", files["enc"], token)
    assert result.exit_code == 0, result.output
    assert "Plaintext" in result.output
    assert "hello there" in result.output


@pytest.mark.parametrize(
    ("key_name", "code", "message"),
    [
        ("other_enc", 1, "decryption failed"),
        ("enc_public", 2, "decrypting needs the private key"),
        ("sig_public", 2, "holds a public key"),
    ],
)
def test_decode_with_a_wrong_key_says_why(
    signer: jose.Key, recipient: jose.Key, files: dict[str, str], key_name: str, code: int,
    message: str,
) -> None:  # fmt: skip
    """Another private key: exit 1 "decryption failed"; a public key: exit 2, it is public."""
    result = run("token", "decode", "--key", files[key_name], nested(signer, recipient))
    assert result.exit_code == code
    assert message in result.output


def test_verify_decrypts_then_verifies(
    signer: jose.Key, recipient: jose.Key, files: dict[str, str]
) -> None:
    """--decrypt-key: VALID names the signature and the encryption, and prints the claims."""
    token = nested(signer, recipient)
    result = run(
        "token", "verify", "--key", files["sig_public"], "--decrypt-key", files["enc"],
        "--iss", "https://auth.test", "--typ", "at+jwt", token,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "VALID: EdDSA signature by kid sig-1, encrypted with ECDH-ES+A256KW/A256GCM" in (
        result.output
    )
    assert '"sub": "42"' in result.output


def test_verify_refuses_what_it_must(
    signer: jose.Key, recipient: jose.Key, files: dict[str, str]
) -> None:
    """No --decrypt-key for a JWE: a usage error saying so; the wrong key: decryption failed;
    a plain JWS with --decrypt-key: refused, the point of encryption is that it is required;
    a token signed by someone else inside: bad signature or no key, as for any token."""
    token = nested(signer, recipient)
    result = run("token", "verify", "--key", files["sig_public"], token)
    assert result.exit_code == 2
    assert "--decrypt-key" in result.output
    result = run(
        "token", "verify", "--key", files["sig_public"], "--decrypt-key", files["other_enc"],
        token,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "decryption_failed" in result.output
    plain = jose.encode({"sub": "1", "exp": int(time.time()) + 60}, signer)
    result = run(
        "token", "verify", "--key", files["sig_public"], "--decrypt-key", files["enc"], plain
    )
    assert result.exit_code == 1
    assert "only encrypted tokens" in result.output
    forged = nested(jose.Key.generate("EdDSA", kid="sig-1"), recipient)
    result = run(
        "token", "verify", "--key", files["sig_public"], "--decrypt-key", files["enc"], forged
    )
    assert result.exit_code == 1
    assert "bad_signature" in result.output
