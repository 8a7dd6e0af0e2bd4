"""One test per security rule of the core, each named after the attack it blocks.

The rules are those of DESIGN.md ("Security rules of the core") and issue 2's "Security"
section. Every token here is built by hand (tests/jose/forge.py) so that the attack is the only
thing wrong with it: the signature is real wherever that matters, which proves the rejection
comes from the rule and not from a broken signature. Each test asserts the exact error class
(``exactly``: a subclass does not count) and that the message echoes neither the token nor any
key material; beyond the explicit checks, an autouse fixture records every jotauth error raised
in the module and checks its message against every token verified and every key made.
"""

import base64
import builtins
import hashlib
import hmac
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from tests.jose.forge import (
    NOW,
    E,
    Segment,
    assert_no_leak,
    b64,
    claims,
    forge,
    key_material,
    segment,
    self_signed_certificate,
)

from jotauth import jose
from jotauth.jose.errors import JoseError

PUBLIC_PEM_ALGS = ("RS256", "PS256", "ES256", "EdDSA")


@contextmanager
def exactly(error: type[E], match: str | None = None) -> Iterator[pytest.ExceptionInfo[E]]:
    """``pytest.raises`` that also insists on the exact class, not a subclass of it."""
    with pytest.raises(error, match=match) as info:
        yield info
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}"


@pytest.fixture(autouse=True)
def _no_secret_in_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Check every jotauth error raised by a test against every token and key it used."""
    errors: list[JoseError] = []
    tokens: list[object] = []
    keys: list[jose.Key] = []

    def record_error(self: JoseError, *args: object) -> None:
        Exception.__init__(self, *args)
        errors.append(self)

    key_init = jose.Key.__init__

    def record_key(self: jose.Key, *args: Any, **kwargs: Any) -> None:
        key_init(self, *args, **kwargs)
        keys.append(self)

    def recording(function: Any) -> Any:
        def wrapper(token: object, *args: Any, **kwargs: Any) -> Any:
            tokens.append(token)
            return function(token, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(JoseError, "__init__", record_error, raising=False)
    monkeypatch.setattr(jose.Key, "__init__", record_key)
    monkeypatch.setattr(jose, "decode", recording(jose.decode))
    monkeypatch.setattr(jose.jws, "verify", recording(jose.jws.verify))
    verify = jose.Verifier.verify

    def verifier_verify(self: jose.Verifier, token: str, now: float | None = None) -> Any:
        tokens.append(token)
        return verify(self, token, now)

    monkeypatch.setattr(jose.Verifier, "verify", verifier_verify)
    yield
    secrets = [t for t in tokens if isinstance(t, str | bytes)]
    secrets += [m for k in keys for m in key_material(k)]
    for error in errors:
        assert_no_leak(error, *secrets)


def _public_pem(key: jose.Key) -> bytes:
    return key.public().to_pem()


def _hs256(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


# -- the key decides the algorithm ----------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "NoNe"])
def test_alg_none_rejected_in_any_case(alg: str, verify_keys: dict[str, jose.Key]) -> None:
    """An unsigned token (alg "none", any letter case) is never accepted, signature or not."""
    key = verify_keys["HS256"]
    unsigned = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims())}."
    with_sig = unsigned + b64(b"\x00" * 32)
    for token in (unsigned, with_sig):
        with exactly(jose.UnsupportedAlgorithmError) as info:
            jose.decode(token, key, now=NOW)
        assert_no_leak(info.value, token)
        with exactly(jose.UnsupportedAlgorithmError):
            jose.jws.verify(token, key)
        with exactly(jose.UnsupportedAlgorithmError):
            jose.decode(token, jose.KeySet([key]), now=NOW)
    with exactly(jose.UnsupportedAlgorithmError):
        jose.Verifier(key, algorithms=[alg])
    with exactly(jose.InvalidKeyError):
        jose.Key.generate(alg)


@pytest.mark.parametrize("public_alg", PUBLIC_PEM_ALGS)
def test_hs256_with_rsa_public_pem_as_secret_rejected(
    public_alg: str, verify_keys: dict[str, jose.Key]
) -> None:
    """A token HMAC-signed with the issuer's public key (PEM or JWK text) never verifies."""
    public = verify_keys[public_alg]
    pem = _public_pem(public)
    jwk_text = json.dumps(public.to_jwk()).encode()
    for material in (pem, pem.replace(b"\n", b"\r\n"), b"  \n" + pem, jwk_text):
        token = _hs256(material, {"alg": "HS256", "kid": public.kid}, claims())
        # The classic confusion: the verifier holds the public key; the token says HS256.
        with exactly(jose.AlgorithmNotAllowedError) as info:
            jose.decode(token, public, now=NOW)
        assert_no_leak(info.value, token, pem.decode())
        with exactly(jose.AlgorithmNotAllowedError):
            jose.decode(token, jose.KeySet([public]), now=NOW)
        # And nobody can even make an HMAC key out of public key text.
        with exactly(jose.InvalidKeyError) as key_info:
            jose.Key.from_secret(material, "HS256")
        assert_no_leak(key_info.value, pem.decode(), jwk_text.decode())
        with exactly(jose.InvalidKeyError):
            jose.Key.from_jwk({"kty": "oct", "k": b64(material), "alg": "HS256"})


