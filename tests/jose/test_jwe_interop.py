"""JWE interoperability with joserfc and jwcrypto, both directions, every alg/enc pair.

Each library encrypts to the public half of a jotauth key (exported as a JWK) and jotauth
decrypts; jotauth encrypts and the library decrypts with the private JWK. RSA1_5 goes one way
only: jotauth never encrypts with it, and decrypts a peer's RSA1_5 token with the opt-in.
Multi-recipient JSON and nested JWTs are checked against jwcrypto, which implements both.

panva/jose (node) is covered by test_jwe_interop_node.py, which needs node and an opt-in.
"""

import json
import warnings
from typing import Any

import pytest
from joserfc import jwe as rfc_jwe
from joserfc.jwk import JWKRegistry
from jwcrypto import jwe as c_jwe, jwk as c_jwk, jws as c_jws, jwt as c_jwt
from tests.jose.jwe_labels import ALL_LABELS, LABELS, alg_of, options_for, pair

from jotauth import jose
from jotauth.jose import jwe

PLAINTEXT = b'{"sub":"42","scope":"read"}'
# joserfc warns about algorithms RFC 8725 discourages (RSA1_5, the PBES2 family); expected here.
pytestmark = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")


def _jwks(public: jose.Key, private: jose.Key) -> tuple[dict[str, Any], dict[str, Any]]:
    secret = private.kty == "oct"
    return public.to_jwk(private=secret), private.to_jwk(private=True)


def _joserfc_algorithms(label: str, enc: str) -> list[str]:
    return [alg_of(label), enc]


@pytest.mark.parametrize("enc", jwe.ENCRYPTIONS)
@pytest.mark.parametrize("label", ALL_LABELS)
def test_joserfc_tokens_decrypt_in_jotauth(
    label: str, enc: str, jwe_keys: dict[str, jose.Key]
) -> None:
    """joserfc's compact JWE to our public key decrypts in jotauth."""
    public, private = pair(jwe_keys, label, enc)
    key = JWKRegistry.import_key(_jwks(public, private)[0])
    header = {"alg": alg_of(label), "enc": enc}
    token = rfc_jwe.encrypt_compact(header, PLAINTEXT, key, algorithms=[*header.values()])
    assert jwe.decrypt(token, private, **options_for(label)) == PLAINTEXT


@pytest.mark.parametrize("enc", jwe.ENCRYPTIONS)
@pytest.mark.parametrize("label", LABELS)
def test_jotauth_tokens_decrypt_in_joserfc(
    label: str, enc: str, jwe_keys: dict[str, jose.Key]
) -> None:
    """jotauth's compact JWE decrypts in joserfc with the private JWK."""
    public, private = pair(jwe_keys, label, enc)
    token = jwe.encrypt(PLAINTEXT, public, enc=enc)
    key = JWKRegistry.import_key(_jwks(public, private)[1])
    got = rfc_jwe.decrypt_compact(token, key, algorithms=[alg_of(label), enc])
    assert got.plaintext == PLAINTEXT


def _jwcrypto_encrypt(jwk: dict[str, Any], header: dict[str, Any]) -> str:
    message = c_jwe.JWE(PLAINTEXT, protected=json.dumps(header))
    message.allowed_algs = [header["alg"], header["enc"]]
    message.add_recipient(c_jwk.JWK(**jwk))
    token: str = message.serialize(compact=True)
    return token


