"""Property-based tests: no input makes the core raise anything but a jotauth error, or hang.

Random bytes and text, token-shaped strings with random JSON headers, random JWK dicts and PEM
blobs go to every entry point that takes untrusted input. Valid tokens with one character
changed, or segments swapped between tokens, must never verify. Example counts are bounded so
the whole module runs in well under 30 seconds; the deadline catches a hang or a pathological
slowdown (the slowest honest call here is an RSA verification, well under a millisecond).
"""

import base64
import contextlib
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from tests.jose.forge import NOW, b64, claims

from jotauth import jose
from jotauth.errors import JotauthError

FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=2),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
header_names = st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jwk", "jku", "x5c", "cty"])
alg_values = st.sampled_from([*jose.ALGORITHMS, "none", "NONE", "HS1", "", "ES521", "Ed25519"])
headers = st.dictionaries(
    header_names | st.text(max_size=6), alg_values | json_values, max_size=5
) | st.fixed_dictionaries({"alg": alg_values}, optional={"kid": json_values, "crit": json_values})


def _entry_points(key: jose.Key) -> list[Any]:
    verifier = jose.Verifier(key)
    return [
        lambda t: jose.decode(t, key, now=NOW),
        lambda t: jose.decode(t, jose.KeySet([key]), now=NOW),
        lambda t: jose.jws.verify(t, key),
        lambda t: verifier.verify(t, now=NOW),
        jose.peek_header,
        jose.peek_claims,
    ]


def _only_jotauth_errors(key: jose.Key, token: Any) -> None:
    for call in _entry_points(key):
        with contextlib.suppress(JotauthError):
            call(token)


@FUZZ
@given(token=st.binary(max_size=300) | st.text(max_size=300))
def test_random_input_ends_in_jotauth_error(token: Any, private_keys: dict[str, jose.Key]) -> None:
    """Arbitrary bytes or text given to decode, verify and peek raise only jotauth errors."""
    _only_jotauth_errors(private_keys["HS256"], token)


@FUZZ
@given(
    header=headers | json_values,
    payload=json_values,
    signature=st.binary(max_size=80),
    junk=st.sampled_from(["", "=", " ", ".", "+", "\n"]),
)
def test_token_shaped_input_ends_in_jotauth_error(
    header: Any, payload: Any, signature: bytes, junk: str, private_keys: dict[str, jose.Key]
) -> None:
    """Three base64url segments of random JSON and a random signature raise only jotauth errors."""
    try:
        head, body = json.dumps(header), json.dumps(payload)
    except ValueError:
        return
    token = f"{b64(head)}.{b64(body)}{junk}.{b64(signature)}"
    for alg in ("HS256", "ES256", "EdDSA"):
        _only_jotauth_errors(private_keys[alg], token)
    with pytest.raises(JotauthError):  # a random signature never verifies
        jose.jws.verify(token, private_keys["HS256"])


JWK_MEMBERS = ["kty", "crv", "x", "y", "d", "n", "e", "k", "alg", "use", "key_ops", "kid"]
JWK_MEMBERS += ["p", "q", "dp", "dq", "qi", "oth", "x5c"]
b64_values = st.binary(max_size=80).map(b64)
jwk_values = (
    b64_values
    | st.sampled_from(["EC", "RSA", "oct", "OKP", "P-256", "P-521", "Ed25519", "X25519", "sig"])
    | st.sampled_from([*jose.ALGORITHMS, "enc", "AQAB", "", "A128KW"])
    | json_values
)


