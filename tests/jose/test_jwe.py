"""JWE (RFC 7516): every key-management algorithm with every content encryption, both
serializations, nested JWTs, and the key binding rules (the key decides alg and enc)."""

import json
from typing import Any

import pytest
from tests.jose.forge import b64
from tests.jose.jwe_labels import CURVES, LABELS, OPT_IN, alg_of, options_for, pair

from jotauth import jose
from jotauth.jose import jwe

_pair = pair
_alg = alg_of


@pytest.mark.parametrize("enc", jwe.ENCRYPTIONS)
@pytest.mark.parametrize("label", LABELS)
def test_compact_round_trip(label: str, enc: str, jwe_keys: dict[str, jose.Key]) -> None:
    """Every alg/enc pair encrypts and decrypts; the header names alg, enc and the key's kid."""
    public, private = _pair(jwe_keys, label, enc)
    token = jwe.encrypt(b"secret claims", public, enc=enc)
    header = jwe.peek_header(token)
    assert (header["alg"], header["enc"], header["kid"]) == (_alg(label), enc, private.kid)
    algorithms = [_alg(label)] if _alg(label) in OPT_IN else None
    assert jwe.decrypt(token, private, algorithms=algorithms) == b"secret claims"
    assert jwe.Decrypter([private], algorithms=algorithms).decrypt(token) == b"secret claims"


@pytest.mark.parametrize("label", LABELS)
def test_json_round_trip_flattened(label: str, jwe_keys: dict[str, jose.Key]) -> None:
    """The flattened JSON serialization round-trips, with AAD and an unprotected header."""
    public, private = _pair(jwe_keys, label, "A128CBC-HS256")
    text = jwe.encrypt_json(
        b"x" * 40,
        public,
        enc="A128CBC-HS256",
        unprotected={"note": "not protected"},
        aad=b"bound but not secret",
        flatten=True,
    )
    document = json.loads(text)
    assert "recipients" not in document
    algorithms = [_alg(label)] if _alg(label) in OPT_IN else None
    result = jwe.decrypt_json(text, private, algorithms=algorithms)
    assert result.plaintext == b"x" * 40
    assert result.aad == b"bound but not secret"
    assert result.protected["alg"] == _alg(label)
    assert result.unprotected == {"note": "not protected"}
    assert result.header["kid"] == private.kid


def test_json_to_several_recipients(jwe_keys: dict[str, jose.Key]) -> None:
    """One message to RSA, ECDH-ES+KW, AES-KW and AES-GCM-KW recipients: each decrypts alone."""
    labels = ["RSA-OAEP-256", "ECDH-ES+A256KW/X25519", "ECDH-ES+A128KW/P-384"]
    labels += ["A256KW", "A128GCMKW"]
    publics = [_pair(jwe_keys, label, "A256GCM")[0] for label in labels]
    text = jwe.encrypt_json("to all of you", publics, protected={"cty": "text/plain"})
    document = json.loads(text)
    assert [r["header"]["alg"] for r in document["recipients"]] == [_alg(x) for x in labels]
    for label in labels:
        result = jwe.decrypt_json(text, jwe_keys[label])
        assert result.plaintext == b"to all of you"
        assert result.protected == {"enc": "A256GCM", "cty": "text/plain"}
        assert result.recipient["kid"] == jwe_keys[label].kid
    both = jose.KeySet([jwe_keys["A256KW"], jwe_keys["RSA-OAEP-256"]])
    assert jwe.decrypt_json(text, both).plaintext == b"to all of you"


def test_json_recipient_without_our_key_is_no_matching_key(
    jwe_keys: dict[str, jose.Key],
) -> None:
    """A message for other recipients only fails with NoMatchingKeyError, not a decryption error."""
    text = jwe.encrypt_json(b"x", [jwe_keys["A256KW"], jwe_keys["A128KW"]])
    with pytest.raises(jose.NoMatchingKeyError):
        jwe.decrypt_json(text, jose.KeySet([jose.Key.generate("A192KW")]))


def test_direct_algorithms_allow_one_recipient(jwe_keys: dict[str, jose.Key]) -> None:
    """dir and ECDH-ES make the content key themselves, so they cannot share it."""
    for label in ("dir", "ECDH-ES/P-256"):
        public, _ = _pair(jwe_keys, label, "A256GCM")
        with pytest.raises(jose.InvalidKeyError, match="one recipient"):
            jwe.encrypt_json(b"x", [public, jwe_keys["A256KW"]])


