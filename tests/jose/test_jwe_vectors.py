"""JWE conformance: RFC 7516 appendix A, RFC 7518 appendix C, and the RFC 7520 cookbook's JWE
(section 5), X25519 (RFC 8037) and nesting (section 6) examples.

Decryption is checked on every output form a vector gives (compact, general and flattened
JSON). Encryption is checked where the vector fixes the random values: with the RFC's or the
cookbook's CEK and IV, our content encryption reproduces the ciphertext and tag byte for byte,
and AES Key Wrap (deterministic) reproduces the encrypted key. Vectors that use an algorithm
refused by default (RSA1_5, PBES2, ``zip``) run with the opt-in and are shown refused without.
"""

import json
from typing import Any

import pytest
from tests.jose.forge import b64
from tests.jose.vectors import COOKBOOK_JWE, COOKBOOK_NESTED, cookbook, load_local

from jotauth import jose
from jotauth.jose import jwe
from jotauth.jose._b64 import b64decode
from jotauth.jose._jwe import ecdh, registry
from jotauth.jose._jwe.content import CONTENT

RFC = load_local("rfc_jwe.json")
A = RFC["rfc7516"]

# Where the cookbook data is wrong, not us: (file, field) -> (value given, value meant, reason).
DEVIATIONS: dict[tuple[str, str], tuple[str, str | None, str]] = {
    ("jwe/5_13.encrypting_to_multiple_recipients.json", "input.enc"): (
        "A128CBC-H256",
        "A128CBC-HS256",
        "a typo: the protected header of the same example says A128CBC-HS256",
    ),
    ("curve25519/ecdh-es.json", "encrypting_key.cek"): (
        "hzHdlfQIAEehb8Hrd_mFRhKsKLEzPfshfXs9l6areCc",
        None,
        "copied from RFC 7520 5.5 (32 bytes, an A128CBC-HS256 key); the file's enc is A128GCM "
        "and it says reproducible: false, so its content step is not reproduced",
    ),
}
OPT_IN = ("RSA1_5", "PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW")


def _d(text: str) -> bytes:
    return b64decode(text.encode("ascii"))


# -- RFC 7516 appendix A and RFC 7518 appendix C -------------------------------------------------


def _rfc_key(example: dict[str, Any]) -> jose.Key:
    return jose.Key.from_jwk(example["key"], alg=example["alg"])


@pytest.mark.parametrize("name", ["A.1", "A.2", "A.3"])
def test_rfc7516_compact_examples_decrypt(name: str) -> None:
    """RFC 7516 A.1-A.3 decrypt to their plaintext; A.2 (RSA1_5) only with the opt-in."""
    example = A[name]
    key = _rfc_key(example)
    options: dict[str, Any] = {"algorithms": [example["alg"]]}
    assert jwe.decrypt(example["token"], key, **options) == example["plaintext"].encode()
    if example["alg"] == "RSA1_5":
        with pytest.raises(jose.AlgorithmNotAllowedError, match="Bleichenbacher"):
            jwe.decrypt(example["token"], key)
    else:
        assert jwe.decrypt(example["token"], key) == example["plaintext"].encode()


@pytest.mark.parametrize("name", ["A.1", "A.2", "A.3"])
def test_rfc7516_content_encryption_reproduces_the_example(name: str) -> None:
    """With the RFC's CEK and IV, our content encryption gives the RFC's ciphertext and tag,
    and the key-management step recovers the RFC's CEK."""
    example = A[name]
    protected, encrypted_key, iv, ciphertext, tag = example["token"].split(".")
    content = CONTENT[example["enc"]]
    assert protected == example["protected"]
    assert iv == example["iv"]
    got = content.encrypt_with_iv(
        _d(example["cek"]), _d(iv), example["plaintext"].encode(), protected.encode()
    )
    assert got == (_d(iv), _d(ciphertext), _d(tag))
    key = _rfc_key(example)
    assert key.unwrap_fn is not None
    assert key.unwrap_fn(content, {}, _d(encrypted_key)) == _d(example["cek"])


def test_rfc7516_a3_key_wrap_reproduces_the_encrypted_key() -> None:
    """AES Key Wrap is deterministic: wrapping A.3's CEK gives A.3's encrypted key."""
    example = A["A.3"]
    key = _rfc_key(example)
    assert key.wrap_fn is not None
    _, encrypted_key, members = key.wrap_fn(CONTENT["A128CBC-HS256"], {}, _d(example["cek"]))
    assert (b64(encrypted_key), members) == (example["token"].split(".")[1], {})


