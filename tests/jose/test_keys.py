"""Keys: generation, JWK and PEM import/export in every format, binding to one algorithm.

Formats: JWK oct / RSA / EC / OKP (public and private); PEM PKCS#8 (plain and encrypted),
SubjectPublicKeyInfo, PKCS#1 (RSA) and SEC1 (EC). Each import is checked by signing with the
imported key and verifying with the original (or the reverse), not only by comparing fields.
"""

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from tests.jose.forge import NOW, assert_no_leak, b64, claims, forge, self_signed_certificate

from jotauth import jose

LABELS = [*jose.ALGORITHMS, "EdDSA-Ed448"]


def _sign_verify(signer: jose.Key, verifier: jose.Key) -> None:
    token = jose.encode(claims(), signer)
    assert jose.decode(token, verifier, now=NOW)["sub"] == "42"


@pytest.mark.parametrize("label", LABELS)
def test_generate_binds_algorithm_and_thumbprint_kid(
    label: str, private_keys: dict[str, jose.Key]
) -> None:
    """A generated key is private, bound to its algorithm, and its kid is its thumbprint."""
    key = private_keys[label]
    assert key.alg == ("EdDSA" if label == "EdDSA-Ed448" else label)
    assert key.is_private
    assert key.kid == key.thumbprint()
    if key.kty != "oct":
        public = key.public()
        assert (public.alg, public.kid, public.is_private) == (key.alg, key.kid, False)
        assert public.public() is public
        with pytest.raises(jose.InvalidKeyError):
            public.sign(b"data")
        with pytest.raises(jose.InvalidKeyError):
            public.to_jwk(private=True)
        with pytest.raises(jose.InvalidKeyError):
            public.to_pem(private=True)


@pytest.mark.parametrize("label", LABELS)
def test_jwk_round_trip(label: str, private_keys: dict[str, jose.Key]) -> None:
    """Private and public JWKs re-import to keys that sign and verify with the original."""
    key = private_keys[label]
    private_jwk = key.to_jwk(private=True)
    assert (private_jwk["alg"], private_jwk["kid"], private_jwk["use"]) == (key.alg, key.kid, "sig")
    again = jose.Key.from_jwk(private_jwk)
    assert again.is_private
    assert again.thumbprint() == key.thumbprint()
    if key.kty == "oct":
        _sign_verify(again, key)
        with pytest.raises(jose.InvalidKeyError):
            key.to_jwk()  # a secret has no public form
        return
    public_jwk = key.to_jwk()
    assert "d" not in public_jwk
    assert not set(public_jwk) & {"p", "q", "dp", "dq", "qi", "k"}
    public = jose.Key.from_jwk(public_jwk)
    _sign_verify(again, public)
    _sign_verify(key, public)
    assert jose.Key.from_jwk(json.dumps(public_jwk)).kid == key.kid


@pytest.mark.parametrize("label", [a for a in LABELS if not a.startswith("HS")])
def test_pem_pkcs8_and_spki_round_trip(label: str, private_keys: dict[str, jose.Key]) -> None:
    """Private keys export as PKCS#8 and public keys as SPKI, and both import back."""
    key = private_keys[label]
    alg = key.alg if key.kty == "RSA" else None
    private_pem = key.to_pem(private=True)
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    public_pem = key.to_pem()
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    _sign_verify(jose.Key.from_pem(private_pem, alg=alg), jose.Key.from_pem(public_pem, alg=alg))
    assert jose.Key.from_pem(public_pem.decode(), alg=alg).kid == key.kid
    named = jose.Key.from_pem(public_pem, alg=alg, kid="named")
    assert named.kid == "named"