def _public_key_form(public: jose.Key, form: str) -> bytes:
    """``public`` (RSA, EC or Ed25519) in one of the forms keys are published or stored in."""
    native: Any = serialization.load_pem_public_key(public.to_pem())
    der, pem = serialization.Encoding.DER, serialization.Encoding.PEM
    spki, pkcs1 = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1
    openssh = serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    jwk = public.to_jwk()
    kty_last = {name: jwk[name] for name in sorted(jwk, key=lambda name: name == "kty")}
    if form.startswith("x509"):
        certificate = self_signed_certificate(ec.generate_private_key(ec.SECP256R1()))
        return certificate.public_bytes(der if form == "x509-der" else pem)
    forms: dict[str, Callable[[], bytes]] = {
        "pem": lambda: native.public_bytes(pem, spki),
        "der-spki": lambda: native.public_bytes(der, spki),
        "der-pkcs1": lambda: native.public_bytes(der, pkcs1),
        "pem-pkcs1": lambda: native.public_bytes(pem, pkcs1),
        "base64-der": lambda: base64.b64encode(native.public_bytes(der, spki)),
        "openssh": lambda: native.public_bytes(*openssh),
        "openssh-comment": lambda: native.public_bytes(*openssh) + b" ops@build-host\n",
        "jwk-kty-last": lambda: json.dumps(kty_last).encode(),
        "jwk-indented": lambda: json.dumps(kty_last, indent=2).encode(),
        "jwk-escaped-kty": lambda: json.dumps(kty_last).replace('"kty"', '"\\u006bty"').encode(),
        "jwks": lambda: json.dumps({"keys": [kty_last]}).encode(),
    }
    return forms[form]()


PUBLIC_KEY_FORMS = (
    *("pem", "der-spki", "base64-der", "openssh", "openssh-comment", "x509-pem", "x509-der"),
    *("jwk-kty-last", "jwk-indented", "jwk-escaped-kty", "jwks"),
)


@pytest.mark.parametrize(
    ("public_alg", "form"),
    [
        *((alg, form) for alg in ("RS256", "ES256", "EdDSA") for form in PUBLIC_KEY_FORMS),
        ("RS256", "der-pkcs1"),
        ("RS256", "pem-pkcs1"),
    ],
)
def test_public_key_material_refused_as_hmac_secret(
    public_alg: str, form: str, verify_keys: dict[str, jose.Key]
) -> None:
    """DER, JWK JSON in any member order, OpenSSH and X.509 keys never become HMAC secrets."""
    public = verify_keys[public_alg]
    material = _public_key_form(public, form)
    # Text may end in blank lines; binary DER is used as it is (an Ed25519 SPKI is 44 bytes).
    secret = material.ljust(64, b"\n") if form.startswith(("jwk", "openssh")) else material
    algs = [alg for alg, size in (("HS256", 32), ("HS512", 64)) if len(secret) >= size]
    assert algs
    for alg in algs:
        with exactly(jose.InvalidKeyError, match="public key material") as info:
            jose.Key.from_secret(secret, alg)
        assert_no_leak(info.value, *key_material(public))
        with exactly(jose.InvalidKeyError, match="public key material"):
            jose.Key.from_jwk({"kty": "oct", "k": b64(secret), "alg": alg})


def test_hmac_algorithm_not_allowed_for_asymmetric_verifier(
    verify_keys: dict[str, jose.Key],
) -> None:
    """Naming HS256 in the allowlist does not let a public key be used as an HMAC secret."""
    public = verify_keys["RS256"]
    token = _hs256(_public_pem(public), {"alg": "HS256"}, claims())
    with exactly(jose.AlgorithmNotAllowedError):
        jose.decode(token, public, algorithms=["HS256", "RS256"], now=NOW)


# -- keys never come from the token ------------------------------------------------------------


@pytest.fixture
def no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if verification opens a socket or a file."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("jose must do no I/O")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(builtins, "open", refuse)


