"""``jotauth token verify``: exit 0 with the claims, or exit 1 with the exact reason.

These are the tutorial's troubleshooting cases made executable: expired (and when), wrong
audience (expected vs found), unknown kid, algorithm not allowed, bad signature.
"""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth import jose
from jotauth.cli import _token_keys
from jotauth.cli.main import main


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture(scope="module")
def key() -> jose.Key:
    return jose.Key.generate("EdDSA", kid="k1")


@pytest.fixture
def pub(tmp_path: Path, key: jose.Key) -> Path:
    path = tmp_path / "pub.jwk"
    path.write_text(json.dumps(key.public().to_jwk()))
    return path


@pytest.fixture
def jwks_file(tmp_path: Path, key: jose.Key) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jose.KeySet([key.public()]).to_jwks()))
    return path


def make(key: jose.Key, **claims: object) -> str:
    claims.setdefault("exp", int(time.time()) + 600)
    return jose.encode(claims, key)


def test_valid_token_prints_claims_and_exits_0(key: jose.Key, pub: Path) -> None:
    """A good token: claims as JSON on stdout, a VALID line with the kid on stderr."""
    result = run("token", "verify", make(key, sub="42"), "--key", str(pub))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sub"] == "42"
    assert "VALID: EdDSA signature by kid k1" in result.stderr
    assert "expires in 10 min" in result.stderr


def test_private_key_file_verifies_with_its_public_part(tmp_path: Path, key: jose.Key) -> None:
    """Handing the private JWK works too (its public half is used)."""
    path = tmp_path / "priv.jwk"
    path.write_text(json.dumps(key.to_jwk(private=True)))
    assert run("token", "verify", make(key), "--key", str(path)).exit_code == 0


def test_token_from_stdin(key: jose.Key, pub: Path) -> None:
    """The token may be piped in."""
    result = run("token", "verify", "-", "--key", str(pub), input=make(key) + "\n")
    assert result.exit_code == 0


def test_expired_says_when_and_leeway_rescues(key: jose.Key, pub: Path) -> None:
    """Expired: the reason gives the time, how long ago and advice; --leeway covers small skew."""
    token = make(key, exp=int(time.time()) - 3 * 3600)
    result = run("token", "verify", token, "--key", str(pub))
    assert result.exit_code == 1
    assert "INVALID expired_token: token expired at" in result.stderr
    assert "expired 3 h ago" in result.stderr
    assert "--leeway" in result.stderr
    assert result.stdout == ""
    recent = make(key, exp=int(time.time()) - 10)
    assert run("token", "verify", recent, "--key", str(pub)).exit_code == 1
    assert run("token", "verify", recent, "--key", str(pub), "--leeway", "30").exit_code == 0


def test_wrong_audience_expected_vs_found(key: jose.Key, pub: Path) -> None:
    """The audience error names what the token has and what was expected."""
    token = make(key, aud="billing")
    result = run("token", "verify", token, "--key", str(pub), "--aud", "orders")
    assert result.exit_code == 1
    assert "audience is 'billing'; expected 'orders'" in result.stderr
    assert run("token", "verify", token, "--key", str(pub), "--aud", "billing").exit_code == 0
    unasked = run("token", "verify", token, "--key", str(pub))
    assert unasked.exit_code == 1
    assert "pass --aud" in unasked.stderr


def test_wrong_issuer_and_subject_and_typ(key: jose.Key, pub: Path) -> None:
    """Issuer, subject and typ mismatches each give their own reason."""
    token = make(key, iss="https://a", sub="1")
    result = run("token", "verify", token, "--key", str(pub), "--iss", "https://b")
    assert result.exit_code == 1
    assert "issuer is 'https://a'; expected 'https://b'" in result.stderr
    result = run("token", "verify", token, "--key", str(pub), "--sub", "2")
    assert "subject is '1'" in result.stderr
    result = run("token", "verify", token, "--key", str(pub), "--typ", "at+jwt")
    assert result.exit_code == 1
    assert "typ" in result.stderr


