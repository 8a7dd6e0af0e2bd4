"""Interoperability with PyJWT, joserfc and jwcrypto, in both directions, for every algorithm.

jotauth tokens must verify in each library and each library's tokens must verify in jotauth;
JWKs exported by jotauth must import there and come back with the same RFC 7638 thumbprint.
Keys come from the session fixtures (tests/jose/conftest.py). The claims use the real clock
because the other libraries check ``exp`` against it.
"""

import base64
import json
import time
import warnings
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import JWKRegistry
from jwcrypto import jwk as jwcrypto_jwk, jwt as jwcrypto_jwt
from jwt.algorithms import OKPAlgorithm

from jotauth import jose

# "EdDSA-Ed448" is a label for EdDSA with an Ed448 key; every other label is the JWS alg itself.
LABELS = [*jose.ALGORITHMS, "EdDSA-Ed448"]
# RFC 9864's fully-specified names, which PyJWT does not know (see the tests at the end).
FULLY_SPECIFIED = ("Ed25519", "Ed448")
PYJWT_LABELS = [label for label in LABELS if label not in FULLY_SPECIFIED]


def _alg(label: str) -> str:
    return "EdDSA" if label == "EdDSA-Ed448" else label


# joserfc warns that the polymorphic "EdDSA" is deprecated by RFC 9864 (in favour of "Ed25519"
# and "Ed448"); jotauth's default is still "EdDSA" (docs/security.md says why), so that warning
# is expected here; test_ed25519_tokens_raise_no_deprecation_warning_in_joserfc checks that the
# fully-specified names raise none.
EDDSA_DEPRECATED = pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "user-7", "iss": "https://issuer.example", "iat": now, "exp": now + 300}


def _pyjwt_key(key: jose.Key, private: bool) -> Any:
    """PyJWT takes PEM for asymmetric keys and raw bytes for HMAC."""
    if key.kty == "oct":
        return jose_secret(key)
    return key.to_pem(private=private)


def jose_secret(key: jose.Key) -> bytes:
    """The raw HMAC secret, through the public JWK export."""
    k = key.to_jwk(private=True)["k"]
    return base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))


def _joserfc_key(key: jose.Key, private: bool) -> Any:
    return JWKRegistry.import_key(key.to_jwk(private=private or key.kty == "oct"))


def _jwcrypto_key(key: jose.Key, private: bool) -> jwcrypto_jwk.JWK:
    return jwcrypto_jwk.JWK(**key.to_jwk(private=private or key.kty == "oct"))


@pytest.mark.parametrize("label", PYJWT_LABELS)
def test_jotauth_tokens_verify_in_pyjwt(label: str, private_keys: dict[str, jose.Key]) -> None:
    """A token from jose.encode verifies in PyJWT with the public key and the same claims."""
    key = private_keys[label]
    claims = _claims()
    token = jose.encode(claims, key)
    got = pyjwt.decode(token, _pyjwt_key(key, private=False), algorithms=[_alg(label)])
    assert got == claims
    assert pyjwt.get_unverified_header(token)["kid"] == key.kid


@pytest.mark.parametrize("label", PYJWT_LABELS)
def test_pyjwt_tokens_verify_in_jotauth(
    label: str, private_keys: dict[str, jose.Key], verify_keys: dict[str, jose.Key]
) -> None:
    """A token from PyJWT (with and without kid) verifies in jotauth, alone and in a key set."""
    key = private_keys[label]
    claims = _claims()
    token = pyjwt.encode(
        claims, _pyjwt_key(key, private=True), algorithm=_alg(label), headers={"kid": key.kid}
    )
    assert jose.decode(token, verify_keys[label], issuer=claims["iss"]) == claims
    assert jose.decode(token, jose.KeySet([verify_keys[label]])) == claims
    bare = pyjwt.encode(claims, _pyjwt_key(key, private=True), algorithm=_alg(label))
    assert jose.Verifier(verify_keys[label]).verify(bare) == claims


@EDDSA_DEPRECATED
@pytest.mark.parametrize("label", LABELS)
def test_jotauth_tokens_verify_in_joserfc(label: str, private_keys: dict[str, jose.Key]) -> None:
    """A token from jose.encode verifies in joserfc with the imported public JWK."""
    key = private_keys[label]
    claims = _claims()
    token = jose.encode(claims, key)
    got = joserfc_jwt.decode(token, _joserfc_key(key, private=False), algorithms=[_alg(label)])
    assert got.claims == claims
    assert got.header["alg"] == _alg(label)