@pytest.mark.usefixtures("no_io")
def test_embedded_jwk_not_used(verify_keys: dict[str, jose.Key]) -> None:
    """A key embedded in the header (``jwk``) is never used to verify the token that carries it."""
    victim = verify_keys["ES256"]
    attacker = jose.Key.generate("ES256")
    for kid in (victim.kid, attacker.kid, None):
        header: dict[str, Any] = {"alg": "ES256", "jwk": attacker.public().to_jwk()}
        if kid is not None:
            header["kid"] = kid
        token = forge(attacker, header, claims())
        expected = jose.NoMatchingKeyError if kid == attacker.kid else jose.BadSignatureError
        with exactly(expected) as info:
            jose.decode(token, jose.KeySet([victim]), now=NOW)
        assert_no_leak(info.value, token)
        with exactly(jose.BadSignatureError):
            jose.decode(token, victim, now=NOW)


def _self_signed(key: ec.EllipticCurvePrivateKey) -> str:
    der = self_signed_certificate(key).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode()


@pytest.mark.usefixtures("no_io")
def test_jku_x5u_x5c_ignored(verify_keys: dict[str, jose.Key]) -> None:
    """``jku``, ``x5u`` and ``x5c`` never supply a key: no fetch happens and the signature fails."""
    victim = verify_keys["ES256"]
    attacker_raw = ec.generate_private_key(ec.SECP256R1())
    attacker = jose.Key.from_pem(
        attacker_raw.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    headers: list[dict[str, Any]] = [
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": [_self_signed(attacker_raw)]},
        {"jku": "http://127.0.0.1:1/jwks", "x5u": "file:///etc/passwd"},
    ]
    for extra in headers:
        token = forge(attacker, {"alg": "ES256", "kid": victim.kid, **extra}, claims())
        with exactly(jose.BadSignatureError) as info:
            jose.decode(token, jose.KeySet([victim]), now=NOW)
        assert_no_leak(info.value, token)
        with exactly(jose.BadSignatureError):
            jose.Verifier(victim).verify(token, now=NOW)


@pytest.mark.usefixtures("no_io")
@pytest.mark.parametrize(
    "kid",
    [
        "../../../../../../dev/null",
        "/etc/passwd",
        "..\\..\\windows\\win.ini",
        "' OR '1'='1' --",
        "x'; DROP TABLE keys; --",
        "kid\x00.pem",
        "http://attacker.example/key",
        "*",
        "",
    ],
)
def test_kid_path_traversal_is_only_a_lookup(kid: str, verify_keys: dict[str, jose.Key]) -> None:
    """A ``kid`` with path, SQL or URL fragments is only a dictionary lookup, and it misses."""
    private = jose.Key.generate("HS256", kid="real-key")
    token = forge(private, {"alg": "HS256", "kid": kid}, claims())
    with exactly(jose.NoMatchingKeyError) as info:
        jose.decode(token, jose.KeySet([private]), now=NOW)
    assert_no_leak(info.value, token, private.to_jwk(private=True)["k"])
    # A key whose kid is literally that string is found by exact equality, and only then.
    literal = jose.Key.generate("HS256", kid=kid)
    good = forge(literal, {"alg": "HS256", "kid": kid}, claims())
    assert jose.decode(good, jose.KeySet([private, literal]), now=NOW)["sub"] == "42"


def test_non_string_kid_rejected(verify_keys: dict[str, jose.Key]) -> None:
    """A ``kid`` that is not a string (object, number, list) is a malformed token, not a lookup."""
    private = jose.Key.generate("HS256", kid="k")
    for kid in ({"$ne": None}, 1, ["k"], True):
        token = forge(private, {"alg": "HS256", "kid": kid}, claims())
        with exactly(jose.MalformedTokenError):
            jose.decode(token, jose.KeySet([private]), now=NOW)


# -- crit -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"crit": ["x-policy"], "x-policy": "strict"},
        {"crit": ["b64"], "b64": False},
        {"crit": ["x-a", "x-b"], "x-a": 1, "x-b": 2},
    ],
)
def test_unknown_crit_rejected(extra: dict[str, Any], private_keys: dict[str, jose.Key]) -> None:
    """A ``crit`` naming an extension we do not implement is rejected (RFC 7515 4.1.11)."""
    key = private_keys["HS256"]
    token = forge(key, {"alg": "HS256", **extra}, claims())
    with exactly(jose.CriticalHeaderError) as info:
        jose.decode(token, key, now=NOW)
    assert info.value.code == "unsupported_critical_header"
    assert_no_leak(info.value, token)
    with exactly(jose.CriticalHeaderError):
        jose.jws.verify(token, key)


