"""Keys for the jose tests, made once per session (RSA key generation is slow)."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jotauth import jose


@pytest.fixture(scope="session")
def rsa_pem() -> bytes:
    """One 2048-bit RSA private key as PKCS#8 PEM, bound per test to RS*/PS* algorithms."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="session")
def private_keys(rsa_pem: bytes) -> dict[str, jose.Key]:
    """A private key (or secret) for every algorithm jotauth implements.

    Labels are the algorithm names, plus ``EdDSA-Ed448``: an Ed448 key bound to ``EdDSA``
    (``EdDSA`` alone makes an Ed25519 key).
    """
    keys: dict[str, jose.Key] = {}
    for alg in jose.ALGORITHMS:
        if alg[:2] in ("RS", "PS"):
            keys[alg] = jose.Key.from_pem(rsa_pem, alg=alg)
        else:
            keys[alg] = jose.Key.generate(alg)
    keys["EdDSA-Ed448"] = jose.Key.generate("EdDSA", crv="Ed448")
    return keys


@pytest.fixture(scope="session")
def verify_keys(private_keys: dict[str, jose.Key]) -> dict[str, jose.Key]:
    """The key that verifies each algorithm: the public half, or the secret itself for HMAC."""
    return {alg: k if k.kty == "oct" else k.public() for alg, k in private_keys.items()}


@pytest.fixture(scope="session")
def jwe_keys(rsa_pem: bytes) -> dict[str, jose.Key]:
    """A JWE private key (or secret) for every label of tests/jose/jwe_labels.py."""
    from tests.jose.jwe_labels import make_keys

    return make_keys(rsa_pem)
