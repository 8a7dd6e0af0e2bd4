"""Plain records the store hands out, so no SQLAlchemy object escapes into the services."""

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AuditRecord",
    "AuthorizationCodeRecord",
    "ClientRecord",
    "FamilyRecord",
    "FeedPage",
    "KeyRecord",
    "RefreshRecord",
    "RevocationRecord",
    "SSOSessionRecord",
    "UserRecord",
]


@dataclass(frozen=True)
class UserRecord:
    """A user; ``id`` as a string is the token's ``sub``."""

    id: int
    username: str
    password_hash: str
    roles: list[str] = field(default_factory=list)
    permissions: dict[str, list[str]] = field(default_factory=dict)
    disabled: bool = False
    not_before: int = 0
    created_at: float = 0.0

    @property
    def sub(self) -> str:
        """The ``sub`` claim of this user's tokens."""
        return str(self.id)


@dataclass(frozen=True)
class FamilyRecord:
    """One login session: every refresh token rotated from one login shares a family."""

    id: str
    user_id: int
    client_id: str
    scope: str
    created_at: float
    last_used_at: float
    expires_at: float
    revoked_at: float | None = None
    revoke_reason: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    narrowed: bool = False
    """The client asked for ``scope`` at login: refreshes keep to it (else: every grant)."""
    dpop_jkt: str | None = None
    """The thumbprint of the DPoP key the session is bound to (RFC 9449 5): every refresh
    must prove that key. None: not bound."""
    access_ttl: int | None = None
    """Seconds each access token of the session lives: its client's ``access_ttl`` when the
    session started (None: ``JOTAUTH_ACCESS_TTL``)."""


@dataclass(frozen=True)
class RefreshRecord:
    """One refresh token (only its hash); ``successor`` is sealed with a key derived from it."""

    id: int
    token_hash: str
    family_id: str
    created_at: float
    used_at: float | None = None
    successor: bytes | None = None


@dataclass(frozen=True)
class KeyRecord:
    """A signing key of the ring; ``private_sealed`` is AES-GCM under the master key."""

    kid: str
    alg: str
    state: str
    public_jwk: dict[str, Any]
    private_sealed: bytes
    created_at: float
    activated_at: float | None = None
    retire_after: float | None = None
    revoked_at: float | None = None


@dataclass(frozen=True)
class RevocationRecord:
    """One event of the revocation feed; ``seq`` orders the feed and makes the cursor."""

    seq: int
    type: str
    jti: str | None = None
    sub: str | None = None
    kid: str | None = None
    exp: int | None = None
    not_before: int | None = None
    created_at: float = 0.0
    sid: str | None = None

    def as_event(self) -> dict[str, Any]:
        """The feed's JSON shape for this event."""
        if self.type == "token":
            return {"type": "token", "jti": self.jti, "exp": self.exp}
        if self.type == "session":
            return {"type": "session", "sid": self.sid, "exp": self.exp}
        if self.type == "user":
            return {"type": "user", "sub": self.sub, "not_before": self.not_before}
        return {"type": "key", "kid": self.kid}


@dataclass(frozen=True)
class FeedPage:
    """One poll of the feed: the live events read, and the cursor past every row looked at.

    ``cursor`` moves past expired rows too, so a feed whose every row has expired is not read
    again on the next poll; ``more`` says rows past ``cursor`` are waiting.
    """

    records: list[RevocationRecord]
    cursor: int
    more: bool


@dataclass(frozen=True)
class AuditRecord:
    """A stored ``AuthEvent``."""

    id: int
    type: str
    outcome: str
    user_id: str | None
    username: str | None
    ip: str | None
    user_agent: str | None
    detail: dict[str, Any]
    at: float


@dataclass(frozen=True)
class ClientRecord:
    """A registered OAuth client; ``secret_hash`` only, the secret itself is never stored."""

    client_id: str
    name: str
    type: str
    token_endpoint_auth_method: str
    secret_hash: str | None = None
    redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    first_party: bool = False
    access_ttl: int | None = None
    id_token_signed_response_alg: str | None = None
    """The ID tokens' algorithm (RS256, ES256 or EdDSA); None is RS256."""
    tier: str | None = None
    rate_limit: int | None = None
    rate_window: int | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    backchannel_logout_uri: str | None = None
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    disabled: bool = False
    created_at: float = 0.0
    secret_rotated_at: float | None = None
    dpop_bound_access_tokens: bool = False
    """RFC 9449 5.2: every token request of this client must carry a DPoP proof."""

    @property
    def confidential(self) -> bool:
        """Whether the client holds credentials (RFC 6749 2.1)."""
        return self.type == "confidential"


@dataclass(frozen=True)
class SSOSessionRecord:
    """A browser's session at the issuer (OIDC ``sid``); the cookie secret is never stored."""

    sid: str
    user_id: int
    auth_time: float
    created_at: float
    expires_at: float
    ended_at: float | None = None


@dataclass(frozen=True)
class AuthorizationCodeRecord:
    """An authorization code's bindings (the code itself is stored only as its hash)."""

    client_id: str
    user_id: int
    redirect_uri: str
    code_challenge: str
    scope: str
    nonce: str | None
    sso_sid: str
    auth_time: float
    created_at: float
    expires_at: float
    used_at: float | None = None
    family_id: str | None = None