def test_unknown_kid_names_it(key: jose.Key, jwks_file: Path) -> None:
    """A kid not in the JWKS is reported as such, with the known kids."""
    stranger = jose.Key.generate("EdDSA", kid="rotated-away")
    result = run("token", "verify", make(stranger), "--jwks", str(jwks_file))
    assert result.exit_code == 1
    assert "no_matching_key" in result.stderr
    assert "rotated-away" in result.stderr
    assert "k1" in result.stderr
    assert run("token", "verify", make(key), "--jwks", str(jwks_file)).exit_code == 0


def test_algorithm_not_allowed(key: jose.Key, pub: Path) -> None:
    """--alg restricts algorithms; an EdDSA token under --alg ES256 is refused with both names."""
    result = run("token", "verify", make(key), "--key", str(pub), "--alg", "ES256")
    assert result.exit_code == 1
    assert "algorithm_not_allowed: algorithm EdDSA is not allowed here; allowed: ES256" in (
        result.stderr
    )


def test_bad_signature_on_a_tampered_token(key: jose.Key, pub: Path) -> None:
    """Changing the payload breaks the signature, and the reason says so."""
    header, _, signature = make(key, sub="1").split(".")
    forged = jose.jws.sign(json.dumps({"sub": "admin", "exp": 4_000_000_000}).encode(), key)
    tampered = f"{header}.{forged.split('.')[1]}.{signature}"
    result = run("token", "verify", tampered, "--key", str(pub))
    assert result.exit_code == 1
    assert "bad_signature" in result.stderr
    assert "changed after signing" in result.stderr
    other = jose.Key.generate("EdDSA", kid="k1")
    assert "bad_signature" in run("token", "verify", make(other), "--key", str(pub)).stderr


def test_alg_none_is_never_accepted(pub: Path) -> None:
    """An unsigned token is refused as an unsupported algorithm."""
    none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."
    result = run("token", "verify", none, "--key", str(pub))
    assert result.exit_code == 1
    assert "unsupported_algorithm" in result.stderr


def test_missing_exp_is_refused_unless_not_required(key: jose.Key, pub: Path) -> None:
    """exp is required by default; --require sub changes the requirement."""
    token = jose.encode({"sub": "1"}, key)
    result = run("token", "verify", token, "--key", str(pub))
    assert result.exit_code == 1
    assert "missing_claim" in result.stderr
    assert run("token", "verify", token, "--key", str(pub), "--require", "sub").exit_code == 0


def test_malformed_and_oversized(pub: Path, key: jose.Key) -> None:
    """Garbage and tokens over 8 KiB are refused with their codes."""
    assert "malformed_token" in run("token", "verify", "x.y", "--key", str(pub)).stderr
    big = make(key, blob="a" * 9000)
    assert "token_too_large" in run("token", "verify", big, "--key", str(pub)).stderr


def test_hmac_secret_jwk(tmp_path: Path) -> None:
    """An HS256 secret JWK verifies its own tokens and rejects others."""
    secret = jose.Key.generate("HS256")
    path = tmp_path / "s.jwk"
    path.write_text(json.dumps(secret.to_jwk(private=True)))
    assert run("token", "verify", make(secret), "--key", str(path)).exit_code == 0
    forged = make(jose.Key.generate("HS256", kid=secret.kid))
    assert "bad_signature" in run("token", "verify", forged, "--key", str(path)).stderr


def test_needs_exactly_one_key_source(key: jose.Key, pub: Path, jwks_file: Path) -> None:
    """Neither or both of --key and --jwks is a usage error."""
    token = make(key)
    assert run("token", "verify", token).exit_code == 2
    both = run("token", "verify", token, "--key", str(pub), "--jwks", str(jwks_file))
    assert both.exit_code == 2
    assert "exactly one of --key" in both.output


@pytest.mark.parametrize(
    ("content", "message"),
    [("{nope", "does not parse"), ('{"keys": 1}', '"keys" array'), ("[]", "not usable")],
)
def test_bad_jwks_file(tmp_path: Path, key: jose.Key, content: str, message: str) -> None:
    """An unusable JWKS file exits 2 and names the problem."""
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run("token", "verify", make(key), "--jwks", str(path))
    assert result.exit_code == 2
    assert message in result.output


