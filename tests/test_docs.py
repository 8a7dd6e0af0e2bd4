"""The migration guide's snippets, run for real against PyJWT and python-jose."""

import time
import warnings

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jotauth import jose

SECRET = b"s" * 32
ISSUER = "https://auth.example"


def _claims() -> dict[str, object]:
    return {"sub": "42", "aud": "api", "iss": ISSUER, "exp": int(time.time()) + 60}


def test_pyjwt_and_jotauth_read_each_others_hs256_tokens() -> None:
    """The PyJWT and jotauth spellings of the same HS256 round trip agree."""
    key = jose.Key.from_secret(SECRET, "HS256")
    theirs = jwt.encode(_claims(), SECRET, algorithm="HS256")
    ours = jose.encode(_claims(), key)
    assert jose.decode(theirs, key, audience="api", issuer=ISSUER)["sub"] == "42"
    assert (
        jwt.decode(ours, SECRET, algorithms=["HS256"], audience="api", issuer=ISSUER)["sub"] == "42"
    )


def test_rsa_pem_is_loaded_with_its_algorithm_named() -> None:
    """from_pem(pem, "RS256") replaces algorithms=["RS256"]; a Verifier replaces decode loops."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = jose.Verifier(jose.Key.from_pem(pem, "RS256"), audience="api", issuer=ISSUER)
    assert verifier.verify(jwt.encode(_claims(), private, algorithm="RS256"))["sub"] == "42"
    with pytest.raises(jose.InvalidKeyError, match="alg="):
        jose.Key.from_pem(pem)


def test_a_token_with_an_audience_needs_one_named() -> None:
    """Where PyJWT would skip aud, jotauth refuses and says how to fix it."""
    key = jose.Key.from_secret(SECRET, "HS256")
    with pytest.raises(jose.InvalidClaimError, match="names none; pass audience=") as info:
        jose.decode(jose.encode(_claims(), key), key, issuer=ISSUER)
    assert info.value.claim == "aud"


def test_python_jose_tokens_verify_in_jotauth() -> None:
    """A python-jose HS256 token decodes with the same jose.decode call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # python-jose's own deprecation warnings
        from jose import jwt as python_jose_jwt

        token = python_jose_jwt.encode(_claims(), SECRET.decode(), algorithm="HS256")
    key = jose.Key.from_secret(SECRET, "HS256")
    assert jose.decode(token, key, audience="api", issuer=ISSUER)["sub"] == "42"
