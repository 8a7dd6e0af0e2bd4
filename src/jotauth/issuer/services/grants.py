"""The ``client_credentials`` grant (RFC 6749 4.4): a service's own access token.

The token speaks for the client itself: ``sub`` = ``client_id`` (RFC 9068 2.2), the scopes
it asked for out of those it was registered with (all of them when it asks for none), one
audience out of its registered ones (RFC 8707 ``resource`` or the common ``audience``
parameter; the first registered one when it names none), and its ``tier`` with the
``rate_limit`` figures a guard enforces (``{"requests": N, "window": seconds}``). No refresh
token (RFC 6749 4.4.3): the client authenticates again instead. No ``sid``: there is no
session, and no ``permissions`` or ``roles``: the scope is the whole grant.

An audience that is not the client's is ``invalid_target`` (RFC 8707 2), not
``invalid_scope``: the scope is fine, the target is not.
"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jotauth import jose
from jotauth.issuer.errors import (
    InvalidRequestError,
    InvalidScopeError,
    InvalidTargetError,
    UnauthorizedClientError,
)
from jotauth.issuer.services.keyring import KeyRing
from jotauth.issuer.services.tokens import MAX_TOKEN_BYTES, TokenTooLargeError, token_type
from jotauth.issuer.settings import Settings
from jotauth.store.records import ClientRecord

__all__ = ["ServiceToken", "check_grant", "issue_client_token", "requested_scopes"]

_MAX_SCOPE: Final = 4096


@dataclass(frozen=True)
class ServiceToken:
    """A client_credentials answer (RFC 6749 5.1, no refresh token)."""

    access_token: str
    expires_in: int
    claims: dict[str, Any]

    def body(self) -> dict[str, Any]:
        """The JSON response."""
        return {
            "access_token": self.access_token,
            "token_type": token_type(self.claims),
            "expires_in": self.expires_in,
            "scope": self.claims["scope"],
        }


def check_grant(client: ClientRecord, grant: str) -> None:
    """UnauthorizedClientError unless ``client`` was registered for ``grant``."""
    if grant not in client.grant_types:
        raise UnauthorizedClientError(f"this client is not allowed the {grant} grant")


def requested_scopes(scope: str | None, allowed: list[str]) -> list[str]:
    """The scopes asked for (all allowed ones when none), or InvalidScopeError."""
    if scope is None or not scope.strip():
        return list(allowed)
    if len(scope) > _MAX_SCOPE:
        raise InvalidScopeError(f"scope is longer than {_MAX_SCOPE} characters")
    wanted = list(dict.fromkeys(scope.split()))
    extra = [item for item in wanted if item not in allowed]
    if extra:
        raise InvalidScopeError(f"this client may not ask for the scope {' '.join(extra)[:200]!r}")
    return wanted


def _audience(targets: list[str], allowed: list[str]) -> str:
    wanted = list(dict.fromkeys(targets))
    if not wanted:
        return allowed[0]
    if len(wanted) > 1:
        raise InvalidTargetError("ask for one audience per token")
    if wanted[0] not in allowed:
        raise InvalidTargetError(f"this client may not ask for the audience {wanted[0][:200]!r}")
    return wanted[0]


def issue_client_token(
    client: ClientRecord,
    *,
    ring: KeyRing,
    settings: Settings,
    scope: str | None,
    targets: list[str],
    clock: Callable[[], float] = time.time,
    jkt: str | None = None,
    signer: jose.Key | None = None,
) -> ServiceToken:
    """A signed RFC 9068 access token for ``client`` itself (after it authenticated); with
    ``jkt`` (the DPoP key the request proved) bound to that key (``cnf.jkt``).

    ``signer``: the ring's ``ready_signer()``, when the caller has it; else ``ring.signer()``
    is asked (which may read the database: then call this in a worker thread).
    """
    check_grant(client, "client_credentials")
    if not client.audiences:  # pragma: no cover - validate_spec requires one
        raise InvalidRequestError("this client has no audience to ask for")
    granted = requested_scopes(scope, client.scopes)
    audience = _audience(targets, client.audiences)
    lifetime = client.access_ttl or settings.access_ttl
    issued = int(clock())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": client.client_id,
        "aud": audience,
        "exp": issued + lifetime,
        "iat": issued,
        "jti": secrets.token_urlsafe(16),
        "client_id": client.client_id,
        "scope": " ".join(granted),
    }
    if client.tier is not None:
        claims["tier"] = client.tier
    if client.rate_limit is not None:
        claims["rate_limit"] = {"requests": client.rate_limit, "window": client.rate_window or 60}
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    token = jose.encode(claims, signer or ring.signer(), headers={"typ": "at+jwt"})
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenTooLargeError("the access token would be over 8 KiB; register fewer scopes")
    return ServiceToken(token, lifetime, claims)