@pytest.mark.parametrize("enc", ["A128GCM", "A256CBC-HS512"])
def test_compression_round_trip_needs_opt_in(enc: str, jwe_keys: dict[str, jose.Key]) -> None:
    """``compress=True`` deflates; decryption inflates only with ``compression=True``."""
    plaintext = b"repetitive " * 200
    token = jwe.encrypt(plaintext, jwe_keys["A256KW"], enc=enc, compress=True)
    assert jwe.peek_header(token)["zip"] == "DEF"
    assert len(token) < len(plaintext)
    with pytest.raises(jose.AlgorithmNotAllowedError, match="compression=True"):
        jwe.decrypt(token, jwe_keys["A256KW"])
    assert jwe.decrypt(token, jwe_keys["A256KW"], compression=True) == plaintext


def test_apu_apv_are_used_in_the_key_derivation(jwe_keys: dict[str, jose.Key]) -> None:
    """ECDH-ES party info given as headers is protected and enters the Concat KDF."""
    private = jwe_keys["ECDH-ES/P-256"]
    token = jwe.encrypt(b"x", private.public(), headers={"apu": "QWxpY2U", "apv": "Qm9i"})
    assert jwe.peek_header(token)["apu"] == "QWxpY2U"
    assert jwe.decrypt(token, private) == b"x"


def test_pbes2_iteration_count_is_configurable() -> None:
    """PBES2 writes 10,000 iterations by default; more need a matching max_p2c to decrypt."""
    password = jose.Key.from_secret("correct horse battery staple", "PBES2-HS256+A128KW")
    token = jwe.encrypt(b"x", password)
    assert jwe.peek_header(token)["p2c"] == 10_000
    strong = jwe.encrypt(b"x", password, headers={"p2c": 20_000})
    algorithms = ["PBES2-HS256+A128KW"]
    with pytest.raises(jose.MalformedTokenError, match="max_p2c"):
        jwe.decrypt(strong, password, algorithms=algorithms)
    assert jwe.decrypt(strong, password, algorithms=algorithms, max_p2c=20_000) == b"x"


# -- the key decides ------------------------------------------------------------------------------


def test_key_bound_to_enc_refuses_another_enc() -> None:
    """A key bound to one enc decrypts only that enc, and encrypts with it by default."""
    key = jose.Key.generate("A256KW", enc="A256GCM")
    token = jwe.encrypt(b"x", key)
    assert jwe.peek_header(token)["enc"] == "A256GCM"
    with pytest.raises(jose.AlgorithmNotAllowedError):
        jwe.encrypt(b"x", key, enc="A128GCM")
    unbound = jose.Key.from_jwk({**key.to_jwk(private=True), "kid": "unbound"})
    other = jwe.encrypt(b"x", unbound, enc="A128GCM", headers={"kid": key.kid})
    with pytest.raises(jose.AlgorithmNotAllowedError, match="bound to A256GCM"):
        jwe.decrypt(other, key)


def test_token_alg_must_be_the_keys(jwe_keys: dict[str, jose.Key]) -> None:
    """A token whose alg is not the key's is refused before any decryption."""
    token = jwe.encrypt(b"x", jwe_keys["A128KW"])
    with pytest.raises(jose.AlgorithmNotAllowedError, match="bound to"):
        jwe.decrypt(token, jose.Key.generate("A128GCMKW"))


def test_allowlists_narrow_what_is_accepted(jwe_keys: dict[str, jose.Key]) -> None:
    """``algorithms=`` and ``encryptions=`` refuse anything they do not name."""
    token = jwe.encrypt(b"x", jwe_keys["A128KW"], enc="A128GCM")
    with pytest.raises(jose.AlgorithmNotAllowedError, match="allowed"):
        jwe.decrypt(token, jwe_keys["A128KW"], algorithms=["A256KW"])
    with pytest.raises(jose.AlgorithmNotAllowedError, match="allowed"):
        jwe.decrypt(token, jwe_keys["A128KW"], encryptions=["A256GCM"])
    with pytest.raises(jose.UnsupportedAlgorithmError):
        jwe.Decrypter(jwe_keys["A128KW"], algorithms=["none"])
    with pytest.raises(ValueError, match="at least one"):
        jwe.Decrypter(jwe_keys["A128KW"], algorithms=[])


