"""``jotauth token dpop-proof``: a proof the issuer's own checks accept, for the request named."""

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth import jose
from jotauth.cli.main import main
from jotauth.jose.dpop import access_token_hash, verify_proof

URL = "https://auth.example/oauth/token"


def _key_file(tmp_path: Path, key: jose.Key, *, private: bool = True) -> str:
    path = tmp_path / "key.jwk"
    path.write_text(json.dumps({**key.to_jwk(private=private), "alg": key.alg}))
    return str(path)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["token", "dpop-proof", *args])
    return result.exit_code, result.output.strip()


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_the_proof_verifies_for_the_method_and_url(tmp_path: Path, alg: str) -> None:
    """Method, URL (query dropped), the key's thumbprint: what a server checks."""
    key = jose.Key.generate(alg)
    code, proof = _run("--key", _key_file(tmp_path, key), "--url", URL + "?x=1")
    assert code == 0, proof
    verified = verify_proof(proof, htm="POST", htu=URL, now=time.time())
    assert verified.jkt == key.public().thumbprint()


def test_access_token_and_nonce_go_into_the_proof(tmp_path: Path) -> None:
    """``--access-token`` adds ``ath``; ``--nonce`` the server's nonce; ``--method`` the htm."""
    key = jose.Key.generate("ES256")
    code, proof = _run(
        "--key", _key_file(tmp_path, key), "--method", "get", "--url", "https://api.example/r",
        "--access-token", "tok.en.value", "--nonce", "n-123",
    )  # fmt: skip
    assert code == 0, proof
    verify_proof(proof, htm="GET", htu="https://api.example/r", now=time.time(),
                 access_token="tok.en.value", nonce="n-123")  # fmt: skip
    claims = jose.peek_claims(proof)
    assert claims["ath"] == access_token_hash("tok.en.value")


def test_a_public_or_symmetric_key_cannot_make_a_proof(tmp_path: Path) -> None:
    """A proof needs the private half of an asymmetric key: a clear error, no traceback."""
    public = _key_file(tmp_path, jose.Key.generate("ES256"), private=False)
    code, output = _run("--key", public, "--url", URL)
    assert code != 0
    assert "public key" in output
    secret = _key_file(tmp_path, jose.Key.generate("HS256"))
    code, output = _run("--key", secret, "--url", URL)
    assert code == 1
    assert "cannot make a DPoP proof" in output
    assert "Traceback" not in output
