"""jotauth.guard: every service verifies access tokens on its own.

    >>> from jotauth.guard import Guard
    >>> guard = Guard(issuer="https://auth.example.com", audience="articles")  # JWKS discovered
    >>> principal = guard.authenticate_sync(token)  # or: await guard.authenticate(token)
    >>> principal.can("articles", "create")

Framework adapters live in their own modules so that importing this package pulls in neither
FastAPI nor Flask: ``jotauth.guard.asgi`` (pure ASGI middleware), ``jotauth.guard.fastapi``
(dependencies with an OpenAPI security scheme), ``jotauth.guard.flask`` (decorator),
``jotauth.guard.wsgi`` (middleware). ``jotauth.guard.testing`` helps users test their services.
``jotauth.guard.ratelimit`` (needs ``limits``) enforces a client's tier rate limit.
DPoP (RFC 9449) key-bound tokens: ``jotauth.guard.dpop`` (the checks), ``dpop_replay``
(memory and Redis replay caches) and ``dpop_nonce`` (server nonces).
"""

from jotauth.guard.access import AccessRule
from jotauth.guard.cache import TokenCache
from jotauth.guard.dpop import DPoPRequest
from jotauth.guard.dpop_nonce import NonceSource, RotatingNonce
from jotauth.guard.dpop_replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from jotauth.guard.errors import (
    ClientNotAllowedError,
    CSRFError,
    GuardError,
    InsufficientScopeError,
    InvalidRequestError,
    KeySourceError,
    MissingTokenError,
    RateLimitedError,
    ReplayCheckError,
    RevokedTokenError,
    TokenBindingError,
)
from jotauth.guard.feed import RevocationFeed
from jotauth.guard.guard import Guard
from jotauth.guard.jwks_client import JWKSClient
from jotauth.guard.keysource import KeySource, StaticKeySource
from jotauth.guard.principal import Principal
from jotauth.guard.response import ErrorResponse, error_response
from jotauth.guard.revocation import RevocationSource, RevocationView

__all__ = [
    "AccessRule",
    "CSRFError",
    "ClientNotAllowedError",
    "DPoPRequest",
    "ErrorResponse",
    "Guard",
    "GuardError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "JWKSClient",
    "KeySource",
    "KeySourceError",
    "MemoryReplayCache",
    "MissingTokenError",
    "NonceSource",
    "Principal",
    "RateLimitedError",
    "RedisReplayCache",
    "ReplayCache",
    "ReplayCheckError",
    "RevocationFeed",
    "RevocationSource",
    "RevocationView",
    "RevokedTokenError",
    "RotatingNonce",
    "StaticKeySource",
    "TokenBindingError",
    "TokenCache",
    "error_response",
]
