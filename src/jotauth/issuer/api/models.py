"""The shapes of the HTTP API as Pydantic models: what FastAPI validates and ``/docs`` shows.

Request bodies are handler parameters of these types, so FastAPI validates them (after the
strict decoding of ``api/body.py``) and documents them. A request model checks the shape of
the input only: strict types (a number is no string, ``null`` no list) and the longest value
the server will look at (a username of 1024 characters, a password of 4096, a refresh token
of 512, a ``client_id`` of 128 printable ASCII characters). The rules of what is a good
username, password or grant stay in ``services/users.py``, which applies them after counting
the attempt against the brute-force limits: a sign-up with a short password is counted, then
refused. Members a model does not name are ignored, as RFC 6749 section 3.2 requires of token
requests (and the JSON API did before), but they are decoded like the rest, so a NaN or a
lone surrogate anywhere refuses the body.

Responses are declared with ``response_model`` (FastAPI puts them in the schema; the handlers
return ready ``JSONResponse`` objects, so nothing is re-validated on the way out).
"""

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

__all__ = [
    "GRANT_TYPES",
    "AccessTokenResponse",
    "AuditEvent",
    "AuditList",
    "BearerError",
    "CreateUserRequest",
    "Discovery",
    "Health",
    "Introspection",
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
    "Revoked",
    "RolesRequest",
    "RotatedKey",
    "Session",
    "SessionList",
    "Status",
    "TokenQuery",
    "TokenRequest",
    "TokenResponse",
    "User",
    "UserInfo",
    "UserList",
]

GRANT_TYPES: Final = ("authorization_code", "client_credentials", "refresh_token", "password")
"""The grants ``/oauth/token`` answers; any other is ``unsupported_grant_type``."""
_USERNAME_MAX: Final = 1024
_PASSWORD_MAX: Final = 4096
_REFRESH_TOKEN_MAX: Final = 512
_SECRET_MAX: Final = 512
_ASSERTION_MAX: Final = 8192
_SCOPE_MAX: Final = 4096
_URI_MAX: Final = 2048
_NEW_USERNAME_DOC = "1 to 64 characters: letters, digits and . _ - @ + (PRECIS, RFC 8265)"
_8_TO_1024_CHARACTERS = "8 to 1024 characters"
_ROLES_DOC = "at most 50 role names: lower-case letters, digits, _ - . *"
_PERMISSIONS_DOC = "at most 50 resources, each -> 1 to 20 actions, as in the tutorial"
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


# -- requests -------------------------------------------------------------------------------


class _Body(BaseModel):
    """A request body: strict types, unknown members ignored (see the module docstring)."""

    model_config = ConfigDict(strict=True, extra="ignore")


class LoginRequest(_Body):
    """A username and password (the tutorial's POST /login)."""

    username: StrictStr = Field(max_length=_USERNAME_MAX, examples=["john"])
    password: StrictStr = Field(max_length=_PASSWORD_MAX, examples=["password123"])


class RegisterRequest(_Body):
    """A new account's username and password."""

    username: StrictStr = Field(
        max_length=_USERNAME_MAX, description=_NEW_USERNAME_DOC, examples=["john"]
    )
    password: StrictStr = Field(
        max_length=_PASSWORD_MAX, description=_8_TO_1024_CHARACTERS, examples=["password123"]
    )


class RefreshRequest(_Body):
    """The refresh token to rotate (in browser cookie mode the cookie may carry it instead)."""

    refresh_token: StrictStr | None = Field(
        None,
        max_length=_REFRESH_TOKEN_MAX,
        description="required, unless the browser's refresh cookie carries it",
    )


class LogoutRequest(_Body):
    """Optionally the session's refresh token; the body may be empty."""

    refresh_token: StrictStr | None = Field(None, max_length=_REFRESH_TOKEN_MAX)


class PasswordChangeRequest(_Body):
    """The current password and the new one."""

    current_password: StrictStr = Field(max_length=_PASSWORD_MAX)
    new_password: StrictStr = Field(max_length=_PASSWORD_MAX, description=_8_TO_1024_CHARACTERS)


class TokenRequest(_Body):
    """RFC 6749 token request, form-encoded: client_credentials (4.4), a refresh (6), or the
    password grant (4.3) when JOTAUTH_PASSWORD_GRANT turns it on.

    ``grant_type`` is any string here, so that an unknown grant answers RFC 6749's
    ``unsupported_grant_type`` rather than a validation error; the schema lists the known ones.
    """

    grant_type: StrictStr = Field(max_length=128, json_schema_extra={"enum": list(GRANT_TYPES)})
    username: StrictStr | None = Field(None, max_length=_USERNAME_MAX, description="password grant")
    password: StrictStr | None = Field(None, max_length=_PASSWORD_MAX, description="password grant")
    refresh_token: StrictStr | None = Field(
        None, max_length=_REFRESH_TOKEN_MAX, description="refresh_token grant"
    )
    code: StrictStr | None = Field(None, max_length=256, description="authorization_code grant")
    redirect_uri: StrictStr | None = Field(
        None, max_length=_URI_MAX, description="authorization_code grant: as in the request"
    )
    code_verifier: StrictStr | None = Field(
        None, max_length=128, description="authorization_code grant: the PKCE verifier"
    )
    client_id: StrictStr | None = Field(
        None,
        max_length=128,
        pattern=r"^[\x20-\x7e]+$",
        description="printable ASCII (RFC 6749 A.1)",
    )
    client_secret: StrictStr | None = Field(
        None, max_length=_SECRET_MAX, description="client_secret_post"
    )
    client_assertion_type: StrictStr | None = Field(
        None, max_length=128, description="private_key_jwt (RFC 7523)"
    )
    client_assertion: StrictStr | None = Field(
        None, max_length=_ASSERTION_MAX, description="private_key_jwt (RFC 7523)"
    )
    scope: StrictStr | None = Field(
        None, max_length=_SCOPE_MAX, description="space-separated; narrows the granted scope"
    )
    resource: StrictStr | None = Field(
        None, max_length=_URI_MAX, description="RFC 8707: the audience wanted"
    )
    audience: StrictStr | None = Field(
        None, max_length=_URI_MAX, description="the audience wanted (as resource)"
    )