@pytest.mark.parametrize("crit", [[], "x-a", [1], None, {"x": 1}])
def test_malformed_crit_rejected(crit: object, private_keys: dict[str, jose.Key]) -> None:
    """``crit`` must be a non-empty array of strings; anything else is a malformed header."""
    key = private_keys["HS256"]
    token = forge(key, {"alg": "HS256", "crit": crit}, claims())
    with exactly(jose.MalformedTokenError):
        jose.decode(token, key, now=NOW)


def test_b64_header_without_crit_rejected(private_keys: dict[str, jose.Key]) -> None:
    """``b64`` (RFC 7797 unencoded payload) is refused even when ``crit`` forgets to list it."""
    key = private_keys["HS256"]
    token = forge(key, {"alg": "HS256", "b64": False}, claims())
    with exactly(jose.CriticalHeaderError):
        jose.jws.verify(token, key)


# -- strict base64url ---------------------------------------------------------------------------


def _parts(key: jose.Key) -> tuple[str, str]:
    # A header and payload whose encodings need padding (length % 4 != 0).
    header = next(
        h for i in range(3) if len(h := segment({"alg": key.alg, "typ": "JWT", "x": "x" * i})) % 4
    )
    payload = next(p for i in range(3) if len(p := segment(claims(pad="x" * i))) % 4)
    return header, payload


def test_padded_b64_rejected(private_keys: dict[str, jose.Key]) -> None:
    """``=`` padding in any segment is rejected, even when the signature covers the padded bytes."""
    key = private_keys["HS256"]
    header, payload = _parts(key)
    pad = "=" * (-len(header) % 4)
    tokens = [
        forge(key, Segment(header + pad), Segment(payload)),
        forge(key, Segment(header), Segment(payload + "=" * (-len(payload) % 4))),
    ]
    good = forge(key, Segment(header), Segment(payload))
    sig = good.rsplit(".", 1)[1]
    tokens.append(good + "=" * (-len(sig) % 4))
    for token in tokens:
        with exactly(jose.MalformedTokenError) as info:
            jose.decode(token, key, now=NOW)
        assert_no_leak(info.value, token)
    assert jose.decode(good, key, now=NOW)["sub"] == "42"


@pytest.mark.parametrize("junk", [" ", "\n", "\t", "\r\n", "+", "/", "%3D", "\u00e9"])
def test_whitespace_b64_rejected(junk: str, private_keys: dict[str, jose.Key]) -> None:
    """Whitespace or characters outside the base64url alphabet in any segment are rejected."""
    key = private_keys["HS256"]
    header, payload = _parts(key)
    mid = len(payload) // 2
    tokens = [
        forge(key, Segment(header[:5] + junk + header[5:]), Segment(payload)),
        forge(key, Segment(header), Segment(payload[:mid] + junk + payload[mid:])),
    ]
    good = forge(key, Segment(header), Segment(payload))
    tokens.append(good[:-6] + junk + good[-6:])
    for token in tokens:
        with exactly(jose.MalformedTokenError):
            jose.decode(token, key, now=NOW)
        with exactly(jose.MalformedTokenError):
            jose.jws.verify(token, key)


_URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _noncanonical(encoded: str) -> str:
    """The same bytes spelled with non-zero unused trailing bits (a lenient decoder agrees)."""
    unused = {2: 0x0F, 3: 0x03}[len(encoded) % 4]
    last = _URL_ALPHABET.index(encoded[-1])
    assert last & unused == 0
    twin = encoded[:-1] + _URL_ALPHABET[last | 1]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(encoded + "==")
    return twin


def test_noncanonical_trailing_bits_rejected(private_keys: dict[str, jose.Key]) -> None:
    """A second spelling of the same bytes (non-zero trailing bits) is rejected in every segment."""
    key = private_keys["HS256"]
    header, payload = _parts(key)
    good = forge(key, Segment(header), Segment(payload))
    signing_input, sig = good.rsplit(".", 1)
    tokens = [
        forge(key, Segment(_noncanonical(header)), Segment(payload)),
        forge(key, Segment(header), Segment(_noncanonical(payload))),
        f"{signing_input}.{_noncanonical(sig)}",
    ]
    for token in tokens:
        with exactly(jose.MalformedTokenError) as info:
            jose.decode(token, key, now=NOW)
        assert "base64url" in str(info.value)


# -- strict JSON --------------------------------------------------------------------------------


