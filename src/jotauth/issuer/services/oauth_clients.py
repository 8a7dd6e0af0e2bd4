"""What the OpenID provider needs to know of a registered client, as a Protocol.

The client registry (clients table, secrets, ``private_key_jwt``, the ``jotauth client`` CLI) is
its own module; the authorization code flow only looks clients up and asks the registry to
authenticate one at the token endpoint. Coding against this seam keeps one registry: the app
is handed any object with these two methods (``create_app(clients=...)``); without one, no
client exists and every authorization request is refused on the error page.
"""

from collections.abc import Mapping
from typing import Literal, Protocol

from jotauth.issuer.errors import InvalidClientError

__all__ = ["ClientRegistry", "NoClients", "OAuthClient"]


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


class ClientRegistry(Protocol):
    """Looks clients up and authenticates them (the registry module implements it)."""

    def get_client(self, client_id: str) -> OAuthClient | None:
        """The client, or None when no client has this id."""
        ...

    def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None
    ) -> OAuthClient:
        """The client a token request authenticates as (``client_id`` alone for a public
        client; Basic, a posted secret or a signed assertion for a confidential one), or
        InvalidClientError."""
        ...


class NoClients:
    """The registry of a server with no client registry wired: it knows no client."""

    def get_client(self, client_id: str) -> OAuthClient | None:
        """Always None."""
        return None

    def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None
    ) -> OAuthClient:
        """Always InvalidClientError."""
        raise InvalidClientError("no client is registered on this server")
