"""Errors of the guard, beside the jose errors it lets through.

``Guard.authenticate`` raises either a ``jotauth.jose.JoseError`` (the token itself is wrong:
malformed, bad signature, expired, wrong audience, unknown key) or one of these::

    JotauthError
    └── GuardError                      guard_error
        ├── MissingTokenError           missing_token          -> 401, no error code (RFC 6750 3.1)
        ├── InvalidRequestError         invalid_request        -> 400 (malformed Authorization)
        ├── RevokedTokenError           token_revoked          -> 401 invalid_token
        ├── InsufficientScopeError      insufficient_scope     -> 403
        ├── ClientNotAllowedError       client_not_allowed     -> 403 (route for some clients)
        ├── RateLimitedError            rate_limited           -> 429, Retry-After (tier limit)
        ├── CSRFError                   csrf_failed            -> 403 (cookie tokens only)
        ├── TokenBindingError           token_binding          -> 401 DPoP invalid_token
        ├── ReplayCheckError            dpop_replay_unavailable -> 503, retryable
        └── KeySourceError              key_source_unavailable -> 503, retryable

A DPoP proof that fails a check is ``jotauth.jose.DPoPProofError`` (401 ``DPoP
error="invalid_dpop_proof"``), or ``jotauth.jose.DPoPNonceError`` when the guard requires a
nonce (401 ``use_dpop_nonce`` with a fresh ``DPoP-Nonce``).

The HTTP mapping lives in ``jotauth.guard.response`` so every adapter answers the same way.
"""

from collections.abc import Sequence
from typing import ClassVar

from jotauth.errors import JotauthError

__all__ = [
    "CSRFError",
    "ClientNotAllowedError",
    "GuardError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "KeySourceError",
    "MissingTokenError",
    "RateLimitedError",
    "ReplayCheckError",
    "RevokedTokenError",
    "TokenBindingError",
]


class GuardError(JotauthError):
    """Anything the guard refuses that is not a fault of the token's own bytes."""

    code: ClassVar[str] = "guard_error"


class MissingTokenError(GuardError):
    """The request carries no access token at all."""

    code: ClassVar[str] = "missing_token"


class InvalidRequestError(GuardError):
    """The Authorization header (or the cookie) is there but not a well-formed Bearer token."""

    code: ClassVar[str] = "invalid_request"


class RevokedTokenError(GuardError):
    """The token verified but was revoked: its jti, its user (logout everywhere) or its key."""

    code: ClassVar[str] = "token_revoked"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InsufficientScopeError(GuardError):
    """The token is valid but does not grant what the endpoint requires."""

    code: ClassVar[str] = "insufficient_scope"

    def __init__(self, required: Sequence[str], message: str | None = None) -> None:
        self.required = tuple(required)
        super().__init__(
            message
            or f"this endpoint needs {' and '.join(repr(s) for s in self.required)}; "
            "the token does not grant it"
        )


class ClientNotAllowedError(GuardError):
    """The token is valid, but the route takes only some clients or tiers, not its own."""

    code: ClassVar[str] = "client_not_allowed"


class RateLimitedError(GuardError):
    """The token's client is over its tier's rate limit; ``retry_after`` whole seconds."""

    code: ClassVar[str] = "rate_limited"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message or f"this client is over its rate limit; retry after {self.retry_after} seconds"
        )


class CSRFError(GuardError):
    """A cookie-borne token came without the matching CSRF double-submit header."""

    code: ClassVar[str] = "csrf_failed"


class KeySourceError(GuardError):
    """The verification keys could not be obtained and none are cached; retry later (503)."""

    code: ClassVar[str] = "key_source_unavailable"


class TokenBindingError(GuardError):
    """The token's key binding (DPoP, RFC 9449) does not hold for this request.

    ``reason``: ``bearer`` (a bound token sent as a Bearer token or in a cookie: no
    downgrade), ``unbound`` (a token without ``cnf.jkt`` sent with the DPoP scheme) or ``key``
    (the proof is signed by another key than the one the token is bound to).
    """

    code: ClassVar[str] = "token_binding"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ReplayCheckError(GuardError):
    """The DPoP replay cache cannot say whether a proof is new (full, or Redis is away).

    The proof is refused (fail closed) with a retryable 503: accepting it unchecked would let
    a captured proof be replayed for as long as the cache is unavailable.
    """

    code: ClassVar[str] = "dpop_replay_unavailable"