def test_duplicate_member_names_rejected(private_keys: dict[str, jose.Key]) -> None:
    """Duplicate member names in header or payload are rejected (two parsers, two meanings)."""
    key = private_keys["HS256"]
    header = b'{"alg":"HS256","typ":"JWT"}'
    payload = json.dumps(claims()).encode()
    cases = [
        (b'{"alg":"HS256","alg":"none"}', payload),
        (b'{"alg":"HS256","kid":"a","kid":"b"}', payload),
        (header, payload[:-1] + b',"sub":"admin"}'),
        (header, b'{"exp":1,"exp":2000000000,"sub":"42"}'),
        (header, b'{"sub":"42","exp":2000000000,"x":{"a":1,"a":2}}'),
    ]
    for head, body in cases:
        token = forge(key, Segment(b64(head)), Segment(b64(body)))
        with exactly(jose.MalformedTokenError) as info:
            jose.decode(token, key, now=NOW)
        assert "duplicate" in str(info.value)
        assert_no_leak(info.value, token)


@pytest.mark.parametrize(
    "body",
    [
        b'{"sub":"42","exp":NaN}',
        b'{"sub":"42","exp":Infinity}',
        b'{"sub":"42","exp":-Infinity}',
        b'{"sub":"42","exp":1e999}',
        b'{"sub":"42","exp":2000000000,"nbf":-1e400}',
    ],
)
def test_nan_infinity_rejected(body: bytes, private_keys: dict[str, jose.Key]) -> None:
    """NaN and Infinity (literal or by overflow) are not JSON and never reach a date comparison."""
    key = private_keys["HS256"]
    token = forge(key, {"alg": "HS256"}, Segment(b64(body)))
    with exactly(jose.MalformedTokenError):
        jose.decode(token, key, now=NOW)
    head_token = forge(key, Segment(b64(b'{"alg":"HS256","x":NaN}')), claims())
    with exactly(jose.MalformedTokenError):
        jose.decode(head_token, key, now=NOW)


def test_lone_surrogate_escape_rejected(private_keys: dict[str, jose.Key]) -> None:
    """A claim holding half a surrogate pair is no text: it would break the service that logs or
    stores it (a 500 far from the token), so the token is malformed, in payload and header."""
    key = private_keys["HS256"]
    token = forge(key, {"alg": "HS256"}, Segment(b64(b'{"sub":"\\ud800","exp":2000000000}')))
    with exactly(jose.MalformedTokenError) as info:
        jose.decode(token, key, now=NOW)
    assert "surrogate" in str(info.value)
    head_token = forge(key, Segment(b64(b'{"alg":"HS256","kid":"\\udfff"}')), claims())
    with exactly(jose.MalformedTokenError):
        jose.decode(head_token, key, now=NOW)
    paired = forge(
        key, {"alg": "HS256"}, Segment(b64(b'{"sub":"\\ud83d\\ude00","exp":2000000000}'))
    )
    assert jose.decode(paired, key, now=NOW)["sub"] == "\U0001f600"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["2000000000", True, False, None, [2000000000], {"t": 1}])
def test_string_and_bool_dates_rejected(
    claim: str, value: object, private_keys: dict[str, jose.Key]
) -> None:
    """A NumericDate must be a JSON number: strings, booleans, null, arrays and objects fail."""
    key = private_keys["HS256"]
    token = forge(key, {"alg": "HS256"}, claims(**{claim: value}))
    with exactly(jose.InvalidClaimError) as info:
        jose.decode(token, key, now=NOW)
    assert info.value.claim == claim
    assert info.value.code == "invalid_claim"


@pytest.mark.parametrize("value", [[], ["alg"], "HS256", 1, 1.5, None, True])
def test_non_object_header_payload_rejected(
    value: object, private_keys: dict[str, jose.Key]
) -> None:
    """A header or payload that is valid JSON but not an object is a malformed token."""
    key = private_keys["HS256"]
    value = Segment(b64(json.dumps(value)))
    for token in (forge(key, value, claims()), forge(key, {"alg": "HS256"}, value)):
        with exactly(jose.MalformedTokenError) as info:
            jose.decode(token, key, now=NOW)
        assert "object" in str(info.value)
    with exactly(jose.MalformedTokenError):
        jose.peek_header(forge(key, value, claims()))
    with exactly(jose.MalformedTokenError):
        jose.peek_claims(forge(key, {"alg": "HS256"}, value))


def test_invalid_utf8_rejected(private_keys: dict[str, jose.Key]) -> None:
    """Header or payload bytes that are not UTF-8 are malformed, not decoded with a guess."""
    key = private_keys["HS256"]
    for token in (
        forge(key, Segment(b64(b'{"alg":"HS256","x":"\xff"}')), claims()),
        forge(key, {"alg": "HS256"}, Segment(b64(b'{"sub":"\xc3\x28","exp":2000000000}'))),
    ):
        with exactly(jose.MalformedTokenError):
            jose.decode(token, key, now=NOW)