@pytest.mark.parametrize("label", ["RS256", "ES256", "EdDSA", "EdDSA-Ed448"])
def test_encrypted_pkcs8(label: str, private_keys: dict[str, jose.Key]) -> None:
    """An encrypted PKCS#8 key needs the right password; a wrong or missing one is a clear error."""
    key = private_keys[label]
    alg = key.alg if key.kty == "RSA" else None
    pem = key.to_pem(private=True, password=b"correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    _sign_verify(jose.Key.from_pem(pem, alg=alg, password="correct horse"), key.public())
    with pytest.raises(jose.InvalidKeyError, match="password=") as missing:
        jose.Key.from_pem(pem, alg=alg)
    assert_no_leak(missing.value, pem.decode())
    with pytest.raises(jose.InvalidKeyError) as wrong:
        jose.Key.from_pem(pem, alg=alg, password=b"battery staple")
    assert "battery" not in str(wrong.value)
    with pytest.raises(jose.InvalidKeyError, match="not encrypted"):
        jose.Key.from_pem(key.to_pem(private=True), alg=alg, password=b"x")


def test_pkcs1_rsa(rsa_pem: bytes) -> None:
    """PKCS#1 ``RSA PRIVATE KEY`` and ``RSA PUBLIC KEY`` PEM import."""
    private = serialization.load_pem_private_key(rsa_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    pkcs1_private = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    pkcs1_public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert pkcs1_private.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert pkcs1_public.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    _sign_verify(
        jose.Key.from_pem(pkcs1_private, alg="PS384"), jose.Key.from_pem(pkcs1_public, alg="PS384")
    )


@pytest.mark.parametrize(
    ("curve", "alg"),
    [(ec.SECP256R1(), "ES256"), (ec.SECP384R1(), "ES384"), (ec.SECP521R1(), "ES512")],
)
def test_sec1_ec(curve: ec.EllipticCurve, alg: str) -> None:
    """SEC1 ``EC PRIVATE KEY`` PEM imports, and the curve alone decides the algorithm."""
    private = ec.generate_private_key(curve)
    sec1 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert sec1.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    key = jose.Key.from_pem(sec1)
    assert key.alg == alg
    _sign_verify(key, jose.Key.from_pem(key.to_pem()))


def test_ed_keys_from_raw_objects() -> None:
    """Ed25519 and Ed448 keys bind to EdDSA and export the right curve."""
    pairs: list[tuple[Any, str]] = [
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
        (ed448.Ed448PrivateKey.generate(), "Ed448"),
    ]
    for private, crv in pairs:
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key = jose.Key.from_pem(pem)
        assert (key.alg, key.to_jwk()["crv"]) == ("EdDSA", crv)
        with pytest.raises(jose.InvalidKeyError):
            jose.Key.from_pem(pem, alg="ES256")


@pytest.mark.parametrize("kty", ["RSA", "oct"])
def test_rsa_and_oct_need_an_algorithm(kty: str, private_keys: dict[str, jose.Key]) -> None:
    """An RSA key or a secret without ``alg`` is an error that says how to fix it, not a guess."""
    key = private_keys["RS256" if kty == "RSA" else "HS256"]
    jwk = {k: v for k, v in key.to_jwk(private=True).items() if k != "alg"}
    with pytest.raises(jose.InvalidKeyError, match="alg=") as info:
        jose.Key.from_jwk(jwk)
    assert_no_leak(info.value, jwk.get("d", jwk.get("k", "")))
    assert jose.Key.from_jwk(jwk, alg=key.alg).kid == key.kid
    if kty == "RSA":
        with pytest.raises(jose.InvalidKeyError, match="alg="):
            jose.Key.from_pem(key.to_pem())


def test_jwk_alg_conflicts_with_argument(private_keys: dict[str, jose.Key]) -> None:
    """A JWK that says one alg cannot be loaded as another."""
    jwk = private_keys["RS256"].to_jwk()
    with pytest.raises(jose.InvalidKeyError, match="RS256"):
        jose.Key.from_jwk(jwk, alg="PS256")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"use": "enc"}, "enc"),
        ({"key_ops": ["encrypt"]}, "key_ops"),
        ({"key_ops": "sign"}, "key_ops"),
        ({"key_ops": ["verify", "verify"]}, "duplicate"),
        ({"kty": "XYZ"}, "kty"),
        ({"kty": None}, "kty"),
        ({"x": "not base64!"}, "base64url"),
        ({"x": ""}, "empty"),
        ({"x": 5}, "string"),
        ({"crv": "P-192"}, "curve"),
        ({"kid": 7}, "kid"),
        ({"alg": "none"}, "none"),
    ],
)
def test_bad_jwk_members_refused(
    change: dict[str, Any], match: str, private_keys: dict[str, jose.Key]
) -> None:
    """Malformed or misused JWK members are refused with a message naming the member."""
    jwk = {**private_keys["ES256"].to_jwk(), **change}
    jwk = {k: v for k, v in jwk.items() if v is not None}
    with pytest.raises(jose.InvalidKeyError, match=match):
        jose.Key.from_jwk(jwk)


