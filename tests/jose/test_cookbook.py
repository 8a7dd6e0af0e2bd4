"""RFC 7520 (JOSE cookbook) JWS and JWK examples, the RFC 8037 Ed25519 example and RFC 7797.

Only each file's ``input`` and ``output`` are used (the ``signing`` sections contradict
``output`` in places; see tests/jose/vectors/README.md). Signatures are compared byte for byte
only where the file says ``reproducible``; elsewhere (RSA-PSS, ECDSA are randomized) the given
output must verify and our own signature must round-trip.

jotauth implements the JWS compact serialization only. A JSON-serialized signature whose
protected header carries ``alg`` converts losslessly to compact form (the unprotected header
holds only a ``kid``, and the key is given directly), so it is checked that way. Signatures
whose ``alg`` sits only in the unprotected header cannot be expressed in compact form: they need
the JWS JSON serialization API that the contract does not have, and are listed in
``NEEDS_JSON_SERIALIZATION`` — a test proves that list is exactly what was left out.
"""

from typing import Any

import pytest
from tests.jose.forge import b64
from tests.jose.vectors import COOKBOOK_JWK, COOKBOOK_JWS, COOKBOOK_REJECTED, cookbook

from jotauth import jose

NEEDS_JSON_SERIALIZATION: dict[tuple[str, int], str] = {
    ("jws/4_7.protecting_content_only.json", 0): "alg only in the unprotected header",
    ("jws/4_8.multiple_signatures.json", 1): "ES512 signature: alg only in the unprotected header",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _keys(case: dict[str, Any]) -> dict[str, jose.Key]:
    """The case's signing keys by algorithm (a key is bound to the case's ``alg``)."""
    keys = {}
    for jwk, alg in zip(
        _as_list(case["input"]["key"]), _as_list(case["input"]["alg"]), strict=True
    ):
        keys[alg] = jose.Key.from_jwk(jwk, alg=alg)
    return keys


def _compact_forms(name: str, case: dict[str, Any]) -> tuple[list[str], list[tuple[str, int]]]:
    """Compact tokens for every signature of the output, and the signatures that have none."""
    output = case["output"]
    if "compact" in output:
        header, payload, signature = output["compact"].split(".")
        if not payload:  # detached content (RFC 7515 appendix F): reattach the payload
            payload = b64(case["input"]["payload"])
        return [f"{header}.{payload}.{signature}"], []
    payload = output["json"].get("payload") or b64(case["input"]["payload"])
    tokens, left_out = [], []
    for index, signature in enumerate(output["json"]["signatures"]):
        if "protected" in signature:
            tokens.append(f"{signature['protected']}.{payload}.{signature['signature']}")
        else:
            left_out.append((name, index))
    return tokens, left_out


@pytest.mark.parametrize(("name", "case"), cookbook(COOKBOOK_JWS))
def test_cookbook_jws(name: str, case: dict[str, Any]) -> None:
    """Each cookbook JWS verifies with its key, gives the input payload, and re-signs exactly."""
    keys = _keys(case)
    payload = case["input"]["payload"].encode("utf-8")
    tokens, _ = _compact_forms(name, case)
    assert tokens or name in {n for n, _ in NEEDS_JSON_SERIALIZATION}
    for token in tokens:
        header = jose.peek_header(token)
        key = keys[header["alg"]]
        verifier = key if key.kty == "oct" else key.public()
        assert jose.jws.verify(token, verifier) == payload
        signing_input, signature = token.rsplit(".", 1)
        if case.get("reproducible") == "True":
            assert b64(key.sign(signing_input.encode("ascii"))) == signature
        ours = jose.jws.sign(payload, key, headers={"kid": header.get("kid")})
        assert jose.jws.verify(ours, verifier) == payload
        tampered = (
            f"{signing_input}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
        )
        with pytest.raises(jose.JoseError):
            jose.jws.verify(tampered, verifier)


def test_compact_reproduces_cookbook_hmac_token_byte_for_byte() -> None:
    """jws.sign with the cookbook's header and key gives the exact RFC 7520 4.4 token."""
    (param,) = [p for p in cookbook(("jws",)) if "4_4" in p.values[0]]
    case = param.values[1]
    key = jose.Key.from_jwk(case["input"]["key"])
    token = jose.jws.sign(case["input"]["payload"].encode(), key)
    assert token == case["output"]["compact"]


def test_json_only_signatures_are_listed_exactly() -> None:
    """The signatures not checked (JSON serialization only) are exactly the listed ones."""
    left_out = []
    for param in cookbook(COOKBOOK_JWS):
        left_out += _compact_forms(*param.values)[1]
    assert sorted(left_out) == sorted(NEEDS_JSON_SERIALIZATION)


@pytest.mark.parametrize(("name", "case"), cookbook(COOKBOOK_REJECTED))
def test_rfc7797_unencoded_payload_rejected(name: str, case: dict[str, Any]) -> None:
    """RFC 7797 ``b64: false`` tokens are refused as an unsupported critical header.

    The ``4.2`` file's header ``{"alg":"HS256","b64":false}`` even lacks ``crit``; a strict
    implementation must reject it, and the payload "$.02" cannot be put in a compact token at
    all, so its header is tried with an encoded payload and the given signature.
    """
    key = jose.Key.from_jwk(case["input"]["key"])
    output = case["output"]
    if "compact" in output:
        token = output["compact"]
    else:
        flat = output["json_flat"]
        token = f"{flat['protected']}.{b64(case['input']['payload'])}.{flat['signature']}"
    with pytest.raises(jose.CriticalHeaderError):
        jose.jws.verify(token, key)
    with pytest.raises(jose.CriticalHeaderError):
        jose.decode(token, key, require=())


RSA_ALG = "RS256"  # RFC 7520's RSA key carries no alg; a key must be bound to one


@pytest.mark.parametrize(("name", "jwk"), cookbook(COOKBOOK_JWK))
def test_cookbook_jwk(name: str, jwk: dict[str, Any]) -> None:
    """Each cookbook JWK imports (or is refused for a stated reason) and exports unchanged."""
    if jwk.get("use") == "enc":
        # 3.6 is an AES key for encryption, alg A256GCM: a "dir" key for that content
        # encryption (RFC 7520 5.6 uses its sibling that way). It never signs.
        key = jose.Key.from_jwk(jwk)
        assert (key.use, key.alg, key.enc, key.kid) == ("enc", "dir", "A256GCM", jwk["kid"])
        assert key.to_jwk(private=True) == jwk | {"use": "enc"}
        with pytest.raises(jose.AlgorithmNotAllowedError):
            jose.jws.verify(jose.jws.sign(b"x", jose.Key.generate("HS256")), key)
        (loaded,) = jose.KeySet.from_jwks({"keys": [jwk]})
        assert loaded.use == "enc"
        return
    alg = None
    if jwk["kty"] == "RSA":
        with pytest.raises(jose.InvalidKeyError, match="alg"):
            jose.Key.from_jwk(jwk)
        alg = RSA_ALG
    key = jose.Key.from_jwk(jwk, alg=alg)
    assert key.kid == jwk["kid"]
    is_private = "d" in jwk or jwk["kty"] == "oct"
    assert key.is_private is is_private
    exported = key.to_jwk(private=is_private)
    assert {k: v for k, v in exported.items() if k in jwk} == jwk
    assert jose.Key.from_jwk(exported).thumbprint() == key.thumbprint()


def test_cookbook_private_and_public_jwk_agree() -> None:
    """The public half of each cookbook private key is the cookbook's public key."""
    by_name = {p.values[0]: p.values[1] for p in cookbook(COOKBOOK_JWK)}
    for private, public, alg in (
        ("jwk/3_2.ec_private_key.json", "jwk/3_1.ec_public_key.json", None),
        ("jwk/3_4.rsa_private_key.json", "jwk/3_3.rsa_public_key.json", RSA_ALG),
    ):
        half = jose.Key.from_jwk(by_name[private], alg=alg).public().to_jwk()
        assert {k: v for k, v in half.items() if k in by_name[public]} == by_name[public]
