"""Interoperability with PyJWT, joserfc and jwcrypto, in both directions, for every algorithm.

jotauth tokens must verify in each library and each library's tokens must verify in jotauth;
JWKs exported by jotauth must import there and come back with the same RFC 7638 thumbprint.
Keys come from the session fixtures (tests/jose/conftest.py). The claims use the real clock
because the other libraries check ``exp`` against it.
"""

import base64
import json
import time
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import JWKRegistry
from jwcrypto import jwk as jwcrypto_jwk, jwt as jwcrypto_jwt

from jotauth import jose

# "Ed448" is a label for EdDSA with an Ed448 key; every other label is the JWS alg itself.
LABELS = [*jose.ALGORITHMS, "Ed448"]


def _alg(label: str) -> str:
    return "EdDSA" if label == "Ed448" else label


# joserfc warns that the polymorphic "EdDSA" is deprecated by RFC 9864 (in favour of "Ed25519"
# and "Ed448"); the contract's algorithm is "EdDSA", so that one warning is expected here.
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


@pytest.mark.parametrize("label", LABELS)
def test_jotauth_tokens_verify_in_pyjwt(label: str, private_keys: dict[str, jose.Key]) -> None:
    """A token from jose.encode verifies in PyJWT with the public key and the same claims."""
    key = private_keys[label]
    claims = _claims()
    token = jose.encode(claims, key)
    got = pyjwt.decode(token, _pyjwt_key(key, private=False), algorithms=[_alg(label)])
    assert got == claims
    assert pyjwt.get_unverified_header(token)["kid"] == key.kid


@pytest.mark.parametrize("label", LABELS)
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
        algorithm = pyjwt.PyJWK(jwk, algorithm=alg).Algorithm
        back = algorithm.to_jwk(pyjwt.PyJWK(jwk, algorithm=alg).key, as_dict=True)
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