def test_public_key_cannot_decrypt(jwe_keys: dict[str, jose.Key]) -> None:
    """Decrypting needs the private key; the error says so."""
    public = jwe_keys["RSA-OAEP-256"].public()
    token = jwe.encrypt(b"x", public)
    with pytest.raises(jose.InvalidKeyError, match="private key"):
        jwe.decrypt(token, public)


def test_signature_keys_do_not_encrypt_or_decrypt(private_keys: dict[str, jose.Key]) -> None:
    """A JWS key is refused for JWE and a JWS alg in a JWE header is named as such."""
    with pytest.raises(jose.InvalidKeyError, match="signature key"):
        jwe.encrypt(b"x", private_keys["ES256"])
    token = jwe.encrypt(b"x", jose.Key.generate("A128KW"))
    _, rest = token.split(".", 1)
    forged = jose.jws.sign(b"", private_keys["HS256"]).split(".")[0]  # {"alg":"HS256",...}
    with pytest.raises(jose.MalformedTokenError):
        jwe.decrypt(f"{forged}.{rest}", private_keys["HS256"])
    with pytest.raises(jose.UnsupportedAlgorithmError, match="signature algorithm"):
        jwe.Decrypter(private_keys["HS256"])._resolve({"alg": "HS256", "enc": "A128GCM"})


def test_encryption_keys_do_not_verify(jwe_keys: dict[str, jose.Key]) -> None:
    """An encryption key never verifies a JWS, alone or from a key set."""
    signer = jose.Key.generate("ES256", kid="shared")
    token = jose.jws.sign(b"x", signer)
    enc_key = jose.Key.generate("ECDH-ES", kid="shared")
    with pytest.raises(jose.AlgorithmNotAllowedError):
        jose.jws.verify(token, enc_key)
    with pytest.raises(jose.NoMatchingKeyError, match="encryption key"):
        jose.jws.verify(token, jose.KeySet([enc_key]))


def test_jwk_use_and_alg_must_agree() -> None:
    """``use: enc`` needs a JWE alg and ``use: sig`` a JWS one; unknown uses are refused."""
    jwk = jose.Key.generate("ECDH-ES+A128KW").to_jwk(private=True)
    assert jose.Key.from_jwk(jwk).alg == "ECDH-ES+A128KW"
    with pytest.raises(jose.InvalidKeyError, match="no alg"):
        jose.Key.from_jwk({k: v for k, v in jwk.items() if k != "alg"})
    with pytest.raises(jose.InvalidKeyError, match="not a JWE algorithm"):
        jose.Key.from_jwk({**jwk, "alg": "ES256"})
    with pytest.raises(jose.InvalidKeyError, match="is a JWE algorithm"):
        jose.Key.from_jwk({**jwk, "use": "sig"})
    with pytest.raises(jose.InvalidKeyError, match="use"):
        jose.Key.from_jwk({**jwk, "use": "wrap"})
    with pytest.raises(jose.InvalidKeyError, match="encryption operation"):
        jose.Key.from_jwk({**jwk, "key_ops": ["sign"]})
    assert jose.Key.from_jwk({**jwk, "key_ops": ["deriveKey"]}).use == "enc"


@pytest.mark.parametrize("crv", CURVES)
def test_encryption_jwk_round_trip(crv: str) -> None:
    """An ECDH-ES key exports and imports with its thumbprint, public and private."""
    key = jose.Key.generate("ECDH-ES+A256KW", crv=crv)
    for private in (True, False):
        again = jose.Key.from_jwk(key.to_jwk(private=private))
        assert (again.kid, again.alg, again.is_private) == (key.kid, key.alg, private)
    assert jose.Key.from_pem(key.to_pem(private=True), alg="ECDH-ES+A256KW").kid == key.kid