def test_rfc7516_a4_general_json_each_recipient() -> None:
    """A.4: either recipient decrypts the general JSON serialization; the unprotected ``jku``
    is reported, never fetched or used."""
    example = A["A.4"]
    text = json.dumps(example["json"])
    rsa_key, kw_key = (jose.Key.from_jwk(k) for k in example["keys"])
    got = jwe.decrypt_json(text, kw_key)
    assert got.plaintext == example["plaintext"].encode()
    assert got.recipient == {"alg": "A128KW", "kid": "7"}
    assert got.unprotected == {"jku": "https://server.example.com/keys.jwks"}
    assert jwe.decrypt_json(text, rsa_key, algorithms=["RSA1_5"]).plaintext == got.plaintext
    with pytest.raises(jose.AlgorithmNotAllowedError, match="RSA1_5"):
        jwe.decrypt_json(text, rsa_key)
    both = jose.KeySet([rsa_key, kw_key])
    assert jwe.decrypt_json(text, both).recipient["kid"] == "7"  # RSA1_5 passed over


def test_rfc7516_a5_flattened_json() -> None:
    """A.5: the flattened JSON serialization decrypts with the A128KW key."""
    example = A["A.5"]
    key = jose.Key.from_jwk(example["keys"][0])
    got = jwe.decrypt_json(json.dumps(example["json"]), key)
    assert got.plaintext == example["plaintext"].encode()


def test_rfc7518_c_ecdh_es_key_agreement() -> None:
    """RFC 7518 C: Bob's key and Alice's epk with apu "Alice", apv "Bob" derive the RFC's key,
    and so does Alice's side with Bob's public key."""
    example = RFC["rfc7518"]["C"]
    bob = jose.Key.from_jwk(example["bob"], alg="ECDH-ES")
    assert bob.unwrap_fn is not None
    cek = bob.unwrap_fn(CONTENT["A128GCM"], example["header"], b"")
    assert b64(cek) == example["derived_key"]
    alice = jose.Key.from_jwk(example["alice_ephemeral"], alg="ECDH-ES")
    shared = alice._key.exchange(ecdh.ec.ECDH(), bob.public()._key)
    derived = ecdh.derive(shared, "A128GCM", b"Alice", b"Bob", 16)
    assert b64(derived) == example["derived_key"]


# -- RFC 7520 cookbook -------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _enc(name: str, case: dict[str, Any]) -> str:
    given = case["input"]["enc"]
    deviation = DEVIATIONS.get((name, "input.enc"))
    if deviation and given == deviation[0]:
        return deviation[1]
    return str(given)


def _cookbook_keys(case: dict[str, Any]) -> list[jose.Key]:
    """The case's recipient keys, each bound to the case's alg for it."""
    inputs = case["input"]
    algs = _as_list(inputs["alg"])
    if "pwd" in inputs:
        return [jose.Key.from_secret(inputs["pwd"], algs[0])]
    keys = []
    for jwk, alg in zip(_as_list(inputs["key"]), algs, strict=True):
        # A dir key's JWK names its enc as alg (RFC 7520 5.6); the binding comes from there.
        keys.append(jose.Key.from_jwk(jwk) if alg == "dir" else jose.Key.from_jwk(jwk, alg=alg))
    return keys


def _options(case: dict[str, Any]) -> dict[str, Any]:
    algs = _as_list(case["input"]["alg"])
    options: dict[str, Any] = {}
    if any(alg in OPT_IN for alg in algs):
        options["algorithms"] = algs
    if "zip" in case["input"]:
        options["compression"] = True
    return options


def _forms(case: dict[str, Any]) -> dict[str, Any]:
    output = case["output"]
    return {form: output[form] for form in ("compact", "json", "json_flat") if form in output}


JWE_CASES = cookbook(COOKBOOK_JWE)


@pytest.mark.parametrize(("name", "case"), JWE_CASES)
def test_cookbook_jwe_decrypts(name: str, case: dict[str, Any]) -> None:
    """Every output form of every cookbook JWE decrypts to the input plaintext with each of
    its recipients' keys."""
    plaintext = case["input"]["plaintext"].encode("utf-8")
    options = _options(case)
    forms = _forms(case)
    assert forms
    for key in _cookbook_keys(case):
        for form, output in forms.items():
            if form == "compact":
                assert jwe.decrypt(output, key, **options) == plaintext
            else:
                got = jwe.decrypt_json(json.dumps(output), key, **options)
                assert got.plaintext == plaintext
                assert got.header["enc"] == _enc(name, case)


OPT_IN_CASES = [p for p in JWE_CASES if _options(p.values[1])]