@FUZZ
@given(
    jwk=st.dictionaries(st.sampled_from(JWK_MEMBERS) | st.text(max_size=5), jwk_values, max_size=9),
    kty=st.sampled_from([None, "EC", "RSA", "oct", "OKP"]),
    alg=st.none() | alg_values,
)
def test_random_jwk_ends_in_jotauth_error(jwk: dict[str, Any], kty: str | None, alg: Any) -> None:
    """Random JWK dicts (and their JSON text) either load or raise only jotauth errors."""
    if kty is not None:
        jwk["kty"] = kty
    for value in (jwk, json.dumps(jwk, default=str)):
        try:
            key = jose.Key.from_jwk(value, alg=alg)
        except JotauthError:
            continue
        assert key.alg in jose.ALGORITHMS
    with contextlib.suppress(JotauthError):
        jose.KeySet.from_jwks({"keys": [jwk]})


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200))
def test_random_jwk_text_ends_in_jotauth_error(data: Any) -> None:
    """Random bytes or text given as a JWK or a JWK Set raise only jotauth errors."""
    for load in (jose.Key.from_jwk, jose.KeySet.from_jwks):
        with contextlib.suppress(JotauthError):
            load(data)


SECRET_LENGTHS = st.sampled_from([32, 33, 48, 64, 96, 128, 256, 512])
B64_ALPHABET = URL_ALPHABET + "+/="


@FUZZ
@given(
    secret=SECRET_LENGTHS.flatmap(lambda n: st.binary(min_size=n, max_size=n))
    | SECRET_LENGTHS.flatmap(
        lambda n: st.text(alphabet=B64_ALPHABET, min_size=n, max_size=n).map(str.encode)
    )
    | SECRET_LENGTHS.flatmap(
        lambda n: st.text(alphabet="0123456789abcdef", min_size=n, max_size=n).map(str.encode)
    )
    | SECRET_LENGTHS.flatmap(lambda n: st.binary(min_size=n - 1, max_size=n - 1)).map(
        lambda b: b"0" + b  # opens like DER (a SEQUENCE), and must still be taken
    )
    | SECRET_LENGTHS.flatmap(
        lambda n: st.text(alphabet=B64_ALPHABET, min_size=n - 1, max_size=n - 1)
    ).map(lambda t: ("M" + t).encode())  # opens like base64 DER
)
def test_random_secrets_not_taken_for_public_keys(secret: bytes) -> None:
    """Random secrets (bytes, base64, hex) of typical lengths are accepted as HMAC secrets."""
    key = jose.Key.from_secret(secret, "HS256")
    assert key.kty == "oct"
    if len(secret) >= 64:
        jose.Key.from_secret(secret, "HS512")