# -- structure and size ------------------------------------------------------------------------


def test_wrong_segment_count_rejected(private_keys: dict[str, jose.Key]) -> None:
    """Anything but three dot-separated segments is malformed (and a JWE is named as such)."""
    key = private_keys["HS256"]
    good = jose.encode(claims(), key)
    header, payload, sig = good.split(".")
    cases = ["", ".", header, f"{header}.{payload}", f"{good}.", f"{good}.{sig}", "a.b.c.d.e.f"]
    for token in cases:
        with exactly(jose.MalformedTokenError) as info:
            jose.decode(token, key, now=NOW)
        assert_no_leak(info.value, good)
    with exactly(jose.MalformedTokenError, match="JWE"):
        jose.decode("a.b.c.d.e", key, now=NOW)


def test_non_string_token_rejected(private_keys: dict[str, jose.Key]) -> None:
    """A token that is not a string (None, a number, a dict) is a malformed token."""
    key = private_keys["HS256"]
    for token in (None, 1, {"alg": "HS256"}, ["a", "b", "c"]):
        with exactly(jose.MalformedTokenError):
            jose.decode(token, key, now=NOW)  # type: ignore[arg-type]


def test_oversized_token_rejected_before_decoding(private_keys: dict[str, jose.Key]) -> None:
    """Over ``max_size`` a token is refused before decoding: even invalid base64 is "too large"."""
    key = private_keys["HS256"]
    garbage = "!" * 8193  # not base64url, not three segments: only the size check can answer
    for call in (
        lambda t: jose.decode(t, key, now=NOW),
        lambda t: jose.jws.verify(t, key),
        lambda t: jose.Verifier(key).verify(t, now=NOW),
    ):
        with exactly(jose.TokenTooLargeError) as info:
            call(garbage)
        assert info.value.code == "token_too_large"
        with exactly(jose.TokenTooLargeError):
            call(garbage.encode())
    with exactly(jose.TokenTooLargeError):
        jose.decode("\u00e9" * 9000, key, now=NOW)
    # A valid token just over a custom limit is refused; a larger limit accepts it.
    token = jose.encode(claims(blob="x" * 300), key)
    with exactly(jose.TokenTooLargeError):
        jose.decode(token, key, max_size=len(token) - 1, now=NOW)
    assert jose.decode(token, key, max_size=len(token), now=NOW)["sub"] == "42"
    with exactly(jose.TokenTooLargeError):
        jose.jws.verify(token, key, max_size=100)
    big = jose.encode(claims(blob="x" * 9000), key)
    with exactly(jose.TokenTooLargeError):
        jose.decode(big, key, now=NOW)
    assert jose.decode(big, key, max_size=16384, now=NOW)["blob"] == "x" * 9000


# -- minimum key strength ---------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "size"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_short_hmac_secret_refused(alg: str, size: int) -> None:
    """An HMAC secret shorter than the hash output is refused at import, in every form."""
    short = b"s" * (size - 1)
    makers: list[Callable[[], object]] = [
        lambda: jose.Key.from_secret(short, alg),
        lambda: jose.Key.from_jwk({"kty": "oct", "k": b64(short), "alg": alg}),
        lambda: jose.Key.from_jwk({"kty": "oct", "k": b64(short)}, alg=alg),
    ]
    for make in makers:
        with exactly(jose.InvalidKeyError) as info:
            make()
        assert_no_leak(info.value, short, b64(short))
        assert str(size) in str(info.value)
    with exactly(jose.InvalidKeyError):
        jose.Key.from_secret(b"", alg)
    assert jose.Key.from_secret(b"s" * size, alg).alg == alg


@pytest.fixture(scope="module")
def rsa_1024() -> rsa.RSAPrivateKey:
    """A 1024-bit RSA key, below the 2048-bit minimum."""
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


@pytest.mark.parametrize("alg", ["RS256", "PS256", "RS512"])
def test_small_rsa_refused(alg: str, rsa_1024: rsa.RSAPrivateKey) -> None:
    """RSA keys under 2048 bits are refused as PEM (private and public), JWK and by generate."""
    private_pem = rsa_1024.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = rsa_1024.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    numbers = rsa_1024.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "alg": alg,
        "n": b64(numbers.n.to_bytes(128, "big")),
        "e": b64(numbers.e.to_bytes(3, "big")),
    }
    makers: list[Callable[[], object]] = [
        lambda: jose.Key.from_pem(private_pem, alg=alg),
        lambda: jose.Key.from_pem(public_pem, alg=alg),
        lambda: jose.Key.from_jwk(jwk),
        lambda: jose.Key.generate(alg, size=1024),
    ]
    for make in makers:
        with exactly(jose.InvalidKeyError) as info:
            make()
        assert "2048" in str(info.value)
        assert_no_leak(info.value, private_pem.decode(), jwk["n"])


