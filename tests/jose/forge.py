"""Helpers to build tokens by hand, the way an attacker would: any header, any bytes, any spelling.

jose.encode never emits a hostile token, so the advisory and fuzz tests need a way to sign
exactly the bytes they want; ``forge`` signs a raw signing input with a real key, so the only
thing wrong with the token is the thing the test is about.
"""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jotauth import jose

E = TypeVar("E", bound=BaseException)

NOW = 1_900_000_000
"""The fixed "now" of the tests (2030-03-17): tokens never depend on the real clock."""


def b64(data: bytes | str) -> str:
    """base64url without padding, the only spelling JOSE allows."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    """A header or payload segment: JSON for dicts/lists/numbers, bytes or text taken as is."""
    if isinstance(value, bytes | str):
        return b64(value)
    return b64(json.dumps(value, separators=(",", ":")))


def forge(key: jose.Key, header: Any, payload: Any) -> str:
    """Sign ``header.payload`` (each a value or an already encoded segment) with ``key``."""
    head = header if isinstance(header, Segment) else Segment(segment(header))
    body = payload if isinstance(payload, Segment) else Segment(segment(payload))
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode('utf-8')))}"


class Segment(str):
    """An encoded segment to put in a token verbatim (for non-canonical spellings)."""


def claims(**extra: Any) -> dict[str, Any]:
    """Valid claims at NOW, with overrides."""
    return {"sub": "42", "iat": NOW - 10, "exp": NOW + 600, **extra}


def assert_no_leak(error: BaseException, *secrets: str | bytes) -> None:
    """The error message shows none of the given token, key material or secret."""
    message = str(error)
    for secret in secrets:
        text = secret.decode("latin-1") if isinstance(secret, bytes) else secret
        for piece in _pieces(text):
            assert piece not in message, f"{type(error).__name__} message leaks {piece[:12]}..."


def _pieces(text: str) -> list[str]:
    # A token or key leaks if any long run of it appears; check every segment / line too.
    parts = [text, *text.split("."), *text.splitlines()]
    return [p for p in parts if len(p) >= 16 and not p.startswith("-----")]


def key_material(key: jose.Key) -> list[str]:
    """Every secret member of a key's private JWK (k, d, p, q, ...), to check errors against."""
    if not key.is_private:
        return []
    jwk = key.to_jwk(private=True)
    return [jwk[m] for m in ("k", "d", "p", "q", "dp", "dq", "qi") if m in jwk]


def rejects(error: type[E], call: Callable[[], object], *secrets: str | bytes) -> E:
    """Run ``call``; it must raise exactly ``error`` (not a subclass) with a clean message."""
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}"
    assert_no_leak(info.value, *secrets)
    return info.value


def self_signed_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """A self-signed certificate for ``key``: what an attacker would put in ``x5c``."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