PEM_LABELS = ["PUBLIC KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "CERTIFICATE"]
PEM_LABELS += ["ENCRYPTED PRIVATE KEY", "RSA PUBLIC KEY"]


@FUZZ
@given(
    body=st.binary(max_size=300),
    label=st.sampled_from(PEM_LABELS),
    raw=st.binary(max_size=200),
    password=st.none() | st.binary(max_size=8),
    alg=st.none() | alg_values,
)
def test_random_pem_ends_in_jotauth_error(
    body: bytes, label: str, raw: bytes, password: bytes | None, alg: Any
) -> None:
    """Random PEM-wrapped DER, or raw bytes, given to from_pem raise only jotauth errors."""
    encoded = base64.encodebytes(body).decode()
    pem = f"-----BEGIN {label}-----\n{encoded}-----END {label}-----\n"
    for data in (pem, pem.encode(), raw):
        with contextlib.suppress(JotauthError):
            jose.Key.from_pem(data, alg=alg, password=password)


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_mutated_pem_ends_in_jotauth_error(data: st.DataObject, rsa_pem: bytes) -> None:
    """A PEM with one base64 character changed fails cleanly or loads (never another error)."""
    lines = rsa_pem.decode().splitlines()
    row = data.draw(st.integers(1, len(lines) - 2))
    col = data.draw(st.integers(0, len(lines[row]) - 1))
    char = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0+/"))
    lines[row] = lines[row][:col] + char + lines[row][col + 1 :]
    with contextlib.suppress(JotauthError):
        jose.Key.from_pem("\n".join(lines), alg="RS256")


@pytest.fixture(scope="module")
def valid_tokens(private_keys: dict[str, jose.Key]) -> dict[str, str]:
    """One valid token per algorithm family, each with its own payload."""
    return {
        alg: jose.encode(claims(jti=f"token-{alg}"), private_keys[alg])
        for alg in ("HS256", "RS256", "PS256", "ES256", "ES512", "EdDSA")
    }


@FUZZ
@given(data=st.data())
def test_mutated_tokens_never_verify(
    data: st.DataObject, valid_tokens: dict[str, str], verify_keys: dict[str, jose.Key]
) -> None:
    """A valid token with any one character replaced, inserted or deleted never verifies."""
    alg = data.draw(st.sampled_from(sorted(valid_tokens)))
    token = valid_tokens[alg]
    index = data.draw(st.integers(0, len(token) - 1))
    action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    char = data.draw(st.sampled_from(URL_ALPHABET + ".=+/ \x00é"))
    if action == "replace":
        if char == token[index]:
            return
        mutated = token[:index] + char + token[index + 1 :]
    elif action == "insert":
        mutated = token[:index] + char + token[index:]
    else:
        mutated = token[:index] + token[index + 1 :]
    key = verify_keys[alg]
    assert jose.decode(token, key, now=NOW)["sub"] == "42"
    with pytest.raises(JotauthError):
        jose.decode(mutated, key, now=NOW)
    with pytest.raises(JotauthError):
        jose.jws.verify(mutated, key)


@FUZZ
@given(data=st.data())
def test_bit_flipped_signatures_never_verify(
    data: st.DataObject, valid_tokens: dict[str, str], verify_keys: dict[str, jose.Key]
) -> None:
    """Any one bit flipped in the signature (re-encoded canonically) gives bad_signature."""
    alg = data.draw(st.sampled_from(sorted(valid_tokens)))
    signing_input, signature = valid_tokens[alg].rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(jose.BadSignatureError):
        jose.decode(f"{signing_input}.{b64(bytes(raw))}", verify_keys[alg], now=NOW)


@FUZZ
@given(data=st.data())
def test_swapped_segments_never_verify(
    data: st.DataObject, valid_tokens: dict[str, str], verify_keys: dict[str, jose.Key]
) -> None:
    """Segments taken from two different tokens, or reordered, never verify."""
    first, second = data.draw(st.permutations(sorted(valid_tokens)).map(lambda p: p[:2]))
    a, b = valid_tokens[first].split("."), valid_tokens[second].split(".")
    choices = [
        f"{a[0]}.{a[1]}.{b[2]}",
        f"{b[0]}.{a[1]}.{a[2]}",
        f"{a[1]}.{a[0]}.{a[2]}",
        f"{a[0]}.{b[1]}.{a[2]}",
        f"{a[0]}.{a[2]}.{a[1]}",
    ]
    mutated = data.draw(st.sampled_from(choices))
    for alg in (first, second):
        with pytest.raises(JotauthError):
            jose.decode(mutated, verify_keys[alg], now=NOW)


dates = (
    st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -1, 2**63, -(2**63), 2**1024, 1e308, -1e308, 5e-324])
)


@FUZZ
@given(
    exp=dates,
    nbf=st.none() | dates,
    iat=st.none() | dates,
    leeway=st.floats(0, 3599),
    max_age=st.none() | st.floats(0, 1e12),
)
def test_dates_of_any_magnitude_end_in_claim_errors(
    exp: float,
    nbf: float | None,
    iat: float | None,
    leeway: float,
    max_age: float | None,
    private_keys: dict[str, jose.Key],
) -> None:
    """Any numeric exp, nbf, iat (huge integers included) is accepted or gives a ClaimError."""
    key = private_keys["HS256"]
    payload: dict[str, Any] = {"exp": exp}
    if nbf is not None:
        payload["nbf"] = nbf
    if iat is not None:
        payload["iat"] = iat
    token = jose.encode(payload, key)
    try:
        claims = jose.decode(token, key, leeway=leeway, max_age=max_age, now=NOW, max_size=1 << 16)
    except jose.ClaimError:
        return  # a typed rejection (its message was built without error)
    assert claims["exp"] > NOW - leeway  # accepted only when not expired


