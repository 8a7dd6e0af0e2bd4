"""jotauth.jose: strict, fast JWS / JWE / JWK / JWT on pyca/cryptography.

    >>> from jotauth import jose
    >>> key = jose.Key.generate("Ed25519")
    >>> token = jose.encode({"sub": "42", "exp": 2_000_000_000}, key)
    >>> jose.decode(token, key.public(), now=1_900_000_000)["sub"]
    '42'

This package does no I/O and imports only the standard library, ``cryptography``, ``orjson``
(the fast JSON path of ``_json.py``) and ``jotauth.errors`` (tests/test_layering.py checks it).
"""

from jotauth.jose import dpop, jwe, jws
from jotauth.jose.claims import ClaimsPolicy
from jotauth.jose.dpop import (
    DEFAULT_DPOP_ALGS,
    DPoPProof,
    access_token_hash,
    make_proof,
    normalize_htu,
    verify_proof,
)
from jotauth.jose.errors import (
    AlgorithmNotAllowedError,
    BadSignatureError,
    ClaimError,
    CriticalHeaderError,
    DecryptionError,
    DPoPNonceError,
    DPoPProofError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidClaimError,
    InvalidKeyError,
    JoseError,
    MalformedTokenError,
    MissingClaimError,
    NoMatchingKeyError,
    TokenTooLargeError,
    UnsupportedAlgorithmError,
)
from jotauth.jose.jwk import Key
from jotauth.jose.jwks import KeySet
from jotauth.jose.jws import peek_header
from jotauth.jose.jwt import Verifier, decode, encode, peek_claims

ALGORITHMS = (
    "HS256", "HS384", "HS512",
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512",
    "EdDSA", "Ed25519", "Ed448",
)  # fmt: skip

__all__ = [
    "ALGORITHMS",
    "DEFAULT_DPOP_ALGS",
    "AlgorithmNotAllowedError",
    "BadSignatureError",
    "ClaimError",
    "ClaimsPolicy",
    "CriticalHeaderError",
    "DPoPNonceError",
    "DPoPProof",
    "DPoPProofError",
    "DecryptionError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InvalidClaimError",
    "InvalidKeyError",
    "JoseError",
    "Key",
    "KeySet",
    "MalformedTokenError",
    "MissingClaimError",
    "NoMatchingKeyError",
    "TokenTooLargeError",
    "UnsupportedAlgorithmError",
    "Verifier",
    "access_token_hash",
    "decode",
    "dpop",
    "encode",
    "jwe",
    "jws",
    "make_proof",
    "normalize_htu",
    "peek_claims",
    "peek_header",
    "verify_proof",
]
