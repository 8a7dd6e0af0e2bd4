"""The JWE key-management labels the tests iterate over, and the keys for them.

A label is a JWE ``alg``, or ``alg/curve`` for ECDH-ES on each curve. ``dir`` keys are made per
``enc`` (``dir/<enc>``), since a dir key is the content key of exactly one ``enc``.
"""

from typing import Any

from jotauth import jose
from jotauth.jose import jwe

CURVES = ("P-256", "P-384", "P-521", "X25519", "X448")
OPT_IN = ("RSA1_5", "PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW")
ALL_LABELS = [
    *(alg for alg in jwe.ALGORITHMS if not alg.startswith("ECDH")),
    *(f"{alg}/{crv}" for alg in jwe.ALGORITHMS if alg.startswith("ECDH") for crv in CURVES),
]
# jotauth encrypts with every algorithm but RSA1_5, which it only decrypts (with the opt-in).
LABELS = [label for label in ALL_LABELS if label != "RSA1_5"]


def alg_of(label: str) -> str:
    """The JWE alg of a label."""
    return label.split("/")[0]


def options_for(label: str) -> dict[str, Any]:
    """The decrypt options a label needs: its alg named when it is refused by default."""
    return {"algorithms": [alg_of(label)]} if alg_of(label) in OPT_IN else {}


def make_keys(rsa_pem: bytes) -> dict[str, jose.Key]:
    """A private key (or secret) for every label; PBES2 keys are a password."""
    keys: dict[str, jose.Key] = {}
    for label in ALL_LABELS:
        alg = alg_of(label)
        if alg == "dir":
            for enc in jwe.ENCRYPTIONS:
                keys[f"dir/{enc}"] = jose.Key.generate("dir", enc=enc)
        elif alg.startswith("RSA"):
            keys[label] = jose.Key.from_pem(rsa_pem, alg=alg)
        elif alg.startswith("ECDH"):
            keys[label] = jose.Key.generate(alg, crv=label.split("/")[1])
        elif alg.startswith("PBES2"):
            keys[label] = jose.Key.from_secret("a shared password for the tests", alg)
        else:
            keys[label] = jose.Key.generate(alg)
    return keys


def pair(keys: dict[str, jose.Key], label: str, enc: str) -> tuple[jose.Key, jose.Key]:
    """(key to encrypt to, key to decrypt with) for a label and enc."""
    private = keys[f"dir/{enc}"] if label == "dir" else keys[label]
    return (private if private.kty == "oct" else private.public()), private