@pytest.mark.parametrize(
    ("curve", "wrong_alg"),
    [
        (ec.SECP256R1(), "ES384"),
        (ec.SECP256R1(), "ES512"),
        (ec.SECP384R1(), "ES256"),
        (ec.SECP521R1(), "ES384"),
    ],
)
def test_ec_curve_alg_mismatch_refused(curve: ec.EllipticCurve, wrong_alg: str) -> None:
    """An EC key is refused for an algorithm of another curve, whatever the import path."""
    private = ec.generate_private_key(curve)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    right = jose.Key.from_pem(pem)
    jwk = right.public().to_jwk()
    jwk["alg"] = wrong_alg
    makers: list[Callable[[], object]] = [
        lambda: jose.Key.from_pem(pem, alg=wrong_alg),
        lambda: jose.Key.from_jwk(jwk),
        lambda: jose.Key.from_jwk({k: v for k, v in jwk.items() if k != "alg"}, alg=wrong_alg),
    ]
    for make in makers:
        with exactly(jose.InvalidKeyError) as info:
            make()
        assert wrong_alg in str(info.value)
    # A token claiming the other curve's algorithm is not verified with this key.
    token = forge(right, {"alg": wrong_alg}, claims())
    with exactly(jose.AlgorithmNotAllowedError):
        jose.decode(token, right.public(), now=NOW)


def test_unsupported_curve_refused() -> None:
    """A key on a curve no JWS algorithm uses (secp256k1, X25519) is refused."""
    k1 = ec.generate_private_key(ec.SECP256K1())
    pem = k1.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with exactly(jose.InvalidKeyError):
        jose.Key.from_pem(pem)
    with exactly(jose.InvalidKeyError):
        jose.Key.from_pem(pem, alg="ES256")
    with exactly(jose.InvalidKeyError):
        jose.Key.from_jwk({"kty": "OKP", "crv": "X25519", "x": b64(b"\x09" * 32)})


# -- ECDSA signature encoding -------------------------------------------------------------------


_EC: dict[str, tuple[ec.EllipticCurve, hashes.HashAlgorithm, int]] = {
    "ES256": (ec.SECP256R1(), hashes.SHA256(), 32),
    "ES384": (ec.SECP384R1(), hashes.SHA384(), 48),
    "ES512": (ec.SECP521R1(), hashes.SHA512(), 66),
}


def _ec_pair(alg: str) -> tuple[ec.EllipticCurvePrivateKey, jose.Key]:
    private = ec.generate_private_key(_EC[alg][0])
    key = jose.Key.from_pem(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return private, key.public()


@pytest.mark.parametrize("alg", list(_EC))
def test_der_ecdsa_signature_rejected(alg: str) -> None:
    """A DER-encoded ECDSA signature is rejected; the same r, s as raw r||s verifies."""
    private, public = _ec_pair(alg)
    _, digest, size = _EC[alg]
    signing_input = f"{segment({'alg': alg})}.{segment(claims())}"
    der = private.sign(signing_input.encode(), ec.ECDSA(digest))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    assert jose.decode(f"{signing_input}.{b64(raw)}", public, now=NOW)["sub"] == "42"
    token = f"{signing_input}.{b64(der)}"
    with exactly(jose.BadSignatureError) as info:
        jose.decode(token, public, now=NOW)
    assert_no_leak(info.value, token)


@pytest.mark.parametrize("alg", list(_EC))
def test_wrong_length_ecdsa_signature_rejected(alg: str) -> None:
    """Raw signatures one byte short, one byte long, or minimally encoded (no zero pad) fail."""
    private, public = _ec_pair(alg)
    _, digest, size = _EC[alg]
    signing_input = f"{segment({'alg': alg})}.{segment(claims())}"
    while True:  # a signature whose r has a leading zero byte, to test the unpadded form
        r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(digest)))
        if alg != "ES512" or r.bit_length() <= (size - 1) * 8:
            break
    raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    minimal = r.to_bytes((r.bit_length() + 7) // 8, "big") + s.to_bytes(size, "big")
    # s with an extra leading zero byte keeps its value: only the length check refuses it.
    zero_padded_s = raw[:size] + b"\x00" + raw[size:]
    bad = [raw[:-1], raw + b"\x00", b"\x00" + raw, raw[: size * 2 - 2], raw * 2, b"", zero_padded_s]
    if len(minimal) != len(raw):
        bad.append(minimal)
    for signature in bad:
        with exactly(jose.BadSignatureError):
            jose.decode(f"{signing_input}.{b64(signature)}", public, now=NOW)


@pytest.mark.parametrize("alg", list(_EC))
def test_psychic_signature_rejected(alg: str) -> None:
    """CVE-2022-21449: r = s = 0 (and r or s zero, or equal to the group order) never verifies."""
    private, public = _ec_pair(alg)
    _, digest, size = _EC[alg]
    signing_input = f"{segment({'alg': alg})}.{segment(claims())}"
    r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(digest)))
    orders = {
        "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        "ES384": int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
        "ES512": int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
    }
    n = orders[alg]
    pairs = [(0, 0), (0, s), (r, 0), (n, n), (n, s), (r + n, s)]
    for rr, ss in pairs:
        if rr.bit_length() > size * 8:
            continue
        signature = rr.to_bytes(size, "big") + ss.to_bytes(size, "big")
        with exactly(jose.BadSignatureError):
            jose.decode(f"{signing_input}.{b64(signature)}", public, now=NOW)
    # The zero signature is also refused through a Verifier and a key set.
    zero = f"{signing_input}.{b64(bytes(2 * size))}"
    with exactly(jose.BadSignatureError):
        jose.Verifier(jose.KeySet([public])).verify(zero, now=NOW)
    assert encode_dss_signature(r, s)  # the real signature was well formed


