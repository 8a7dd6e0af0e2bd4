"""Errors of the JOSE core.

The tree lets callers tell apart the cases the tutorial's troubleshooting section is about:
a malformed token, an algorithm that is not allowed, an unknown ``kid``, a bad signature and
each failed claim are distinct classes with distinct ``code`` values::

    JotauthError
    └── JoseError
        ├── MalformedTokenError            malformed_token
        │   ├── TokenTooLargeError         token_too_large
        │   └── CriticalHeaderError        unsupported_critical_header
        ├── UnsupportedAlgorithmError      unsupported_algorithm
        ├── AlgorithmNotAllowedError       algorithm_not_allowed
        ├── InvalidKeyError                invalid_key
        ├── NoMatchingKeyError             no_matching_key
        ├── BadSignatureError              bad_signature
        ├── DecryptionError                decryption_failed
        ├── DPoPProofError                 invalid_dpop_proof (has .check)
        │   └── DPoPNonceError             use_dpop_nonce
        └── ClaimError                     invalid_claim (base; has .claim and .reason)
            ├── ExpiredTokenError          expired_token
            ├── ImmatureTokenError         immature_token
            ├── InvalidClaimError          invalid_claim
            └── MissingClaimError          missing_claim

Every signature failure is the same ``BadSignatureError`` with the same message, and every
decryption failure (a bad tag, bad padding, a key that does not unwrap, the wrong key) the same
``DecryptionError``, so an attacker learns nothing from which check failed: no padding oracle,
no MAC oracle.
"""

from datetime import UTC, datetime
from typing import ClassVar

from jotauth.errors import JotauthError

__all__ = [
    "AlgorithmNotAllowedError",
    "BadSignatureError",
    "ClaimError",
    "CriticalHeaderError",
    "DPoPNonceError",
    "DPoPProofError",
    "DecryptionError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InvalidClaimError",
    "InvalidKeyError",
    "JoseError",
    "MalformedTokenError",
    "MissingClaimError",
    "NoMatchingKeyError",
    "TokenTooLargeError",
    "UnsupportedAlgorithmError",
]


def _clip(text: str) -> str:
    return text if len(text) <= 24 else text[:21] + "..."


def format_time(timestamp: float) -> str:
    """A NumericDate as ISO 8601 UTC, the way error messages show times."""
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        # Beyond what a datetime holds; an int may be beyond float range too: no float format.
        return _clip(str(timestamp) if isinstance(timestamp, int) else f"{timestamp:.0f}")


def _seconds_ago(now: float, then: float) -> str:
    try:
        return f"{now - then:.0f}s ago"
    except OverflowError:  # a float minus an integer beyond float range
        return "out of range"


class JoseError(JotauthError):
    """Anything wrong with a token, a key or an algorithm."""

    code: ClassVar[str] = "jose_error"


class MalformedTokenError(JoseError):
    """The token is not well formed: its serialization, segments, base64url, JSON or headers."""

    code: ClassVar[str] = "malformed_token"


class TokenTooLargeError(MalformedTokenError):
    """The token is over the size limit; it was rejected before any decoding."""

    code: ClassVar[str] = "token_too_large"


class CriticalHeaderError(MalformedTokenError):
    """The header lists in ``crit`` an extension this implementation does not understand."""

    code: ClassVar[str] = "unsupported_critical_header"


class UnsupportedAlgorithmError(JoseError):
    """The algorithm is not one jotauth implements (``none`` is never implemented)."""

    code: ClassVar[str] = "unsupported_algorithm"


class AlgorithmNotAllowedError(JoseError):
    """The algorithm is known but not allowed by the verifier or not the key's algorithm."""

    code: ClassVar[str] = "algorithm_not_allowed"


class InvalidKeyError(JoseError):
    """A key could not be loaded, is too weak, or does not fit its algorithm."""

    code: ClassVar[str] = "invalid_key"


class NoMatchingKeyError(JoseError):
    """No key in the key set has the token's ``kid`` (or, without a kid, fits its algorithm)."""

    code: ClassVar[str] = "no_matching_key"


class BadSignatureError(JoseError):
    """The signature does not verify. Always the same message, whatever the cause."""

    code: ClassVar[str] = "bad_signature"

    def __init__(self, message: str = "signature verification failed") -> None:
        super().__init__(message)


class DecryptionError(JoseError):
    """A JWE did not decrypt. Always the same message, whatever the cause (RFC 7516 11.5)."""

    code: ClassVar[str] = "decryption_failed"

    def __init__(self, message: str = "decryption failed") -> None:
        super().__init__(message)


class DPoPProofError(JoseError):
    """A DPoP proof (RFC 9449) failed a check; ``check`` names which one (``typ``, ``htu``, ...).

    Servers answer it with ``error="invalid_dpop_proof"`` (RFC 9449 sections 5 and 7.1).
    """

    code: ClassVar[str] = "invalid_dpop_proof"

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


class DPoPNonceError(DPoPProofError):
    """The server requires a nonce and the proof has none, or another one (RFC 9449 section 8).

    Distinct so that servers can answer ``error="use_dpop_nonce"`` with a fresh ``DPoP-Nonce``
    header, which tells the client to retry with it rather than give up.
    """

    code: ClassVar[str] = "use_dpop_nonce"

    def __init__(self, message: str, *, nonce: str | None = None) -> None:
        super().__init__("nonce", message)
        self.nonce = nonce
        """The nonce to send back in ``DPoP-Nonce``, when the server that raised it has one."""


class ClaimError(JoseError):
    """A claim (or the ``typ`` header) failed validation; ``claim`` names it."""

    code: ClassVar[str] = "invalid_claim"

    def __init__(self, claim: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.claim = claim
        self.reason = reason


class ExpiredTokenError(ClaimError):
    """``exp`` is past beyond the leeway; ``expired_at``, ``now`` and ``leeway`` say by how much."""

    code: ClassVar[str] = "expired_token"

    def __init__(self, expired_at: float, now: float, leeway: float) -> None:
        super().__init__(
            "exp",
            "check_failed",
            f"token expired at {format_time(expired_at)} ({_seconds_ago(now, expired_at)}; "
            f"now {format_time(now)}, leeway {leeway:g}s)",
        )
        self.expired_at = expired_at
        self.now = now
        self.leeway = leeway


class ImmatureTokenError(ClaimError):
    """``nbf`` (or ``iat``) is in the future beyond the leeway: the token is not valid yet."""

    code: ClassVar[str] = "immature_token"


class InvalidClaimError(ClaimError):
    """A claim has the wrong type or value (issuer, audience, subject, typ, dates)."""

    code: ClassVar[str] = "invalid_claim"


class MissingClaimError(ClaimError):
    """A required claim is absent."""

    code: ClassVar[str] = "missing_claim"

    def __init__(self, claim: str) -> None:
        super().__init__(claim, "missing", f'required claim "{claim}" is missing')