def test_key_sizes_are_exact() -> None:
    """AES keys are exactly their size and dir keys their enc's; both say how to make one."""
    with pytest.raises(jose.InvalidKeyError, match="exactly 32 bytes"):
        jose.Key.from_secret(b"k" * 33, "A256KW")
    with pytest.raises(jose.InvalidKeyError, match="exactly 64 bytes"):
        jose.Key.from_secret(b"k" * 32, "dir", enc="A256CBC-HS512")
    with pytest.raises(jose.InvalidKeyError, match="enc"):
        jose.Key.from_secret(b"k" * 32, "dir")
    assert jose.Key.from_secret(b"k" * 32, "A256GCM").enc == "A256GCM"


def test_keyset_holds_both_uses(jwe_keys: dict[str, jose.Key]) -> None:
    """A key set holds public verification keys beside private decryption keys; lookups by
    kid and by alg only ever return a key of the use asked for."""
    signer = jose.Key.generate("ES256")
    keys = jose.KeySet([signer.public(), jwe_keys["RSA-OAEP-256"], jwe_keys["A256KW"]])
    assert keys.select("ES256", None) is keys.get(signer.kid)
    assert keys.select("A256KW", None, use="enc").alg == "A256KW"
    with pytest.raises(jose.NoMatchingKeyError, match="signature key"):
        keys.select("ES256", signer.kid, use="enc")
    with pytest.raises(jose.NoMatchingKeyError):
        keys.select("A256KW", None)
    jwks = {
        "keys": [
            signer.public().to_jwk(),
            jwe_keys["RSA-OAEP-256"].to_jwk(private=True),
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB", "kid": "no-alg"},
        ]
    }
    loaded = jose.KeySet.from_jwks(jwks, strict=True)
    assert {key.use for key in loaded} == {"sig", "enc"}
    assert "no-alg" in loaded.skipped


# -- nested JWTs ----------------------------------------------------------------------------------


def _claims(**changes: Any) -> dict[str, Any]:
    return {"iss": "https://issuer.example", "sub": "42", "exp": 2_000_000_000, **changes}


NOW = 1_900_000_000


@pytest.mark.parametrize(
    "label", ["RSA-OAEP-256", "ECDH-ES+A256KW/X25519", "ECDH-ES/P-256", "A256KW", "dir"]
)
def test_nested_jwt_round_trip(label: str, jwe_keys: dict[str, jose.Key]) -> None:
    """encode(..., encrypt_to=) signs then encrypts; a decrypting Verifier undoes both."""
    public, private = _pair(jwe_keys, label, "A256GCM")
    signer = jose.Key.generate("EdDSA")
    token = jose.encode(_claims(), signer, encrypt_to=public)
    header = jwe.peek_header(token)
    assert header["cty"] == "JWT"
    verifier = jose.Verifier(signer.public(), issuer="https://issuer.example", decrypt_with=private)
    assert verifier.verify(token, now=NOW) == _claims()
    assert jose.decode(token, signer.public(), decrypt_with=private, now=NOW) == _claims()


def test_nested_verifier_applies_the_claims_policy(jwe_keys: dict[str, jose.Key]) -> None:
    """The inner token gets the same policy: wrong issuer, expiry and signature all fail."""
    signer = jose.Key.generate("ES256")
    key = jwe_keys["ECDH-ES+A128KW/P-256"]
    verifier = jose.Verifier(signer.public(), issuer="https://issuer.example", decrypt_with=key)
    with pytest.raises(jose.InvalidClaimError):
        verifier.verify(jose.encode(_claims(iss="evil"), signer, encrypt_to=key.public()), NOW)
    with pytest.raises(jose.ExpiredTokenError):
        verifier.verify(jose.encode(_claims(exp=NOW - 1), signer, encrypt_to=key.public()), NOW)
    impostor = jose.Key.generate("ES256", kid=signer.kid)
    with pytest.raises(jose.BadSignatureError):
        verifier.verify(jose.encode(_claims(), impostor, encrypt_to=key.public()), NOW)


def test_nested_verifier_refuses_unencrypted_tokens(jwe_keys: dict[str, jose.Key]) -> None:
    """A verifier that decrypts accepts only encrypted tokens; a plain JWS is refused by name."""
    signer = jose.Key.generate("EdDSA")
    verifier = jose.Verifier(signer.public(), decrypt_with=jwe_keys["A256KW"])
    with pytest.raises(jose.MalformedTokenError, match="only encrypted"):
        verifier.verify(jose.encode(_claims(), signer), NOW)