@pytest.mark.parametrize("enc", jwe.ENCRYPTIONS)
@pytest.mark.parametrize("label", ALL_LABELS)
def test_jwcrypto_tokens_decrypt_in_jotauth(
    label: str, enc: str, jwe_keys: dict[str, jose.Key]
) -> None:
    """jwcrypto's compact JWE to our public key decrypts in jotauth."""
    public, private = pair(jwe_keys, label, enc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # jwcrypto on RSA1_5
        token = _jwcrypto_encrypt(_jwks(public, private)[0], {"alg": alg_of(label), "enc": enc})
    assert jwe.decrypt(token, private, **options_for(label)) == PLAINTEXT


@pytest.mark.parametrize("enc", jwe.ENCRYPTIONS)
@pytest.mark.parametrize("label", LABELS)
def test_jotauth_tokens_decrypt_in_jwcrypto(
    label: str, enc: str, jwe_keys: dict[str, jose.Key]
) -> None:
    """jotauth's compact JWE decrypts in jwcrypto with the private JWK."""
    public, private = pair(jwe_keys, label, enc)
    token = jwe.encrypt(PLAINTEXT, public, enc=enc)
    message = c_jwe.JWE()
    message.allowed_algs = [alg_of(label), enc]
    message.deserialize(token, key=c_jwk.JWK(**_jwks(public, private)[1]))
    assert message.payload == PLAINTEXT


MULTI = ["RSA-OAEP-256", "ECDH-ES+A256KW/P-256", "ECDH-ES+A128KW/X25519", "A192KW", "A256GCMKW"]


def test_jwcrypto_multi_recipient_json_decrypts_in_jotauth(jwe_keys: dict[str, jose.Key]) -> None:
    """A jwcrypto general JSON JWE to five recipients decrypts in jotauth with each key."""
    message = c_jwe.JWE(PLAINTEXT, protected=json.dumps({"enc": "A128CBC-HS256"}))
    for label in MULTI:
        public, private = pair(jwe_keys, label, "A128CBC-HS256")
        message.add_recipient(c_jwk.JWK(**_jwks(public, private)[0]), {"alg": alg_of(label)})
    text = message.serialize()
    for label in MULTI:
        assert jwe.decrypt_json(text, jwe_keys[label]).plaintext == PLAINTEXT


def test_jotauth_multi_recipient_json_decrypts_in_jwcrypto(jwe_keys: dict[str, jose.Key]) -> None:
    """jotauth's general JSON JWE to five recipients decrypts in jwcrypto with each key."""
    publics = [pair(jwe_keys, label, "A256GCM")[0] for label in MULTI]
    text = jwe.encrypt_json(PLAINTEXT, publics, aad=b"context")
    for label in MULTI:
        message = c_jwe.JWE()
        message.deserialize(text, key=c_jwk.JWK(**jwe_keys[label].to_jwk(private=True)))
        assert message.payload == PLAINTEXT
    flat = jwe.encrypt_json(PLAINTEXT, publics[0], flatten=True)
    message = c_jwe.JWE()
    message.deserialize(flat, key=c_jwk.JWK(**jwe_keys[MULTI[0]].to_jwk(private=True)))
    assert message.payload == PLAINTEXT


def test_nested_jwt_both_ways_with_jwcrypto(jwe_keys: dict[str, jose.Key]) -> None:
    """A nested JWT made by jotauth opens in jwcrypto, and one made by jwcrypto verifies in a
    decrypting jotauth Verifier."""
    signer = jose.Key.generate("ES256")
    enc_key = jwe_keys["ECDH-ES+A256KW/P-256"]
    claims = {"sub": "42", "exp": 2_000_000_000}
    token = jose.encode(claims, signer, encrypt_to=enc_key.public())
    outer = c_jwt.JWT(jwt=token, key=c_jwk.JWK(**enc_key.to_jwk(private=True)), expected_type="JWE")
    inner = c_jws.JWS()
    inner.deserialize(outer.claims, key=c_jwk.JWK(**signer.public().to_jwk()))
    assert json.loads(inner.payload) == claims

    signed = c_jwt.JWT(header={"alg": "ES256", "kid": signer.kid}, claims=claims)
    signed.make_signed_token(c_jwk.JWK(**signer.to_jwk(private=True)))
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JWT", "kid": enc_key.kid}
    nested = c_jwt.JWT(header=header, claims=signed.serialize())
    nested.make_encrypted_token(c_jwk.JWK(**enc_key.public().to_jwk()))
    verifier = jose.Verifier(signer.public(), decrypt_with=enc_key)
    assert verifier.verify(nested.serialize(), now=1_900_000_000) == claims