@EDDSA_DEPRECATED
@pytest.mark.parametrize("label", LABELS)
def test_joserfc_tokens_verify_in_jotauth(
    label: str, private_keys: dict[str, jose.Key], verify_keys: dict[str, jose.Key]
) -> None:
    """A token from joserfc verifies in jotauth."""
    key = private_keys[label]
    claims = _claims()
    token = joserfc_jwt.encode(
        {"alg": _alg(label), "kid": key.kid},
        claims,
        _joserfc_key(key, private=True),
        algorithms=[_alg(label)],
    )
    assert jose.decode(token, jose.KeySet([verify_keys[label]])) == claims


@pytest.mark.parametrize("label", LABELS)
def test_jotauth_tokens_verify_in_jwcrypto(label: str, private_keys: dict[str, jose.Key]) -> None:
    """A token from jose.encode verifies in jwcrypto with the imported public JWK."""
    key = private_keys[label]
    claims = _claims()
    token = jose.encode(claims, key)
    parsed = jwcrypto_jwt.JWT(jwt=token, key=_jwcrypto_key(key, private=False), algs=[_alg(label)])
    assert json.loads(parsed.claims) == claims


@pytest.mark.parametrize("label", LABELS)
def test_jwcrypto_tokens_verify_in_jotauth(
    label: str, private_keys: dict[str, jose.Key], verify_keys: dict[str, jose.Key]
) -> None:
    """A token from jwcrypto verifies in jotauth."""
    key = private_keys[label]
    claims = _claims()
    token = jwcrypto_jwt.JWT(header={"alg": _alg(label), "kid": key.kid}, claims=claims)
    token.make_signed_token(_jwcrypto_key(key, private=True))
    assert jose.decode(token.serialize(), jose.KeySet([verify_keys[label]])) == claims


def _thumbprint_via(library: str, jwk: dict[str, Any], alg: str) -> str:
    """Import ``jwk`` into ``library``, export it again, and re-import into jotauth."""
    if library == "pyjwt":
        # PyJWT binds Edwards keys only to "EdDSA"; the key material is what is compared here.
        named = "EdDSA" if alg in FULLY_SPECIFIED else alg
        algorithm = pyjwt.PyJWK(jwk, algorithm=named).Algorithm
        back = algorithm.to_jwk(pyjwt.PyJWK(jwk, algorithm=named).key, as_dict=True)
    elif library == "joserfc":
        back = JWKRegistry.import_key(jwk).as_dict(private="d" in jwk or jwk["kty"] == "oct")
    else:
        back = jwcrypto_jwk.JWK(**jwk).export(
            private_key="d" in jwk or jwk["kty"] == "oct", as_dict=True
        )
    back = {k: v for k, v in back.items() if k not in ("alg", "kid", "use", "key_ops")}
    return jose.Key.from_jwk(back, alg=alg).thumbprint()


@pytest.mark.parametrize("library", ["pyjwt", "joserfc", "jwcrypto"])
@pytest.mark.parametrize("label", LABELS)
def test_jwk_round_trip(label: str, library: str, private_keys: dict[str, jose.Key]) -> None:
    """Private and public JWKs exported by jotauth import into the library and come back equal."""
    key = private_keys[label]
    private_jwk = key.to_jwk(private=True)
    assert _thumbprint_via(library, private_jwk, _alg(label)) == key.thumbprint()
    if key.kty != "oct":
        public_jwk = key.public().to_jwk()
        assert _thumbprint_via(library, public_jwk, _alg(label)) == key.thumbprint()


@pytest.mark.parametrize("label", ["RS256", "ES256", "EdDSA"])
def test_jwks_from_libraries_import(label: str, private_keys: dict[str, jose.Key]) -> None:
    """A JWK Set exported by jwcrypto and joserfc imports as a jotauth KeySet with the same kid."""
    key = private_keys[label].public()
    jwk = key.to_jwk()
    jwcrypto_set = jwcrypto_jwk.JWKSet()
    jwcrypto_set.add(jwcrypto_jwk.JWK(**jwk))
    imported = jose.KeySet.from_jwks(jwcrypto_set.export(private_keys=False, as_dict=True))
    assert imported.get(key.kid).thumbprint() == key.thumbprint()
    joserfc_key = JWKRegistry.import_key(jwk)
    imported = jose.KeySet.from_jwks({"keys": [joserfc_key.as_dict(private=False)]})
    assert imported.get(key.kid).thumbprint() == key.thumbprint()