def test_nested_jwt_needs_cty_jwt(jwe_keys: dict[str, jose.Key]) -> None:
    """A JWE without ``cty: JWT`` is not a nested JWT, even if it holds one."""
    signer = jose.Key.generate("EdDSA")
    inner = jose.encode(_claims(), signer)
    token = jwe.encrypt(inner, jwe_keys["A256KW"])
    verifier = jose.Verifier(signer.public(), decrypt_with=jwe_keys["A256KW"])
    with pytest.raises(jose.MalformedTokenError, match="cty"):
        verifier.verify(token, NOW)
    lowercase = jwe.encrypt(inner, jwe_keys["A256KW"], headers={"cty": "application/jwt"})
    assert verifier.verify(lowercase, NOW) == _claims()


def test_nested_verifier_takes_a_configured_decrypter() -> None:
    """``decrypt_with`` accepts a ``jwe.Decrypter`` with its own options (here PBES2 opt-in)."""
    signer = jose.Key.generate("EdDSA")
    password = jose.Key.from_secret("a long shared password", "PBES2-HS512+A256KW")
    token = jose.encode(_claims(), signer, encrypt_to=password)
    with pytest.raises(jose.AlgorithmNotAllowedError, match="PBES2"):
        jose.Verifier(signer.public(), decrypt_with=password).verify(token, NOW)
    decrypter = jwe.Decrypter(password, algorithms=["PBES2-HS512+A256KW"])
    assert jose.Verifier(signer.public(), decrypt_with=decrypter).verify(token, NOW) == _claims()


# -- malformed input: a clear JoseError, never another exception ------------------------------


def _flat(key: jose.Key) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(jwe.encrypt_json(b"x", key, flatten=True))
    return document


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"protected": 5}, "base64url string"),
        ({"iv": None}, 'no "iv"'),
        ({"unprotected": []}, "JSON object"),
        ({"recipients": []}, "non-empty array"),
        ({"recipients": ["x"]}, "JSON object"),
        ({"header": {"kid": 5}}, "kid"),
    ],
)
def test_malformed_json_serialization_is_named(change: dict[str, Any], match: str) -> None:
    """A malformed JWE JSON serialization is a MalformedTokenError naming what is wrong."""
    key = jose.Key.generate("A128KW")
    document = {**_flat(key), **change}
    if "recipients" in change:
        document.pop("encrypted_key", None)
    document = {k: v for k, v in document.items() if v is not None}
    with pytest.raises(jose.MalformedTokenError, match=match):
        jwe.decrypt_json(json.dumps(document), key)


def test_json_serialization_cannot_be_both_general_and_flattened() -> None:
    """``recipients`` beside a flattened ``encrypted_key`` is ambiguous, so it is refused."""
    key = jose.Key.generate("A128KW")
    document = _flat(key)
    document["recipients"] = [{"encrypted_key": document["encrypted_key"]}]
    with pytest.raises(jose.MalformedTokenError, match="not both"):
        jwe.decrypt_json(json.dumps(document), key)
    with pytest.raises(jose.MalformedTokenError, match="str or bytes"):
        jwe.decrypt_json(document, key)  # type: ignore[arg-type]


def test_direct_recipient_among_several_is_refused() -> None:
    """A JSON JWE listing a dir recipient beside others is malformed (dir is the CEK)."""
    key = jose.Key.generate("dir", enc="A256GCM")
    document = json.loads(jwe.encrypt_json(b"x", key))
    document["recipients"] *= 2
    with pytest.raises(jose.MalformedTokenError, match="one of many recipients"):
        jwe.decrypt_json(json.dumps(document), key)


@pytest.mark.parametrize(
    ("epk", "match"),
    [
        (None, '"epk" object'),
        ({"kty": "OKP", "crv": "P-256", "x": "AA", "y": "AA"}, '"kty": "EC"'),
        ({"kty": "EC", "crv": "P-256", "x": 5, "y": "AA"}, "base64url string"),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "32 bytes"),
    ],
)
def test_malformed_epk_is_named(epk: Any, match: str) -> None:
    """A missing or malformed ECDH-ES ``epk`` is a MalformedTokenError naming the member."""
    key = jose.Key.generate("ECDH-ES", crv="P-256")
    token = jwe.encrypt(b"x", key.public())
    header = {**jwe.peek_header(token), "epk": epk}
    forged = ".".join([b64(json.dumps(header)), *token.split(".")[1:]])
    with pytest.raises(jose.MalformedTokenError, match=match):
        jwe.decrypt(forged, key)