@pytest.mark.parametrize(("name", "case"), OPT_IN_CASES)
def test_cookbook_jwe_needs_its_opt_in(name: str, case: dict[str, Any]) -> None:
    """Cookbook JWEs with RSA1_5, PBES2 or zip are refused without the opt-in, by name."""
    key = _cookbook_keys(case)[0]
    output = _forms(case)
    if "compact" in output:
        with pytest.raises(jose.AlgorithmNotAllowedError, match=r"RSA1_5|PBES2|compression"):
            jwe.decrypt(output["compact"], key)
    else:
        with pytest.raises(jose.AlgorithmNotAllowedError, match=r"RSA1_5|PBES2|compression"):
            jwe.decrypt_json(json.dumps(output["json"]), key)


def test_cookbook_opt_in_cases_are_the_expected_ones() -> None:
    """RSA1_5 (5.1, 5.13), PBES2 (5.3) and zip (5.9) are the cases that need an opt-in."""
    assert sorted(p.values[0][:8] for p in OPT_IN_CASES) == [
        "jwe/5_1.",
        "jwe/5_13",
        "jwe/5_3.",
        "jwe/5_9.",
    ]


def _generated_cek(case: dict[str, Any]) -> str | None:
    return case.get("generated", {}).get("cek") or case.get("encrypting_key", {}).get("cek")


REPRODUCIBLE = [
    p
    for p in JWE_CASES
    if _generated_cek(p.values[1]) and (p.values[0], "encrypting_key.cek") not in DEVIATIONS
]


@pytest.mark.parametrize(("name", "case"), REPRODUCIBLE)
def test_cookbook_content_encryption_reproduces(name: str, case: dict[str, Any]) -> None:
    """With the cookbook's CEK and IV our content encryption gives its ciphertext and tag, and
    AES Key Wrap its encrypted key."""
    cek, iv = _d(str(_generated_cek(case))), _d(case["generated"]["iv"])
    content = case["encrypting_content"]
    aad = content.get("protected_b64u", "")
    if "aad_b64u" in case["generated"]:
        aad += "." + case["generated"]["aad_b64u"]
    plaintext = (
        _d(case["generated"]["plaintext_c"])
        if "plaintext_c" in case["generated"]
        else case["input"]["plaintext"].encode("utf-8")
    )
    got = CONTENT[_enc(name, case)].encrypt_with_iv(cek, iv, plaintext, aad.encode("ascii"))
    assert got == (iv, _d(content["ciphertext"]), _d(content["tag"]))
    for key, wrapped in zip(
        _cookbook_keys(case), _as_list(case.get("encrypting_key", [])), strict=False
    ):
        if key.alg.endswith("KW") and not key.alg.startswith(("ECDH", "PBES2")):
            if "GCM" in key.alg:
                continue  # AES-GCM key wrap draws its own IV
            assert key.wrap_fn is not None
            _, encrypted_key, _ = key.wrap_fn(CONTENT[_enc(name, case)], {}, cek)
            assert b64(encrypted_key) == wrapped["encrypted_key"]


def test_cookbook_deviations_are_still_deviations() -> None:
    """Each listed data defect is still in the file, and the value meant is the header's."""
    by_name = {p.values[0]: p.values[1] for p in JWE_CASES}
    for (name, field), (given, meant, _reason) in DEVIATIONS.items():
        case = by_name[name]
        if field == "input.enc":
            assert case["input"]["enc"] == given
            with pytest.raises(jose.UnsupportedAlgorithmError):
                registry.content(given)
            assert case["encrypting_content"]["protected"]["enc"] == meant
        else:
            assert field == "encrypting_key.cek"
            assert case["encrypting_key"]["cek"] == given
            assert len(_d(given)) != CONTENT[case["input"]["enc"]].cek_size
            five_five = by_name["jwe/5_5.key_agreement_using_ecdh-es_with_aes-cbc-hmac-sha2.json"]
            assert five_five["encrypting_key"]["cek"] == given


@pytest.mark.parametrize(("name", "case"), cookbook(COOKBOOK_NESTED))
def test_cookbook_nested_jwt(name: str, case: dict[str, Any]) -> None:
    """RFC 7520 section 6: the encrypted PS256 JWT decrypts and verifies with one Verifier,
    and its inner token is the section's signed JWT."""
    signing = jose.Key.from_jwk(case["sign"]["input"]["key"], alg=case["sign"]["input"]["alg"])
    decrypting = jose.Key.from_jwk(case["encrypt"]["input"]["key"])
    claims = json.loads(case["sign"]["input"]["payload"])
    verifier = jose.Verifier(signing.public(), issuer=claims["iss"], decrypt_with=decrypting)
    outputs = case["encrypt"]["output"]
    assert verifier.verify(outputs["compact"], now=claims["exp"] - 60) == claims
    inner = jwe.decrypt_json(json.dumps(outputs["json"]), decrypting).plaintext
    assert inner.decode() == case["sign"]["output"]["compact"]
    with pytest.raises(jose.ExpiredTokenError):
        verifier.verify(outputs["compact"], now=claims["exp"] + 1)