# -- RFC 9864 fully-specified EdDSA names (issue 12, point 14) ------------------------------------


def _pyjwt_with_fully_specified_names() -> pyjwt.PyJWS:
    """PyJWT's JWS layer taught the RFC 9864 names: its OKP algorithm does both curves."""
    jws = pyjwt.PyJWS()
    for name in FULLY_SPECIFIED:
        jws.register_algorithm(name, OKPAlgorithm())
    return jws


@pytest.mark.parametrize("alg", FULLY_SPECIFIED)
def test_fully_specified_eddsa_interop_with_pyjwt(alg: str) -> None:
    """Ed25519/Ed448 tokens go both ways with PyJWT once it is taught the names, as it is not."""
    key = jose.Key.generate(alg)
    claims = _claims()
    token = jose.encode(claims, key)
    # Out of the box PyJWT (the version in the lock file) refuses the name: this is why the
    # issuer still signs with "EdDSA" by default (docs/security.md).
    with pytest.raises(pyjwt.InvalidAlgorithmError, match="not supported"):
        pyjwt.decode(token, key.to_pem(), algorithms=[alg])
    with pytest.raises(pyjwt.PyJWKError):
        pyjwt.PyJWK(key.to_jwk())
    jws = _pyjwt_with_fully_specified_names()
    assert json.loads(jws.decode(token, key.to_pem(), algorithms=[alg])) == claims
    theirs = jws.encode(
        json.dumps(claims).encode(),
        key.to_pem(private=True),
        algorithm=alg,
        headers={"kid": key.kid},
    )
    assert jose.peek_header(theirs)["alg"] == alg
    assert jose.decode(theirs, jose.KeySet([key.public()]), algorithms=[alg]) == claims


@pytest.mark.parametrize("alg", FULLY_SPECIFIED)
def test_ed25519_tokens_raise_no_deprecation_warning_in_joserfc(alg: str) -> None:
    """joserfc verifies fully-specified jotauth tokens without its EdDSA deprecation warning."""
    key = jose.Key.generate(alg)
    claims = _claims()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = joserfc_jwt.decode(
            jose.encode(claims, key), _joserfc_key(key, private=False), algorithms=[alg]
        )
        theirs = joserfc_jwt.encode(
            {"alg": alg, "kid": key.kid}, claims, _joserfc_key(key, private=True), algorithms=[alg]
        )
    assert got.claims == claims
    assert jose.decode(theirs, jose.KeySet([key.public()]), algorithms=[alg]) == claims


@EDDSA_DEPRECATED
@pytest.mark.parametrize("library", ["joserfc", "jwcrypto"])
def test_eddsa_key_verifies_peers_ed25519_tokens(library: str) -> None:
    """A jotauth key bound to EdDSA (today's issuer keys) verifies a peer's ``Ed25519`` token."""
    key = jose.Key.generate("EdDSA")
    claims = _claims()
    if library == "joserfc":
        # joserfc will not sign Ed25519 with a JWK that says "alg": "EdDSA"; the peer's own key
        # carries no alg (or "Ed25519"), and the verifying side is jotauth's EdDSA-bound key.
        jwk = {name: value for name, value in key.to_jwk(private=True).items() if name != "alg"}
        token = joserfc_jwt.encode(
            {"alg": "Ed25519", "kid": key.kid},
            claims,
            JWKRegistry.import_key(jwk),
            algorithms=["Ed25519"],
        )
    else:
        signed = jwcrypto_jwt.JWT(header={"alg": "Ed25519", "kid": key.kid}, claims=claims)
        signed.make_signed_token(_jwcrypto_key(key, private=True))
        token = signed.serialize()
    assert jose.decode(token, jose.KeySet([key.public()])) == claims
    assert jose.decode(token, key.public(), algorithms=["Ed25519"]) == claims