def test_x25519_epk_must_be_okp() -> None:
    """An X25519 epk must say ``kty: OKP``."""
    key = jose.Key.generate("ECDH-ES", crv="X25519")
    token = jwe.encrypt(b"x", key.public())
    header = jwe.peek_header(token)
    header["epk"] = {**header["epk"], "kty": "EC"}
    forged = ".".join([b64(json.dumps(header)), *token.split(".")[1:]])
    with pytest.raises(jose.MalformedTokenError, match="OKP"):
        jwe.decrypt(forged, key)


def test_ecdh_es_direct_with_an_encrypted_key_fails() -> None:
    """ECDH-ES (direct) has no encrypted key; a token that carries one does not decrypt."""
    key = jose.Key.generate("ECDH-ES")
    protected, _, *rest = jwe.encrypt(b"x", key.public()).split(".")
    with pytest.raises(jose.DecryptionError):
        jwe.decrypt(".".join([protected, b64(bytes(40)), *rest]), key)


def test_encrypt_arguments_are_checked(jwe_keys: dict[str, jose.Key]) -> None:
    """encrypt and encrypt_json refuse what they would not accept, with a clear error."""
    key = jwe_keys["A256KW"]
    with pytest.raises(jose.InvalidKeyError, match=r"jose\.Key"):
        jwe.encrypt(b"x", "not a key")  # type: ignore[arg-type]
    with pytest.raises(jose.CriticalHeaderError, match="crit"):
        jwe.encrypt(b"x", key, headers={"crit": ["x"]})
    with pytest.raises(TypeError, match="bytes or str"):
        jwe.encrypt(5, key)  # type: ignore[arg-type]
    assert "kid" not in jwe.peek_header(jwe.encrypt(b"x", key, headers={"kid": None}))
    with pytest.raises(jose.InvalidKeyError, match="at least one"):
        jwe.encrypt_json(b"x", [])
    with pytest.raises(ValueError, match="exactly one recipient"):
        jwe.encrypt_json(b"x", [key, jwe_keys["A128KW"]], flatten=True)
    with pytest.raises(jose.CriticalHeaderError, match="unprotected"):
        jwe.encrypt_json(b"x", key, unprotected={"zip": "DEF"})
    with pytest.raises(jose.InvalidKeyError, match="different enc"):
        jwe.encrypt_json(
            b"x",
            [
                jose.Key.generate("A128KW", enc="A128GCM"),
                jose.Key.generate("A128KW", enc="A256GCM"),
            ],
        )
    text = jwe.encrypt_json(b"zz" * 100, [key, jwe_keys["A128KW"]], compress=True)
    assert json.loads(text)["protected"]
    assert jwe.decrypt_json(text, key, compression=True).plaintext == b"zz" * 100
    with pytest.raises(jose.InvalidKeyError, match=r"jose\.Key or jose\.KeySet"):
        jwe.Decrypter("secret")  # type: ignore[arg-type]


def test_mutated_tokens_only_ever_raise_jose_errors(jwe_keys: dict[str, jose.Key]) -> None:
    """Every single-character change to a token of each family ends in a JoseError."""
    for label in ("A128GCMKW", "ECDH-ES+A128KW/P-256", "dir", "RSA-OAEP", "PBES2-HS256+A128KW"):
        public, private = _pair(jwe_keys, label, "A128CBC-HS256")
        token = jwe.encrypt(b"payload", public, enc="A128CBC-HS256")
        options = options_for(label)
        for index in range(0, len(token), 7):
            for replacement in ("A", ".", "_", "!"):
                mutated = token[:index] + replacement + token[index + 1 :]
                if mutated == token:
                    continue
                try:
                    jwe.decrypt(mutated, private, **options)
                except jose.JoseError:
                    continue
                pytest.fail(f"{label}: a change at {index} decrypted")  # pragma: no cover
