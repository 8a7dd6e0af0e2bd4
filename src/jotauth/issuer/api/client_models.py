"""The admin API's client shapes: the request body FastAPI validates, and the answers.

``ClientRequest`` checks shape (strict types; unknown members refused, so a misspelt field is
an error rather than a silently kept default); the rules on the values (URIs, grants for the
client type, scopes) are the registry's, ``services/clients.py``.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClientList", "ClientRequest", "ClientView", "RegisteredClient"]

_AUTH = Literal["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
_GRANT = Literal["authorization_code", "client_credentials", "password", "refresh_token"]
_ID_ALG = Literal["RS256", "ES256", "EdDSA"]


class ClientRequest(BaseModel):
    """A client to register (or what it may do, to replace)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: str = Field(max_length=128)
    type: Literal["public", "confidential"] = "confidential"
    token_endpoint_auth_method: _AUTH | None = Field(
        None, description="default: none (public), client_secret_basic (confidential)"
    )
    redirect_uris: list[str] = Field([], description="matched exactly; https or loopback http")
    grant_types: list[_GRANT] = ["client_credentials"]
    scopes: list[str] = Field([], description="the scopes the client may ask for")
    audiences: list[str] = Field([], description="the audiences the client may ask for")
    first_party: bool = False
    access_ttl: int | None = Field(None, ge=1, le=86400, description="seconds; overrides")
    id_token_signed_response_alg: _ID_ALG | None = Field(
        None, description="the ID tokens' algorithm (OIDC Registration 2); default RS256"
    )
    tier: str | None = Field(None, max_length=64)
    rate_limit: int | None = Field(None, ge=1, description="requests per rate_window")
    rate_window: int | None = Field(None, ge=1, le=86400, description="seconds (default 60)")
    jwks: dict[str, Any] | None = Field(None, description="public keys (private_key_jwt)")
    jwks_uri: str | None = Field(None, description="where the keys are (private_key_jwt)")
    backchannel_logout_uri: str | None = None
    post_logout_redirect_uris: list[str] = Field(
        [], description="where RP-initiated logout may return the browser; matched exactly"
    )
    dpop_bound_access_tokens: bool = Field(
        False, description="RFC 9449 5.2: refuse token requests without a DPoP proof"
    )


class ClientView(BaseModel):
    """A registered client (never its secret or the secret's hash)."""

    client_id: str
    name: str
    type: str
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    audiences: list[str]
    first_party: bool
    access_ttl: int | None
    id_token_signed_response_alg: str
    tier: str | None
    rate_limit: int | None
    rate_window: int | None
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    backchannel_logout_uri: str | None
    post_logout_redirect_uris: list[str]
    dpop_bound_access_tokens: bool
    disabled: bool
    created_at: int
    secret_rotated_at: int | None


class RegisteredClient(ClientView):
    """A client just registered or given a new secret: the secret is shown this once."""

    client_secret: str | None = Field(description="shown once; store it now")


class ClientList(BaseModel):
    """Registered clients, by client_id."""

    clients: list[ClientView]
