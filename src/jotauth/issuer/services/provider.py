"""``OAuthProvider``: the token endpoint's grants, introspection and revocation, per client.

Every request first settles *which registered client* is asking (``ClientAuthenticator``),
then whether that client may use the grant (``unauthorized_client``), then the grant's own
rules. No client id reaches a token unless it is registered: the one exception is a password
or refresh request that names no client at all, which is the server's own first-party client
(``JOTAUTH_DEFAULT_CLIENT_ID``, the same as ``/login``).

DPoP (RFC 9449): each grant takes ``jkt``, the thumbprint of the key the request's proof
proved (``services.dpop``), or None. The access token is then bound to it; the refresh token
of a public client's (or the first-party) session too, never a confidential client's (RFC
9449 5: it is bound to the client's authentication already). A client registered with
``dpop_bound_access_tokens`` is refused without a proof (``invalid_dpop_proof``).

The password grant is off unless ``JOTAUTH_PASSWORD_GRANT`` (or demo mode) turns it on: RFC
9700 2.4 says it MUST NOT be used, since the client sees the user's password.
"""

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from jotauth.issuer.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedGrantTypeError,
)
from jotauth.issuer.events import EventType
from jotauth.issuer.services.auth import AuthService, Client
from jotauth.issuer.services.client_auth import ClientAuthenticator, ClientCredentials
from jotauth.issuer.services.dpop import require_proof
from jotauth.issuer.services.grants import ServiceToken, check_grant, issue_client_token
from jotauth.issuer.services.introspection import TokenIntrospection
from jotauth.issuer.services.tokens import TokenPair
from jotauth.issuer.services.turns import in_thread
from jotauth.store.records import ClientRecord, FamilyRecord

__all__ = ["GRANT_OFF_MESSAGE", "OAuthProvider"]

GRANT_OFF_MESSAGE = (
    "the password grant is turned off (RFC 9700 2.4: the client would see the user's "
    "password); set JOTAUTH_PASSWORD_GRANT=true to allow it, or log in with POST /login"
)


class OAuthProvider:
    """The OAuth 2 endpoints' use cases (the api layer parses, this decides)."""

    def __init__(
        self,
        auth: AuthService,
        authenticator: ClientAuthenticator,
        introspection: TokenIntrospection,
        *,
        algorithms: list[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth = auth
        self.authenticator = authenticator
        self.introspection = introspection
        self.settings = auth.settings
        self.algorithms = algorithms
        self.clock = clock

    async def client(self, credentials: ClientCredentials, caller: Client) -> ClientRecord:
        """The authenticated client, or InvalidClientError (audited as client_auth_failed)."""
        try:
            record = await self.authenticator.authenticate(credentials)
        except InvalidClientError as exc:
            await self.auth.emit(
                EventType.CLIENT_AUTH_FAILED, caller, outcome="failure",
                client_id=(credentials.client_id or "")[:64] or None,
                method=credentials.method, reason=str(exc),
            )  # fmt: skip
            raise
        await caller.proved()
        return record

    # -- grants ------------------------------------------------------------------------------

    async def password(
        self,
        credentials: ClientCredentials,
        username: str | None,
        password: str | None,
        caller: Client,
        *,
        scope: str | None,
        jkt: str | None = None,
    ) -> TokenPair:
        """RFC 6749 4.3, when turned on; the client (if named) must be allowed the grant."""
        if not self.settings.password_grant_enabled:
            raise UnsupportedGrantTypeError(GRANT_OFF_MESSAGE)
        if username is None or password is None:
            raise InvalidRequestError("username and password are required for this grant")
        client_id, bind = None, True
        if credentials.method is not None:
            client = await self.client(credentials, caller)
            check_grant(client, "password")
            require_proof(jkt, client.dpop_bound_access_tokens)
            bind = not client.confidential
            if client.scopes and scope is not None:
                extra = set(scope.split()) - set(client.scopes)
                if extra:
                    raise InvalidScopeError("this client may not ask for that scope")
            client_id = client.client_id
        return await self.auth.login(
            username, password, caller, client_id=client_id, scope=scope, jkt=jkt, bind=bind
        )

    async def refresh(
        self,
        credentials: ClientCredentials,
        refresh_token: str,
        caller: Client,
        *,
        jkt: str | None = None,
    ) -> TokenPair:
        """RFC 6749 6: the refresh token must be the calling client's (a confidential client
        authenticates; a session of the server's own client needs no client)."""
        client = None
        if credentials.method is not None:
            client = await self.client(credentials, caller)
            check_grant(client, "refresh_token")
            require_proof(jkt, client.dpop_bound_access_tokens)

        async def belongs(family: FamilyRecord) -> None:
            if client is not None and family.client_id != client.client_id:
                raise InvalidGrantError("the refresh token is not valid")

        # Without client credentials the service's own rule holds (no confidential session).
        check = None if client is None else belongs
        return await self.auth.refresh(refresh_token, caller, check_client=check, jkt=jkt)

    async def client_credentials(
        self,
        credentials: ClientCredentials,
        caller: Client,
        *,
        scope: str | None,
        targets: list[str],
        jkt: str | None = None,
    ) -> ServiceToken:
        """RFC 6749 4.4: a token for the client itself."""
        client = await self.client(credentials, caller)
        check_grant(client, "client_credentials")  # a public client cannot register it
        require_proof(jkt, client.dpop_bound_access_tokens)
        if not client.confidential:  # pragma: no cover - so this never happens
            raise InvalidClientError()
        ring, settings = self.auth.ring, self.settings
        signer = ring.ready_signer()
        issue = partial(
            issue_client_token, client, ring=ring, settings=settings, scope=scope,
            targets=targets, clock=self.clock, jkt=jkt, signer=signer,
        )  # fmt: skip
        if signer is not None:  # no database read is due: sign here, without a thread hop
            return issue()
        return await in_thread(issue)

    # -- introspection and revocation --------------------------------------------------------

    async def introspect(
        self, credentials: ClientCredentials, token: str, hint: str | None, caller: Client
    ) -> dict[str, Any]:
        """RFC 7662: the token as the authenticated client may see it."""
        client = await self.client(credentials, caller)
        return await self.introspection.introspect(client, token, hint)

    async def revoke(
        self, credentials: ClientCredentials, token: str, hint: str | None, caller: Client
    ) -> None:
        """RFC 7009: revoke the client's own token; anything else is ignored (still 200)."""
        client = await self.client(credentials, caller)
        revoked = await self.introspection.revoke(client, token, hint)
        if revoked is not None:
            await self.auth.emit(
                EventType.TOKEN_REVOKED, caller, client_id=client.client_id, kind=revoked
            )