def test_ec_point_not_on_curve_and_mismatched_private_refused(
    private_keys: dict[str, jose.Key],
) -> None:
    """An EC public point off the curve, or a ``d`` that does not match x, y, is refused."""
    good = private_keys["ES256"].to_jwk(private=True)
    other = jose.Key.generate("ES256").to_jwk(private=True)
    public_only = {k: v for k, v in good.items() if k != "d"}
    with pytest.raises(jose.InvalidKeyError):
        jose.Key.from_jwk({**public_only, "y": other["y"]})
    with pytest.raises(jose.InvalidKeyError, match="does not match"):
        jose.Key.from_jwk({**good, "d": other["d"]})
    okp = private_keys["EdDSA"].to_jwk(private=True)
    okp_other = jose.Key.generate("EdDSA").to_jwk(private=True)
    with pytest.raises(jose.InvalidKeyError, match="does not match"):
        jose.Key.from_jwk({**okp, "d": okp_other["d"]})


def test_rsa_jwk_private_members_all_or_none(private_keys: dict[str, jose.Key]) -> None:
    """An RSA private JWK with only ``d`` loads (primes recovered); a partial CRT set is refused."""
    full = private_keys["RS256"].to_jwk(private=True)
    only_d = {k: v for k, v in full.items() if k not in ("p", "q", "dp", "dq", "qi")}
    _sign_verify(jose.Key.from_jwk(only_d), private_keys["RS256"].public())
    partial = {k: v for k, v in full.items() if k != "qi"}
    with pytest.raises(jose.InvalidKeyError, match="p, q, dp, dq, qi"):
        jose.Key.from_jwk(partial)
    with pytest.raises(jose.InvalidKeyError, match="oth"):
        jose.Key.from_jwk({**full, "oth": []})