class TokenQuery(_Body):
    """RFC 7662 / RFC 7009 request: the token and an optional hint, form-encoded."""

    token: StrictStr = Field(max_length=8192)
    token_type_hint: StrictStr | None = Field(
        None, max_length=64, description="access_token or refresh_token; others are ignored"
    )
    client_id: StrictStr | None = Field(
        None, max_length=128, pattern=r"^[\x20-\x7e]+$", description="printable ASCII"
    )
    client_secret: StrictStr | None = Field(
        None, max_length=_SECRET_MAX, description="client_secret_post"
    )
    client_assertion_type: StrictStr | None = Field(
        None, max_length=128, description="private_key_jwt (RFC 7523)"
    )
    client_assertion: StrictStr | None = Field(
        None, max_length=_ASSERTION_MAX, description="private_key_jwt (RFC 7523)"
    )


class CreateUserRequest(_Body):
    """A user to create, with optional roles and permissions."""

    username: StrictStr = Field(
        max_length=_USERNAME_MAX, description=_NEW_USERNAME_DOC, examples=["john"]
    )
    password: StrictStr = Field(
        max_length=_PASSWORD_MAX, description=_8_TO_1024_CHARACTERS, examples=["password123"]
    )
    roles: list[StrictStr] | None = Field(None, description=_ROLES_DOC)
    permissions: dict[StrictStr, list[StrictStr]] | None = Field(
        None, description=_PERMISSIONS_DOC, examples=_PERMISSIONS_EXAMPLE
    )


class RolesRequest(_Body):
    """The user's new roles (replacing the old ones)."""

    roles: list[StrictStr] = Field(description=_ROLES_DOC)


class PermissionsRequest(_Body):
    """The user's new permissions (replacing the old ones)."""

    permissions: dict[StrictStr, list[StrictStr]] = Field(
        description=_PERMISSIONS_DOC, examples=_PERMISSIONS_EXAMPLE
    )


# -- responses ------------------------------------------------------------------------------


class TokenResponse(BaseModel):
    """An access token and a refresh token (RFC 6749 5.1 plus ``refresh_expires_in``).

    In browser cookie mode the two tokens travel in HttpOnly cookies instead, and the body
    carries ``csrf_token``.
    """

    access_token: str
    token_type: Literal["Bearer", "DPoP"] = Field(
        description="DPoP when the request carried a DPoP proof: the token is bound to its key"
    )
    expires_in: int = Field(description="seconds")
    refresh_token: str
    refresh_expires_in: int = Field(description="seconds")
    scope: str


class AccessTokenResponse(BaseModel):
    """A fresh access token for this session (its refresh token stays valid)."""

    access_token: str
    token_type: Literal["Bearer", "DPoP"] = Field(
        description="DPoP when the request carried a DPoP proof: the token is bound to its key"
    )
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


class Introspection(BaseModel):
    """RFC 7662 2.2: ``active``, and for an active token what it says."""

    model_config = ConfigDict(extra="allow")

    active: bool
    scope: str | None = None
    client_id: str | None = None
    username: str | None = None
    token_type: str | None = Field(None, description="Bearer, or DPoP for a bound token")
    cnf: dict[str, str] | None = Field(None, description="RFC 9449 6.2: the key it is bound to")
    exp: int | None = None
    iat: int | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    iss: str | None = None
    jti: str | None = None


class Revoked(BaseModel):
    """RFC 7009 2.2: the body is empty (``{}``) whether or not anything was revoked."""


class Discovery(BaseModel):
    """RFC 8414 / OpenID Connect Discovery metadata, with jotauth's own endpoints
    (``jotauth_*``)."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    jwks_uri: str
    token_endpoint: str
    introspection_endpoint: str
    revocation_endpoint: str
    jotauth_revocations_endpoint: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    scopes_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
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
    """One page of users by id."""

    users: list[User]
    next: str | None = Field(
        description="`after` for the next page; null when this page is the last"
    )


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
    """One page of live sessions, newest first."""

    sessions: list[Session]
    next: str | None = Field(
        description="`after` for the next page; null when this page is the last"
    )


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