MATERIAL = {"oct": ("k",), "RSA": ("n", "e"), "EC": ("x", "y"), "OKP": ("x",)}


@FUZZ
@given(data=st.data())
def test_mutated_jwk_never_verifies_the_original_token(
    data: st.DataObject, private_keys: dict[str, jose.Key], valid_tokens: dict[str, str]
) -> None:
    """A JWK with key material changed, dropped or retyped fails to load or fails to verify."""
    alg = data.draw(st.sampled_from(["HS256", "RS256", "ES256", "ES512", "EdDSA"]))
    key = private_keys[alg]
    jwk = key.to_jwk(private=key.kty == "oct")
    member = data.draw(st.sampled_from(MATERIAL[key.kty]))
    value = jwk[member]
    action = data.draw(st.sampled_from(["replace", "drop", "retype", "truncate", "extend"]))
    if action == "replace":
        index = data.draw(st.integers(0, len(value) - 1))
        char = data.draw(st.sampled_from(URL_ALPHABET).filter(lambda c: c != value[index]))
        jwk[member] = value[:index] + char + value[index + 1 :]
    elif action == "drop":
        del jwk[member]
    elif action == "retype":
        jwk[member] = data.draw(st.none() | st.integers() | st.lists(st.text(max_size=3)))
    elif action == "truncate":
        jwk[member] = value[: data.draw(st.integers(0, len(value) - 1))]
    else:
        jwk[member] = value + data.draw(st.text(URL_ALPHABET, min_size=1, max_size=8))
    try:
        mutated = jose.Key.from_jwk(jwk)
    except JotauthError:
        return
    # HMAC pads a key shorter than its block with zero bytes (RFC 2104), so a secret extended
    # by zero bytes ("AAA..." in base64url) is the same key: that one must verify.
    assume(not _same_hmac_key(key, jwk))
    token = valid_tokens[alg]
    with pytest.raises(JotauthError):
        jose.decode(token, mutated, now=NOW)


def _same_hmac_key(key: jose.Key, jwk: dict[str, Any]) -> bool:
    if key.kty != "oct" or not isinstance(jwk.get("k"), str):
        return False
    original = _raw(key.to_jwk(private=True)["k"])
    changed = _raw(jwk["k"])
    return len(changed) <= 64 and changed.rstrip(b"\0") == original.rstrip(b"\0")


def _raw(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


_DPOP_KEY = jose.Key.generate("ES256")
_DPOP_JWK = {k: v for k, v in _DPOP_KEY.public().to_jwk().items() if k in ("kty", "crv", "x", "y")}
dpop_claims = st.fixed_dictionaries(
    {},
    optional={
        "jti": json_values, "htm": st.sampled_from(["GET", "get"]) | json_values,
        "htu": st.sampled_from(["https://a.example/x", "https://a.example/x?q"]) | json_values,
        "iat": st.sampled_from([NOW, NOW - 61]) | json_values, "ath": json_values,
        "nonce": json_values,
    },
)  # fmt: skip
dpop_headers = st.fixed_dictionaries(
    {"alg": alg_values},
    optional={"typ": st.sampled_from(["dpop+jwt", "JWT"]) | json_values,
              "jwk": st.just(_DPOP_JWK) | json_values, "crit": json_values},
)  # fmt: skip


@FUZZ
@given(header=dpop_headers, payload=dpop_claims, nonce=st.none() | st.just("n"))
def test_dpop_proofs_fail_only_with_dpop_errors(
    header: dict[str, Any], payload: dict[str, Any], nonce: str | None
) -> None:
    """Any header and claims, signed by the jwk's own key: a DPoPProof or a DPoPProofError."""
    signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(payload))}"
    proof = f"{signing_input}.{b64(_DPOP_KEY.sign(signing_input.encode()))}"
    with contextlib.suppress(jose.DPoPProofError):
        got = jose.verify_proof(
            proof, htm="GET", htu="https://a.example/x", now=NOW, access_token="t", nonce=nonce
        )
        assert got.jkt == _DPOP_KEY.thumbprint()