@pytest.mark.parametrize(
    "data",
    [b"", b"not a pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 42],
)
def test_bad_pem_refused(data: Any) -> None:
    """Garbage or truncated PEM is an InvalidKeyError, not a cryptography exception."""
    with pytest.raises(jose.InvalidKeyError):
        jose.Key.from_pem(data, alg="RS256")


def test_secret_forms() -> None:
    """from_secret takes bytes or str, refuses other types and non-HMAC algorithms."""
    secret = "s" * 32
    assert jose.Key.from_secret(secret).alg == "HS256"
    assert jose.Key.from_secret(secret.encode(), kid="k1").kid == "k1"
    with pytest.raises(jose.InvalidKeyError):
        jose.Key.from_secret(123)  # type: ignore[arg-type]
    with pytest.raises(jose.InvalidKeyError, match="RS256"):
        jose.Key.from_secret(secret, "RS256")
    key = jose.Key.from_secret(secret)
    with pytest.raises(jose.InvalidKeyError):
        key.public()
    with pytest.raises(jose.InvalidKeyError):
        key.to_pem()


def test_repr_shows_no_key_material(private_keys: dict[str, jose.Key]) -> None:
    """repr() of a key names alg and kid only, never the secret or private numbers."""
    for key in private_keys.values():
        text = repr(key)
        assert key.kid in text
        private = key.to_jwk(private=True)
        for member in ("d", "k", "p", "q"):
            if member in private:
                assert private[member] not in text


def test_unsupported_algorithm_names_refused() -> None:
    """Generating or binding a key to an unknown algorithm is an InvalidKeyError."""
    for alg in ("HS1", "RS1", "ES256K", "ed25519", "X25519", ""):
        with pytest.raises(jose.InvalidKeyError):
            jose.Key.generate(alg)


# -- KeySet -------------------------------------------------------------------------------------


def test_key_set_lookup_and_jwks_round_trip(private_keys: dict[str, jose.Key]) -> None:
    """A KeySet finds keys by kid, exports public JWKS, and imports it back."""
    publics = [private_keys[a].public() for a in ("RS256", "ES256", "EdDSA", "EdDSA-Ed448")]
    keys = jose.KeySet(publics)
    assert len(keys) == 4
    assert list(keys) == publics
    assert publics[1].kid in keys
    assert "nope" not in keys
    assert keys.get(publics[2].kid) is publics[2]
    jwks = keys.to_jwks()
    assert all("d" not in k for k in jwks["keys"])
    again = jose.KeySet.from_jwks(jwks)
    assert [k.kid for k in again] == [k.kid for k in publics]
    assert jose.KeySet.from_jwks(json.dumps(jwks)).get(publics[0].kid).alg == "RS256"
    with pytest.raises(jose.NoMatchingKeyError) as info:
        keys.get("missing")
    assert "missing" in str(info.value)


def test_key_set_picks_by_alg_without_kid(private_keys: dict[str, jose.Key]) -> None:
    """A token without kid uses the one key of its algorithm in the set."""
    keys = jose.KeySet([private_keys[a].public() for a in ("ES256", "EdDSA")])
    token = jose.encode(claims(), private_keys["EdDSA"], headers={"kid": None})
    assert "kid" not in jose.peek_header(token)
    assert jose.decode(token, keys, now=NOW)["sub"] == "42"
    es384 = jose.encode(claims(), private_keys["ES384"], headers={"kid": None})
    with pytest.raises(jose.NoMatchingKeyError):
        jose.decode(es384, keys, now=NOW)


def test_key_set_from_jwks_errors(private_keys: dict[str, jose.Key]) -> None:
    """Malformed JWK Sets are refused; unusable keys are left out with the reason (RFC 7517 5)."""
    bad_sets: list[Any] = [{}, {"keys": {}}, [], "[]", b"\xff"]
    for bad in bad_sets:
        with pytest.raises(jose.InvalidKeyError):
            jose.KeySet.from_jwks(bad)
    with pytest.raises(jose.InvalidKeyError):
        jose.KeySet.from_jwks({"keys": [1]}, strict=True)
    assert jose.KeySet.from_jwks({"keys": [1]}).skipped == {"#0": "a JWK must be a JSON object"}
    rsa_jwk = {k: v for k, v in private_keys["RS256"].to_jwk().items() if k != "alg"}
    with pytest.raises(jose.InvalidKeyError):
        jose.KeySet.from_jwks({"keys": [rsa_jwk]}, strict=True)
    lenient = jose.KeySet.from_jwks({"keys": [rsa_jwk]})
    assert len(lenient) == 0
    with pytest.raises(jose.NoMatchingKeyError, match=r"not loaded: .*algorithms=\[.RS256.\]"):
        lenient.get(rsa_jwk["kid"])
    loaded = jose.KeySet.from_jwks({"keys": [rsa_jwk]}, default_alg="RS256")
    assert loaded.get(rsa_jwk["kid"]).alg == "RS256"
    with pytest.raises(jose.InvalidKeyError):
        jose.KeySet([private_keys["ES256"], private_keys["EdDSA"].public()])


# -- Verifier and the verify / decode entry points ----------------------------------------------


def test_verifier_reuses_policy_and_is_stable(private_keys: dict[str, jose.Key]) -> None:
    """One Verifier verifies many tokens; a failure does not poison later verifications."""
    key = private_keys["ES256"]
    verifier = jose.Verifier(
        key.public(), issuer="iss", audience="aud", typ="at+jwt", algorithms=["ES256"]
    )
    good = jose.encode(claims(iss="iss", aud="aud"), key, headers={"typ": "at+jwt"})
    for _ in range(3):
        assert verifier.verify(good, now=NOW)["aud"] == "aud"
    wrong_typ = jose.encode(claims(iss="iss", aud="aud"), key)
    with pytest.raises(jose.InvalidClaimError):
        verifier.verify(wrong_typ, now=NOW)
    tampered = good[:-4] + ("AAAA" if good[-4:] != "AAAA" else "BBBB")
    with pytest.raises(jose.JoseError):
        verifier.verify(tampered, now=NOW)
    assert verifier.verify(good, now=NOW)["iss"] == "iss"
    assert verifier.policy.typ == "at+jwt"


def test_verifier_uses_clock_when_now_omitted(private_keys: dict[str, jose.Key]) -> None:
    """Without ``now`` the current time is used: a 1970 expiry is expired, 2100 is not."""
    key = private_keys["HS256"]
    with pytest.raises(jose.ExpiredTokenError):
        jose.Verifier(key).verify(jose.encode({"exp": 1}, key))
    assert jose.Verifier(key).verify(jose.encode({"exp": 4_102_444_800}, key))


def test_verifier_accepts_iterable_of_keys(private_keys: dict[str, jose.Key]) -> None:
    """A plain list of keys works like a KeySet; a PEM string or dict is refused with a hint."""
    keys = [private_keys["ES256"].public(), private_keys["EdDSA"].public()]
    token = jose.encode(claims(), private_keys["EdDSA"])
    assert jose.decode(token, keys, now=NOW)["sub"] == "42"
    for wrong in (private_keys["ES256"].to_pem(), private_keys["ES256"].to_jwk(), "secret"):
        with pytest.raises(jose.InvalidKeyError, match="Key"):
            jose.decode(token, wrong, now=NOW)  # type: ignore[arg-type]


def test_algorithm_allowlist(private_keys: dict[str, jose.Key]) -> None:
    """``algorithms`` narrows what a key accepts; its error names the allowed algorithms."""
    key = private_keys["PS256"]
    token = jose.encode(claims(), key)
    assert jose.decode(token, key.public(), algorithms=["PS256", "RS256"], now=NOW)
    assert jose.decode(token, key.public(), algorithms="PS256", now=NOW)
    with pytest.raises(jose.AlgorithmNotAllowedError) as info:
        jose.decode(token, key.public(), algorithms=["RS256"], now=NOW)
    assert "RS256" in str(info.value)
    assert info.value.code == "algorithm_not_allowed"
    with pytest.raises(jose.UnsupportedAlgorithmError):
        jose.decode(token, key.public(), algorithms=["XS256"], now=NOW)


def test_bad_signature_is_one_error(private_keys: dict[str, jose.Key]) -> None:
    """Every signature failure is the same BadSignatureError with the same message."""
    key = private_keys["HS256"]
    token = jose.encode(claims(), key)
    other = jose.Key.generate("HS256", kid=key.kid)
    messages = set()
    for bad in (jose.encode(claims(), other), token[:-2] + "AA", token.rsplit(".", 1)[0] + "."):
        if bad == token:
            continue
        with pytest.raises(jose.BadSignatureError) as info:
            jose.decode(bad, key, now=NOW)
        messages.add(str(info.value))
    assert len(messages) == 1


def test_error_codes_are_stable() -> None:
    """Each error class has its documented snake_case code and sits under JotauthError."""
    from jotauth.errors import JotauthError

    expected: dict[type[jose.JoseError], str] = {
        jose.MalformedTokenError: "malformed_token",
        jose.TokenTooLargeError: "token_too_large",
        jose.CriticalHeaderError: "unsupported_critical_header",
        jose.UnsupportedAlgorithmError: "unsupported_algorithm",
        jose.AlgorithmNotAllowedError: "algorithm_not_allowed",
        jose.InvalidKeyError: "invalid_key",
        jose.NoMatchingKeyError: "no_matching_key",
        jose.BadSignatureError: "bad_signature",
        jose.ExpiredTokenError: "expired_token",
        jose.ImmatureTokenError: "immature_token",
        jose.InvalidClaimError: "invalid_claim",
        jose.MissingClaimError: "missing_claim",
        jose.DPoPProofError: "invalid_dpop_proof",
        jose.DPoPNonceError: "use_dpop_nonce",
    }
    for cls, code in expected.items():
        assert cls.code == code
        assert issubclass(cls, JotauthError)
    assert issubclass(jose.TokenTooLargeError, jose.MalformedTokenError)
    assert issubclass(jose.CriticalHeaderError, jose.MalformedTokenError)
    assert issubclass(jose.ExpiredTokenError, jose.ClaimError)
    assert issubclass(jose.DPoPNonceError, jose.DPoPProofError)


# -- encode and peek ---------------------------------------------------------------------------


def test_encode_headers(private_keys: dict[str, jose.Key]) -> None:
    """encode sets alg, kid and typ JWT; headers can add members, change typ or drop kid."""
    key = private_keys["EdDSA"]
    assert jose.peek_header(jose.encode({}, key)) == {"alg": "EdDSA", "typ": "JWT", "kid": key.kid}
    header = jose.peek_header(jose.encode({}, key, headers={"typ": "at+jwt", "cty": "x"}))
    assert (header["typ"], header["cty"]) == ("at+jwt", "x")
    assert "kid" not in jose.peek_header(jose.encode({}, key, headers={"kid": None}))
    for refused in ({"alg": "ES256"}, {"crit": ["x"]}, {"b64": False}):
        with pytest.raises(jose.JoseError):
            jose.encode({}, key, headers=refused)
    with pytest.raises(jose.InvalidKeyError):
        jose.encode({}, key.public())
    with pytest.raises(jose.MalformedTokenError):
        jose.encode({"x": float("nan")}, key)


def test_encode_datetime_dates(private_keys: dict[str, jose.Key]) -> None:
    """Aware datetimes become NumericDates; naive ones are refused rather than guessed."""
    from datetime import UTC, datetime

    key = private_keys["HS256"]
    token = jose.encode({"exp": datetime(2030, 3, 17, 17, 46, 40, tzinfo=UTC)}, key)
    assert jose.peek_claims(token) == {"exp": NOW}
    with pytest.raises(ValueError, match="naive"):
        jose.encode({"exp": datetime(2030, 1, 1)}, key)  # noqa: DTZ001


def test_peek_is_unverified_and_strict(private_keys: dict[str, jose.Key]) -> None:
    """peek_* decode without verifying (a forged signature still peeks) but stay strict."""
    key = private_keys["HS256"]
    token = jose.encode(claims(), key)
    forged = token.rsplit(".", 1)[0] + ".AAAA"
    assert jose.peek_header(forged)["alg"] == "HS256"
    assert jose.peek_claims(forged)["sub"] == "42"
    for bad in ("a.b", "!!.e30.", "e30=.e30.x"):
        with pytest.raises(jose.MalformedTokenError):
            jose.peek_header(bad)
    big = jose.encode(claims(blob="x" * 20_000), key)
    assert jose.peek_claims(big)["blob"] == "x" * 20_000  # peek allows large tokens for tools
    with pytest.raises(jose.TokenTooLargeError):
        jose.peek_header("a" * (2 << 20))


@pytest.mark.parametrize("alg", [None, 256, ["HS256"]])
def test_from_secret_with_non_string_alg_is_invalid_key(alg: Any) -> None:
    """A non-string algorithm for a secret is an InvalidKeyError like any other bad alg."""
    with pytest.raises(jose.InvalidKeyError):
        jose.Key.from_secret(b"s" * 32, alg)


# -- binding raw key objects, and the remaining refusals ---------------------------------------


def _raw_objects(rsa_pem: bytes) -> dict[str, Any]:
    return {
        "oct": b"k" * 64,
        "RSA": serialization.load_pem_private_key(rsa_pem, password=None),
        "EC": ec.generate_private_key(ec.SECP256R1()),
        "OKP": ed25519.Ed25519PrivateKey.generate(),
    }


_FAMILY = {"HS": "oct", "RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


@pytest.mark.parametrize("alg", jose.ALGORITHMS)
def test_key_object_binds_only_to_its_family(alg: str, rsa_pem: bytes) -> None:
    """Key(obj, alg) accepts a key of the algorithm's family and refuses every other family."""
    family = _FAMILY[alg[:2]]
    for kty, obj in _raw_objects(rsa_pem).items():
        # The raw EC key is on P-256 and the raw Edwards key on Ed25519.
        if kty == family and (kty != "EC" or alg == "ES256") and alg != "Ed448":
            assert jose.Key(obj, alg).alg == alg
            continue
        with pytest.raises(jose.InvalidKeyError) as info:
            jose.Key(obj, alg)
        assert_no_leak(info.value, "k" * 64)


def test_key_kid_must_be_a_string() -> None:
    """A kid that is not a string is refused at construction."""
    with pytest.raises(jose.InvalidKeyError, match="kid"):
        jose.Key(b"k" * 32, "HS256", kid=5)  # type: ignore[arg-type]
    with pytest.raises(jose.InvalidKeyError, match="kid"):
        jose.Key.generate("ES256", kid=b"bytes")  # type: ignore[arg-type]


def test_generate_options_checked() -> None:
    """Generation refuses secrets under the hash size and curves that are not Edwards curves."""
    assert len(jose.Key.generate("HS384", size=96).to_jwk(private=True)["k"]) == 128
    for alg, options in (
        ("HS256", {"size": 16}),
        ("HS512", {"size": "64"}),
        ("EdDSA", {"crv": "X25519"}),
        ("EdDSA", {"crv": "P-256"}),
    ):
        with pytest.raises(jose.InvalidKeyError):
            jose.Key.generate(alg, **options)
    assert jose.Key.generate("EdDSA", crv="Ed448").to_jwk()["crv"] == "Ed448"


def test_oversized_rsa_modulus_refused_quickly() -> None:
    """An RSA JWK with a modulus over 16384 bits is refused (verification cost is a DoS lever)."""
    import time

    n = (1 << 16400) | 1
    jwk = {"kty": "RSA", "alg": "RS256", "n": b64(n.to_bytes(2051, "big")), "e": "AQAB"}
    started = time.perf_counter()
    with pytest.raises(jose.InvalidKeyError):
        jose.Key.from_jwk(jwk)
    assert time.perf_counter() - started < 1


def test_pem_of_unsupported_key_types_refused() -> None:
    """DSA PEM keys are refused by name; X25519/X448 ones need a JWE alg (key agreement only)."""
    from cryptography.hazmat.primitives.asymmetric import dsa, x448, x25519

    def pem_of(private: Any) -> bytes:
        pem: bytes = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return pem

    with pytest.raises(jose.InvalidKeyError, match="unsupported key type"):
        jose.Key.from_pem(pem_of(dsa.generate_private_key(2048)))
    for private in (x25519.X25519PrivateKey.generate(), x448.X448PrivateKey.generate()):
        with pytest.raises(jose.InvalidKeyError, match="key agreement"):
            jose.Key.from_pem(pem_of(private))
        with pytest.raises(jose.InvalidKeyError, match="key agreement"):
            jose.Key.from_pem(pem_of(private), alg="EdDSA")
        assert jose.Key.from_pem(pem_of(private), alg="ECDH-ES").use == "enc"


def test_certificate_pem_gives_its_public_key(private_keys: dict[str, jose.Key]) -> None:
    """An X.509 certificate PEM loads as its public key (useful for x5c-style distribution)."""
    signer = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed_certificate(signer)
    key = jose.Key.from_pem(cert.public_bytes(serialization.Encoding.PEM))
    assert (key.alg, key.is_private) == ("ES256", False)
    pem = signer.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _sign_verify(jose.Key.from_pem(pem), key)


def test_sign_and_verify_need_jose_keys(private_keys: dict[str, jose.Key]) -> None:
    """jws.sign and jws.verify refuse raw PEM, dicts and strings with an InvalidKeyError."""
    key = private_keys["ES256"]
    token = jose.jws.sign(b"p", key)
    for wrong in (key.to_pem(private=True), key.to_jwk(private=True), "secret", None):
        with pytest.raises(jose.InvalidKeyError):
            jose.jws.sign(b"p", wrong)  # type: ignore[arg-type]
        with pytest.raises(jose.InvalidKeyError):
            jose.jws.verify(token, wrong)  # type: ignore[arg-type]
    with pytest.raises(jose.InvalidKeyError):
        jose.KeySet([key.to_jwk()])  # type: ignore[list-item]
    assert "KeySet" in repr(jose.KeySet([key.public()]))


@pytest.mark.parametrize("alg", [256, None, ["HS256"], {"HS256": 1}, True])
def test_non_string_alg_header_is_unsupported(
    alg: object, private_keys: dict[str, jose.Key]
) -> None:
    """An ``alg`` header that is not a string is an unsupported algorithm, not a crash."""
    key = private_keys["HS256"]
    token = forge(key, {"alg": alg}, claims())
    with pytest.raises(jose.UnsupportedAlgorithmError):
        jose.decode(token, key, now=NOW)


def test_encode_refuses_non_mapping_claims_and_bad_dates(private_keys: dict[str, jose.Key]) -> None:
    """encode takes a mapping of claims; a date that is a string is a programming error."""
    key = private_keys["HS256"]
    with pytest.raises(TypeError):
        jose.encode([("sub", "1")], key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exp"):
        jose.encode({"exp": "tomorrow"}, key)


def test_from_jwks_binds_alg_less_rsa_keys_only_where_algorithms_decide(
    private_keys: dict[str, jose.Key],
) -> None:
    """An RSA JWK without alg binds to the one RSA algorithm allowed; otherwise it says why not."""
    rsa_jwk = {k: v for k, v in private_keys["RS256"].public().to_jwk().items() if k != "alg"}
    ec_jwk = {k: v for k, v in private_keys["ES256"].public().to_jwk().items() if k != "alg"}
    jwks = {"keys": [rsa_jwk, ec_jwk]}
    for algorithms, rsa_alg in ((["PS384", "ES256"], "PS384"), ("RS512", "RS512")):
        keys = jose.KeySet.from_jwks(jwks, algorithms=algorithms)
        assert keys.get(rsa_jwk["kid"]).alg == rsa_alg
    both = jose.KeySet.from_jwks(jwks, algorithms=["RS256", "PS256", "ES256"])
    assert both.get(ec_jwk["kid"]).alg == "ES256"
    assert "narrow algorithms=" in both.skipped[rsa_jwk["kid"]]
    none = jose.KeySet.from_jwks(jwks, algorithms=["ES256"])
    assert "allows no RSA algorithm" in none.skipped[rsa_jwk["kid"]]
    assert jose.KeySet.from_jwks(jwks, algorithms=["PS256"], default_alg="RS256").skipped == {
        rsa_jwk["kid"]: "it is for RS256, which algorithms= does not allow (allowed: PS256)",
        ec_jwk["kid"]: "it is for ES256, which algorithms= does not allow (allowed: PS256)",
    }
    with pytest.raises(jose.InvalidKeyError, match="narrow algorithms="):
        jose.KeySet.from_jwks(jwks, algorithms=["RS256", "PS256"], strict=True)


# -- RFC 9864 fully-specified EdDSA names ---------------------------------------------------------


@pytest.mark.parametrize(("alg", "crv"), [("Ed25519", "Ed25519"), ("Ed448", "Ed448")])
def test_fully_specified_eddsa_names_bind_their_curve(alg: str, crv: str) -> None:
    """``Ed25519``/``Ed448`` keys are generated, exported and imported under that name only."""
    key = jose.Key.generate(alg)
    jwk = key.to_jwk()
    assert (key.alg, jwk["alg"], jwk["crv"]) == (alg, alg, crv)
    assert jose.Key.from_jwk(jwk).alg == alg
    assert jose.Key.from_jwk({**jwk, "alg": "EdDSA"}).alg == "EdDSA"
    assert jose.Key.from_jwk({n: v for n, v in jwk.items() if n != "alg"}, alg=alg).alg == alg
    keys = jose.KeySet.from_jwks(jose.KeySet([key.public()]).to_jwks())
    assert keys.get(key.kid).alg == alg
    assert jose.Key.from_pem(key.to_pem(), alg=alg).alg == alg
    other = "Ed448" if alg == "Ed25519" else "Ed25519"
    with pytest.raises(jose.InvalidKeyError, match=f'alg "{other}" was requested'):
        jose.Key.from_jwk(jwk, alg=other)
    with pytest.raises(jose.InvalidKeyError, match=f"not {other}"):
        jose.Key.from_jwk({**jwk, "alg": other})
    with pytest.raises(jose.InvalidKeyError, match="drop crv"):
        jose.Key.generate(alg, crv=other)
    assert jose.Key.generate(alg, crv=crv).alg == alg


def test_ed25519_alg_tokens_not_refused_as_unsupported() -> None:
    """Tokens saying ``alg: Ed25519`` (panva/jose, RFC 9864) verify; EdDSA keeps working."""
    ed25519_key, eddsa_key = jose.Key.generate("Ed25519"), jose.Key.generate("EdDSA")
    for signer in (ed25519_key, eddsa_key):
        public = signer.public()
        for alg in ("Ed25519", "EdDSA"):
            # One computation under two names: a key bound to either verifies both.
            token = forge(signer, {"alg": alg, "kid": signer.kid}, claims())
            assert jose.decode(token, public, now=NOW)["sub"] == "42"
            assert jose.decode(token, jose.KeySet([public]), algorithms=[alg], now=NOW)
            assert jose.Verifier(jose.KeySet([public])).verify(token, now=NOW)
            no_kid = forge(signer, {"alg": alg}, claims())
            assert jose.decode(no_kid, jose.KeySet([public]), now=NOW)
            # The allowlist still goes by the name the token gives.
            other = "EdDSA" if alg == "Ed25519" else "Ed25519"
            with pytest.raises(jose.AlgorithmNotAllowedError):
                jose.decode(token, public, algorithms=[other], now=NOW)
    assert jose.peek_header(jose.encode({}, ed25519_key))["alg"] == "Ed25519"
    assert jose.peek_header(jose.encode({}, eddsa_key))["alg"] == "EdDSA"


def test_ed25519_name_never_verifies_with_an_ed448_key() -> None:
    """A key answers to EdDSA and its own curve's name, never to the other curve's."""
    ed448_key = jose.Key.generate("EdDSA", crv="Ed448")
    token = forge(ed448_key, {"alg": "Ed25519", "kid": ed448_key.kid}, claims())
    with pytest.raises(jose.AlgorithmNotAllowedError, match="bound to EdDSA"):
        jose.decode(token, ed448_key.public(), now=NOW)
    assert ed448_key.accepts("Ed448")
    assert ed448_key.accepts("EdDSA")
    assert not ed448_key.accepts("Ed25519")
    assert not jose.Key.generate("ES256").accepts("EdDSA")
