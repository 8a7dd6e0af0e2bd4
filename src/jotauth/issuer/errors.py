"""Errors of the auth server, each with a stable OAuth-style ``code`` and an HTTP status.

The tree (under ``jotauth.errors.JotauthError``)::

    IssuerError
    ├── ConfigurationError        the server refuses to start (never reaches HTTP)
    ├── InvalidRequestError       400 invalid_request: malformed body, bad field
    ├── UnsupportedMediaError     415 invalid_request: not JSON / not form-encoded
    ├── PayloadTooLargeError      413 invalid_request: body over JOTAUTH_MAX_BODY_BYTES
    ├── InvalidGrantError         401 (400 on /oauth/token) invalid_grant: credentials or refresh
    ├── InvalidClientError        401 invalid_client: client authentication failed
    ├── UnauthorizedClientError   400 unauthorized_client: the client may not use this grant
    ├── UnsupportedGrantTypeError 400 unsupported_grant_type
    ├── InvalidScopeError         400 invalid_scope: a requested scope the user does not hold
    ├── InvalidClientError        401 invalid_client: client authentication failed (RFC 6749 5.2)
    ├── UnauthorizedClientError   400 unauthorized_client: the client may not use this grant
    ├── InvalidTargetError        400 invalid_target: an audience the client may not ask for
    ├── InvalidDPoPProofError     400 invalid_dpop_proof: the DPoP proof is missing or bad
    ├── UseDPoPNonceError         400 use_dpop_nonce: prove again with the DPoP-Nonce sent
    ├── InvalidTokenError         401 invalid_token: the bearer access token does not pass
    ├── ForbiddenError            403 insufficient_scope
    ├── ConflictError             409 conflict: username taken, key state
    ├── NotFoundError             404 not_found
    ├── RegistrationClosedError   403 registration_closed
    ├── RateLimitedError          429 rate_limited: a brute-force limit (Retry-After)
    └── StorageError              500 server_error (logged; no details leak)

Only ``api/`` turns these into responses: ``{"error": code, "error_description": text}``.
"""

from typing import ClassVar

from jotauth.errors import JotauthError

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "InvalidClientError",
    "InvalidDPoPProofError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "InvalidTargetError",
    "InvalidTokenError",
    "IssuerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "RegistrationClosedError",
    "StorageError",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "UnsupportedMediaError",
    "UseDPoPNonceError",
]


class IssuerError(JotauthError):
    """Base of the auth server's errors; ``str(error)`` is the safe description."""

    code: ClassVar[str] = "server_error"
    status: ClassVar[int] = 500


class ConfigurationError(IssuerError):
    code = "configuration_error"


class InvalidRequestError(IssuerError):
    code = "invalid_request"
    status = 400


class UnsupportedMediaError(InvalidRequestError):
    status = 415


class PayloadTooLargeError(InvalidRequestError):
    status = 413


class InvalidGrantError(IssuerError):
    code = "invalid_grant"
    status = 401


class UnsupportedGrantTypeError(IssuerError):
    code = "unsupported_grant_type"
    status = 400


class InvalidScopeError(IssuerError):
    code = "invalid_scope"
    status = 400


class InvalidClientError(IssuerError):
    """Client authentication failed: one message whatever the cause (unknown client, wrong
    secret, bad assertion, disabled), so an answer never tells which client ids exist.

    ``basic``: the client sent an ``Authorization: Basic`` header, so the 401 carries a
    ``WWW-Authenticate: Basic`` challenge (RFC 6749 5.2).
    """

    code = "invalid_client"
    status = 401

    def __init__(
        self, message: str = "client authentication failed", *, basic: bool = False
    ) -> None:
        super().__init__(message)
        self.basic = basic


class UnauthorizedClientError(IssuerError):
    """The client may not use this grant (RFC 6749 5.2)."""

    code = "unauthorized_client"
    status = 400


class InvalidTargetError(IssuerError):
    """RFC 8707 2: the requested ``resource``/``audience`` is not one the client may have."""

    code = "invalid_target"
    status = 400


class InvalidDPoPProofError(IssuerError):
    """RFC 9449 7: the ``DPoP`` proof is missing where required, malformed, or fails a check."""

    code = "invalid_dpop_proof"
    status = 400


class UseDPoPNonceError(IssuerError):
    """RFC 9449 8: the proof must carry the server's current nonce, sent in ``DPoP-Nonce``."""

    code = "use_dpop_nonce"
    status = 400

    def __init__(self, message: str, nonce: str) -> None:
        super().__init__(message)
        self.nonce = nonce


class InvalidTokenError(IssuerError):
    code = "invalid_token"
    status = 401


class ForbiddenError(IssuerError):
    code = "insufficient_scope"
    status = 403


class ConflictError(IssuerError):
    code = "conflict"
    status = 409


class NotFoundError(IssuerError):
    code = "not_found"
    status = 404


class RegistrationClosedError(IssuerError):
    code = "registration_closed"
    status = 403


class RateLimitedError(IssuerError):
    """Too many attempts; ``retry_after`` whole seconds go into the Retry-After header."""

    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, scope: str = "") -> None:
        super().__init__(f"too many attempts; retry after {retry_after} seconds")
        self.retry_after = retry_after
        self.scope = scope


class StorageError(IssuerError):
    code = "server_error"
    status = 500