class _JWKSHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path == "/big":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b" " * ((1 << 20) + 10))
            return
        if self.path != "/.well-known/jwks.json":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jwks_server(key: jose.Key) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 publishing the public key set."""
    handler = type("H", (_JWKSHandler,), {"body": json.dumps({"keys": [key.public().to_jwk()]})})
    handler.body = handler.body.encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_jwks_url(key: jose.Key, jwks_server: str) -> None:
    """--jwks fetches the key set over HTTP."""
    result = run("token", "verify", make(key), "--jwks", jwks_server + "/.well-known/jwks.json")
    assert result.exit_code == 0, result.output


def test_jwks_url_errors(key: jose.Key, jwks_server: str) -> None:
    """A 404 or a closed port is a clear exit-2 error."""
    missing = run("token", "verify", make(key), "--jwks", jwks_server + "/nope")
    assert missing.exit_code == 2
    assert "HTTP 404" in missing.output
    big = run("token", "verify", make(key), "--jwks", jwks_server + "/big")
    assert big.exit_code == 2
    assert "over 1 MiB" in big.output
    closed = run("token", "verify", make(key), "--jwks", "http://127.0.0.1:1/jwks.json")
    assert closed.exit_code == 2
    assert "cannot fetch the JWK Set" in closed.output


def test_urllib_fallback_for_installs_without_httpx(key: jose.Key, jwks_server: str) -> None:
    """Without httpx the same fetch runs on urllib, with the same errors."""
    body = _token_keys._fetch_urllib(jwks_server + "/.well-known/jwks.json")
    assert json.loads(body)["keys"][0]["kid"] == "k1"
    with pytest.raises(_token_keys.KeyFileError, match="HTTP 404"):
        _token_keys._fetch_urllib(jwks_server + "/nope")
    with pytest.raises(_token_keys.KeyFileError, match="over 1 MiB"):
        _token_keys._fetch_urllib(jwks_server + "/big")
    with pytest.raises(_token_keys.KeyFileError, match="cannot fetch"):
        _token_keys._fetch_urllib("http://127.0.0.1:1/jwks.json")


def test_pem_public_key_binds_the_tokens_alg_within_its_family(tmp_path: Path) -> None:
    """An RSA PEM names no alg: PS256 and RS256 tokens both verify; the family still must fit."""
    rsa = jose.Key.generate("RS256", size=2048)
    pem = tmp_path / "rsa.pub.pem"
    pem.write_bytes(rsa.public().to_pem())
    ps = jose.Key.from_pem(rsa.to_pem(private=True), "PS256")
    assert run("token", "verify", make(ps), "--key", str(pem)).exit_code == 0
    assert run("token", "verify", make(rsa), "--key", str(pem)).exit_code == 0
    ed = make(jose.Key.generate("EdDSA"))
    result = run("token", "verify", ed, "--key", str(pem))
    assert result.exit_code == 1
    assert "algorithm_not_allowed" in result.stderr


def test_raw_secret_file_never_takes_an_asymmetric_alg(tmp_path: Path, key: jose.Key) -> None:
    """A raw secret is only ever an HMAC key: an EdDSA token cannot turn it into anything else."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    hs = jose.Key.from_secret(b"s" * 32)
    assert run("token", "verify", make(hs), "--key", str(secret)).exit_code == 0
    result = run("token", "verify", make(key), "--key", str(secret))
    assert result.exit_code == 2
    assert "not a JWK" in result.output


def test_corrupt_pem_is_a_key_error_not_a_token_error(tmp_path: Path, key: jose.Key) -> None:
    """A broken PEM file is reported as the file's problem (exit 2), whatever the token."""
    pem = tmp_path / "bad.pem"
    pem.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    result = run("token", "verify", make(key), "--key", str(pem))
    assert result.exit_code == 2
    assert "could not load the PEM key" in result.output
