"""The shapes of the HTTP API as Pydantic models: what OpenAPI (``/docs``) shows.

Responses are declared with ``response_model`` (FastAPI puts them in the schema; the handlers
return ready ``JSONResponse`` objects, so nothing is re-validated on the way out). Request
bodies are still read and checked by ``api/body.py`` and the services (415, 413 and 400 in
the one error format); their models here only describe that contract, through
``api/openapi.py``, so their limits mirror the hand-written checks
(``services/users.py``: usernames 1-64, passwords 8-1024, at most 50 roles or resources).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccessTokenResponse",
    "AuditEvent",
    "AuditList",
    "BearerError",
    "CreateUserRequest",
    "Discovery",
    "Health",
    "JWKSet",
    "Key",
    "KeyList",
    "LoginRequest",
    "LogoutRequest",
    "Me",
    "OAuthError",
    "PasswordChangeRequest",
    "PermissionsRequest",
    "Profile",
    "RefreshRequest",
    "RegisterRequest",
    "Registered",
    "RevocationFeed",
    "RolesRequest",
    "RotatedKey",
    "Session",
    "SessionList",
    "Status",
    "TokenRequest",
    "TokenResponse",
    "User",
    "UserInfo",
    "UserList",
]

_USERNAME = Field(min_length=1, max_length=64, examples=["john"])
_NEW_PASSWORD = Field(min_length=8, max_length=1024, examples=["password123"])
_ROLES_DOC = "role names: lower-case letters, digits, _ - . *"
_PERMISSIONS_DOC = "resource -> 1 to 20 actions, as in the tutorial"
_PERMISSIONS_EXAMPLE = [{"articles": ["read", "create"]}]


# -- errors ---------------------------------------------------------------------------------


class OAuthError(BaseModel):
    """Every error the server answers (RFC 6749 5.2 / RFC 6750 3.1 body)."""

    error: str = Field(examples=["invalid_request"], description="a stable code")
    error_description: str = Field(description="what went wrong, for a human")


class BearerError(OAuthError):
    """A bearer-token failure from the guard: the RFC 6750 body plus its diagnosis."""

    hint: str | None = Field(None, description="how to fix it")
    jotauth_code: str | None = Field(None, examples=["expired_token"], description="exact cause")
    required: list[str] | None = Field(None, description="insufficient_scope: what was needed")
    expired_at: int | None = Field(None, description="expired_token: the token's exp")


# -- requests (documented here, parsed by api/body.py) --------------------------------------


class LoginRequest(BaseModel):
    """A username and password (the tutorial's POST /login)."""

    username: str = Field(max_length=1024, examples=["john"])
    password: str = Field(max_length=4096, examples=["password123"])


class RegisterRequest(BaseModel):
    """A new account's username and password."""

    username: str = _USERNAME
    password: str = _NEW_PASSWORD


class RefreshRequest(BaseModel):
    """The refresh token to rotate (in browser cookie mode the cookie may carry it instead)."""

    refresh_token: str = Field(max_length=512)


class LogoutRequest(BaseModel):
    """Optionally the session's refresh token; the body may be empty."""

    refresh_token: str | None = Field(None, max_length=512)


class PasswordChangeRequest(BaseModel):
    """The current password and the new one."""

    current_password: str = Field(max_length=4096)
    new_password: str = _NEW_PASSWORD


class TokenRequest(BaseModel):
    """RFC 6749 token request: the password grant (4.3) or a refresh (6), form-encoded."""

    grant_type: Literal["password", "refresh_token"]
    username: str | None = Field(None, description="password grant")
    password: str | None = Field(None, description="password grant")
    refresh_token: str | None = Field(None, description="refresh_token grant")
    client_id: str | None = Field(None, max_length=128, description="printable ASCII")
    scope: str | None = Field(None, description="space-separated; narrows the user's scope")


class CreateUserRequest(BaseModel):
    """A user to create, with optional roles and permissions."""

    username: str = _USERNAME
    password: str = _NEW_PASSWORD
    roles: list[str] | None = Field(None, max_length=50, description=_ROLES_DOC)
    permissions: dict[str, list[str]] | None = Field(
        None, max_length=50, description=_PERMISSIONS_DOC, examples=_PERMISSIONS_EXAMPLE
    )


class RolesRequest(BaseModel):
    """The user's new roles (replacing the old ones)."""

    roles: list[str] = Field(max_length=50, description=_ROLES_DOC)


class PermissionsRequest(BaseModel):
    """The user's new permissions (replacing the old ones)."""

    permissions: dict[str, list[str]] = Field(
        max_length=50, description=_PERMISSIONS_DOC, examples=_PERMISSIONS_EXAMPLE
    )


# -- responses ------------------------------------------------------------------------------


class TokenResponse(BaseModel):
    """An access token and a refresh token (RFC 6749 5.1 plus ``refresh_expires_in``).

    In browser cookie mode the two tokens travel in HttpOnly cookies instead, and the body
    carries ``csrf_token``.
    """

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds")
    refresh_token: str
    refresh_expires_in: int = Field(description="seconds")
    scope: str


class AccessTokenResponse(BaseModel):
    """A fresh access token for this session (its refresh token stays valid)."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds")
    scope: str


class Status(BaseModel):
    """What was done."""

    status: str = Field(examples=["logged_out"])


class Registered(BaseModel):
    """The new account."""

    id: str
    username: str


class Me(BaseModel):
    """What the access token says about its holder."""

    sub: str
    username: str | None
    roles: list[str]
    permissions: dict[str, list[str]]
    scope: str
    client_id: str | None
    exp: int | None


class Profile(BaseModel):
    """The tutorial's greeting."""

    message: str = Field(examples=["Welcome, john!"])


class JWKSet(BaseModel):
    """RFC 7517 JWK Set: the public keys that verify this server's tokens."""

    keys: list[dict[str, Any]]


class Discovery(BaseModel):
    """OpenID Connect Discovery metadata, with jotauth's own endpoints (``jotauth_*``)."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    jwks_uri: str
    token_endpoint: str
    userinfo_endpoint: str
    jotauth_revocations_endpoint: str
    grant_types_supported: list[str]
    claims_supported: list[str]


class RevocationFeed(BaseModel):
    """Revocation events after the cursor; poll again with the new cursor."""

    cursor: str
    poll_interval: float = Field(description="seconds")
    events: list[dict[str, Any]] = Field(
        description='{"type": "token", "jti", "exp"}, {"type": "user", "sub", "not_before"} '
        'or {"type": "key", "kid"}'
    )


class Health(BaseModel):
    """Whether the database answers and a signing key is loaded."""

    status: Literal["ok", "unavailable"]


class User(BaseModel):
    """A user as the admin API shows it (never the password hash)."""

    id: str
    username: str
    roles: list[str]
    permissions: dict[str, list[str]]
    disabled: bool
    created_at: int


class UserList(BaseModel):
    """Users by id."""

    users: list[User]


class Session(BaseModel):
    """A login session (one refresh-token family)."""

    id: str
    user_id: str
    client_id: str | None
    created_at: int
    last_used_at: int
    expires_at: int
    revoked: bool
    revoke_reason: str | None
    ip: str | None
    user_agent: str | None


class SessionList(BaseModel):
    """Live sessions, newest first."""

    sessions: list[Session]


class Key(BaseModel):
    """A key of the ring (public facts only)."""

    kid: str
    alg: str
    state: str = Field(examples=["active"], description="next, active, retiring, retired, revoked")
    created_at: int
    activated_at: int | None
    retire_after: int | None


class KeyList(BaseModel):
    """Every key of the ring."""

    keys: list[Key]


class RotatedKey(BaseModel):
    """The kid that signs from now on."""

    active: str


class AuditEvent(BaseModel):
    """One audit event (details scrubbed of secrets)."""

    model_config = ConfigDict(extra="allow")

    type: str | None = Field(examples=["login_failed"])
    outcome: str | None = Field(examples=["failure"])
    at: str | None = Field(description="ISO 8601, UTC")
    user_id: str | None
    username: str | None
    ip: str | None
    user_agent: str | None
    detail: dict[str, Any]


class AuditList(BaseModel):
    """Matching audit events, newest first."""

    events: list[AuditEvent]
    count: int


class UserInfo(BaseModel):
    """OpenID Connect UserInfo: ``sub`` and the claims the token's scopes release."""

    model_config = ConfigDict(extra="allow")

    sub: str
    preferred_username: str | None = Field(default=None, description="with the profile scope")