# -- key sets --------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["HS256", "ES256", "EdDSA", "RS256"])
def test_signature_from_other_kid_not_accepted_under_wrong_kid(alg: str, rsa_pem: bytes) -> None:
    """A token signed by key B but naming key A's kid fails, though B is in the same set."""
    if alg == "RS256":
        a = jose.Key.from_pem(rsa_pem, alg=alg, kid="a")
    else:
        a = jose.Key.generate(alg, kid="a")
    b = jose.Key.generate(alg, kid="b")
    keys = [a, b] if alg == "HS256" else [a.public(), b.public()]
    key_set = jose.KeySet(keys)
    honest = forge(b, {"alg": alg, "kid": "b"}, claims())
    assert jose.decode(honest, key_set, now=NOW)["sub"] == "42"
    lying = forge(b, {"alg": alg, "kid": "a"}, claims())
    with exactly(jose.BadSignatureError) as info:
        jose.decode(lying, key_set, now=NOW)
    assert_no_leak(info.value, lying)
    with exactly(jose.BadSignatureError):
        jose.Verifier(key_set).verify(lying, now=NOW)
    # Without a kid, a set with two keys for the algorithm does not guess.
    anonymous = forge(b, {"alg": alg}, claims())
    with exactly(jose.NoMatchingKeyError):
        jose.decode(anonymous, key_set, now=NOW)


def test_duplicate_kid_in_key_set_refused() -> None:
    """Two keys may not share a kid: a lookup must have exactly one answer."""
    with exactly(jose.InvalidKeyError):
        jose.KeySet([jose.Key.generate("HS256", kid="x"), jose.Key.generate("HS256", kid="x")])


def test_key_set_mixing_secrets_and_public_keys_refused(verify_keys: dict[str, jose.Key]) -> None:
    """A set holding an HMAC secret beside public keys invites confusion and is refused."""
    with exactly(jose.InvalidKeyError):
        jose.KeySet([verify_keys["HS256"], verify_keys["ES256"]])


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_signature_of_wrong_length_rejected(alg: str, rsa_pem: bytes) -> None:
    """An RSA signature is exactly the modulus length (cryptography alone accepts trimmed PSS)."""
    key = jose.Key.from_pem(rsa_pem, alg=alg)
    public = key.public()
    for n in range(4000):  # find a signature whose first byte is zero (about 1 in 256)
        signing_input = f"{segment({'alg': alg})}.{segment(claims(n=n))}"
        signature = key.sign(signing_input.encode())
        if signature[0] == 0:
            break
    else:
        pytest.fail("no signature with a leading zero byte found")
    assert jose.decode(f"{signing_input}.{b64(signature)}", public, now=NOW)["n"] == n
    for bad in (signature[1:], b"\x00" + signature, signature + b"\x00", signature[:-1]):
        with exactly(jose.BadSignatureError):
            jose.decode(f"{signing_input}.{b64(bad)}", public, now=NOW)
