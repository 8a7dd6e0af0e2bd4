"""What the OpenID provider needs to know of a registered client, as a Protocol.

The client registry (clients table, secrets, ``private_key_jwt``, the ``jotauth client`` CLI:
``services/clients.py``, ``services/client_auth.py``) is its own module; the authorization
code flow only looks clients up and asks the registry to authenticate one at the token
endpoint. ``RegisteredClients`` is that seam over the real registry, what ``create_app`` wires
by default; ``create_app(clients=...)`` takes any other object with these two methods.
"""

from dataclasses import dataclass
from typing import Literal, Protocol

from jotauth.issuer.services.client_auth import ClientAuthenticator, ClientCredentials
from jotauth.store.records import ClientRecord
from jotauth.store.sql import SQLStore

__all__ = ["ClientRegistry", "OAuthClient", "RegisteredClients"]


class OAuthClient(Protocol):
    """A registered client, as the authorization endpoint reads it."""

    @property
    def client_id(self) -> str: ...
    @property
    def client_type(self) -> Literal["public", "confidential"]: ...
    @property
    def redirect_uris(self) -> tuple[str, ...]: ...
    @property
    def post_logout_redirect_uris(self) -> tuple[str, ...]: ...
    @property
    def grant_types(self) -> tuple[str, ...]: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def audiences(self) -> tuple[str, ...]: ...
    @property
    def first_party(self) -> bool: ...
    @property
    def backchannel_logout_uri(self) -> str | None: ...
    @property
    def disabled(self) -> bool: ...
    @property
    def access_ttl(self) -> int | None: ...
    @property
    def dpop_bound_access_tokens(self) -> bool: ...
    @property
    def id_token_signed_response_alg(self) -> str | None: ...


class ClientRegistry(Protocol):
    """Looks clients up and authenticates them (the registry module implements it)."""

    def get_client(self, client_id: str) -> OAuthClient | None:
        """The client, or None when no client has this id."""
        ...

    async def authenticate_client(self, credentials: ClientCredentials) -> OAuthClient:
        """The client a token request authenticates as (``client_id`` alone for a public
        client; Basic, a posted secret or a signed assertion for a confidential one), or
        InvalidClientError."""
        ...


@dataclass(frozen=True)
class _Registered:
    """A registry record as the authorization flow reads it."""

    record: ClientRecord

    @property
    def client_id(self) -> str:
        return self.record.client_id

    @property
    def client_type(self) -> Literal["public", "confidential"]:
        return "public" if self.record.type == "public" else "confidential"

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return tuple(self.record.redirect_uris)

    @property
    def post_logout_redirect_uris(self) -> tuple[str, ...]:
        return tuple(self.record.post_logout_redirect_uris)

    @property
    def grant_types(self) -> tuple[str, ...]:
        return tuple(self.record.grant_types)

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.record.scopes)

    @property
    def audiences(self) -> tuple[str, ...]:
        return tuple(self.record.audiences)

    @property
    def first_party(self) -> bool:
        return self.record.first_party

    @property
    def backchannel_logout_uri(self) -> str | None:
        return self.record.backchannel_logout_uri

    @property
    def disabled(self) -> bool:
        return self.record.disabled

    @property
    def access_ttl(self) -> int | None:
        return self.record.access_ttl

    @property
    def dpop_bound_access_tokens(self) -> bool:
        return self.record.dpop_bound_access_tokens

    @property
    def id_token_signed_response_alg(self) -> str | None:
        return self.record.id_token_signed_response_alg


class RegisteredClients:
    """The seam over the client registry: lookups in the clients table, authentication by the
    registry's own ``ClientAuthenticator`` (every method it supports, one set of rules)."""

    def __init__(self, store: SQLStore, authenticator: ClientAuthenticator) -> None:
        self.store = store
        self.authenticator = authenticator

    def get_client(self, client_id: str) -> OAuthClient | None:
        """The client (blocking: the callers run it in a worker thread), or None."""
        record = self.store.get_client(client_id)
        return None if record is None else _Registered(record)

    async def authenticate_client(self, credentials: ClientCredentials) -> OAuthClient:
        """The authenticated client, or InvalidClientError."""
        return _Registered(await self.authenticator.authenticate(credentials))
