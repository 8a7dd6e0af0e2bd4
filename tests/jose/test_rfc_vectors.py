"""Worked examples of the RFCs, transcribed into tests/jose/vectors/rfc.json.

RFC 7515 appendix A.1-A.4 (HS256, RS256, ES256, ES512), RFC 8037 appendix A (Ed25519 key,
thumbprint and signature), RFC 7517 appendices A and B (example keys and sets) and RFC 7638
section 3.1 (the thumbprint). Deterministic algorithms (HMAC, RSASSA-PKCS1-v1_5, Ed25519) must
reproduce the RFC's signature byte for byte.
"""

from typing import Any

import pytest
from tests.jose.forge import b64
from tests.jose.vectors import load_local

from jotauth import jose

RFC = load_local("rfc.json")


@pytest.mark.parametrize("case", RFC["rfc7515"], ids=[c["name"] for c in RFC["rfc7515"]])
def test_rfc7515_appendix_a(case: dict[str, Any]) -> None:
    """Each RFC 7515 example verifies, has the RFC's header and payload, and re-signs exactly."""
    key = jose.Key.from_jwk(case["key"], alg=case["alg"])
    verifier = key if key.kty == "oct" else key.public()
    token = case["token"]
    assert jose.jws.verify(token, verifier) == case["payload"].encode()
    assert jose.peek_header(token) == case["header"]
    signing_input, signature = token.rsplit(".", 1)
    if case["reproducible"]:
        assert b64(key.sign(signing_input.encode())) == signature
    else:
        assert jose.jws.verify(f"{signing_input}.{b64(key.sign(signing_input.encode()))}", verifier)
    # The example payload's exp (2011-03-22) is long past: as a JWT it is expired.
    if case["payload"].startswith("{"):
        with pytest.raises(jose.ExpiredTokenError):
            jose.decode(token, verifier)
        assert jose.decode(token, verifier, now=1300819379)["iss"] == "joe"


def test_rfc7515_a1_not_accepted_for_another_algorithm() -> None:
    """The A.1 token is HS256: a verifier allowing only HS384, or an HS512 key, refuses it."""
    case = RFC["rfc7515"][0]
    hs256 = jose.Key.from_jwk(case["key"], alg="HS256")
    with pytest.raises(jose.AlgorithmNotAllowedError):
        jose.jws.verify(case["token"], hs256, algorithms=["HS384"])
    with pytest.raises(jose.AlgorithmNotAllowedError):
        jose.jws.verify(case["token"], jose.Key.from_jwk(case["key"], alg="HS512"))


def test_rfc8037_ed25519() -> None:
    """RFC 8037 A.1-A.4: the Ed25519 key, its thumbprint, and the exact signature of A.4."""
    vector = RFC["rfc8037"]
    key = jose.Key.from_jwk(vector["key"])
    assert key.alg == "EdDSA"
    assert key.thumbprint() == vector["thumbprint"]
    assert key.kid == vector["thumbprint"]  # no kid given: the thumbprint is the kid
    public = key.public().to_jwk()
    assert public["x"] == vector["key"]["x"]
    assert "d" not in public
    token = jose.jws.sign(vector["payload"].encode(), key, headers={"kid": None})
    assert token == vector["token"]
    assert jose.jws.verify(vector["token"], key.public()) == vector["payload"].encode()


def test_rfc7517_a1_public_keys() -> None:
    """RFC 7517 A.1: the encryption EC key is skipped from the set; the RSA key loads as RS256."""
    jwks = RFC["rfc7517"]["A.1"]
    keys = jose.KeySet.from_jwks(jwks)
    assert [k.kid for k in keys] == ["2011-04-29"]
    rsa = keys.get("2011-04-29")
    assert rsa.alg == "RS256"
    assert not rsa.is_private
    assert rsa.to_jwk()["n"] == jwks["keys"][1]["n"]
    with pytest.raises(jose.InvalidKeyError, match="enc"):
        jose.Key.from_jwk(jwks["keys"][0])
    ec_sig = {k: v for k, v in jwks["keys"][0].items() if k != "use"}
    assert jose.Key.from_jwk(ec_sig).alg == "ES256"


def test_rfc7517_a2_private_keys() -> None:
    """RFC 7517 A.2: the RSA private key loads with all CRT members and exports them unchanged."""
    jwks = RFC["rfc7517"]["A.2"]
    keys = jose.KeySet.from_jwks(jwks)
    key = keys.get("2011-04-29")
    assert key.is_private
    exported = key.to_jwk(private=True)
    source = jwks["keys"][1]
    for member in ("n", "e", "d", "p", "q", "dp", "dq", "qi"):
        assert exported[member] == source[member], member
    ec = {k: v for k, v in jwks["keys"][0].items() if k != "use"}
    ec_key = jose.Key.from_jwk(ec)
    assert ec_key.is_private
    assert ec_key.to_jwk(private=True)["d"] == ec["d"]
    token = jose.encode({"sub": "x", "exp": 2}, key)
    assert jose.decode(token, key.public(), now=1)["sub"] == "x"


def test_rfc7517_a3_symmetric_keys() -> None:
    """RFC 7517 A.3: the A128KW key is a JWE key, never a signing key; the HMAC key verifies
    RFC 7515 A.1."""
    wrap, mac = RFC["rfc7517"]["A.3"]["keys"]
    wrap_key = jose.Key.from_jwk(wrap)
    assert (wrap_key.use, wrap_key.alg) == ("enc", "A128KW")
    with pytest.raises(jose.InvalidKeyError, match="A128KW"):
        jose.Key.from_jwk(wrap, alg="HS256")
    with pytest.raises(jose.InvalidKeyError, match="JWE"):
        jose.Key.from_jwk({**wrap, "use": "sig"})
    with pytest.raises(jose.AlgorithmNotAllowedError):
        jose.jws.verify(RFC["rfc7515"][0]["token"], wrap_key)
    key = jose.Key.from_jwk(mac, alg="HS256")
    assert key.kid == mac["kid"]
    assert jose.jws.verify(RFC["rfc7515"][0]["token"], key).startswith(b'{"iss":"joe"')


def test_rfc7517_b_x5c_is_not_a_key_source() -> None:
    """RFC 7517 B: the key loads from n and e; its x5c certificate is neither needed nor used."""
    jwk = RFC["rfc7517"]["B"]
    key = jose.Key.from_jwk(jwk, alg="RS256")
    assert key.kid == "1b94c"
    assert key.to_jwk()["n"] == jwk["n"]
    without = {k: v for k, v in jwk.items() if k != "x5c"}
    assert jose.Key.from_jwk(without, alg="RS256").thumbprint() == key.thumbprint()
    assert "x5c" not in key.to_jwk()


def test_rfc7638_thumbprint() -> None:
    """RFC 7638 3.1: the example RSA key's SHA-256 thumbprint, unaffected by optional members."""
    vector = RFC["rfc7638"]
    key = jose.Key.from_jwk(vector["key"])
    assert key.thumbprint() == vector["thumbprint"]
    bare = {"kty": "RSA", "n": vector["key"]["n"], "e": "AQAB"}
    unnamed = jose.Key.from_jwk(bare, alg="PS256")
    assert unnamed.thumbprint() == vector["thumbprint"]
    assert unnamed.kid == vector["thumbprint"]
