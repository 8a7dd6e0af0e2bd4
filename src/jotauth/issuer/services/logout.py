"""Ending an SSO session (OIDC RP-Initiated Logout 1.0) and what it takes down with it.

The session row ends first; then every token session its authorization codes issued is
revoked (``TokenService.revoke_session``: the refresh family and, through a ``session``
feed event pushed to guards, every access token naming it). What remains is telling the
clients: a back-channel logout token for each client of the session that registered a URI,
returned for the caller to deliver after it has answered the browser.
"""

from collections.abc import Callable

from jotauth.issuer.services.id_tokens import IdTokens
from jotauth.issuer.services.oauth_clients import ClientRegistry
from jotauth.issuer.services.tokens import TokenService
from jotauth.store.records import SSOSessionRecord
from jotauth.store.sql import SQLStore

__all__ = ["SessionLogout"]


class SessionLogout:
    """Ends SSO sessions; synchronous (run in a worker thread)."""

    def __init__(
        self,
        store: SQLStore,
        *,
        tokens: TokenService,
        clients: ClientRegistry,
        id_tokens: IdTokens | None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.clients = clients
        self.id_tokens = id_tokens
        self.clock = clock

    def end(self, sid: str) -> tuple[SSOSessionRecord | None, list[tuple[str, str]]]:
        """End session ``sid``: (its record, the ``(uri, logout token)`` pairs to deliver).

        Idempotent: a session that had ended already revokes again (a no-op) but notifies
        nobody a second time.
        """
        record = self.store.get_sso_session(sid[:64])
        if record is None:
            return None, []
        ended = self.store.end_sso_session(record.sid, now=self.clock())
        for _client_id, family_id in self.store.session_grants(record.sid):
            self.tokens.revoke_session(family_id, reason="logout")
        deliveries: list[tuple[str, str]] = []
        if not ended or self.id_tokens is None:
            return record, deliveries
        for client_id in self.store.session_clients(record.sid):
            client = self.clients.get_client(client_id)
            if client is None or not client.backchannel_logout_uri:
                continue
            token = self.id_tokens.logout_token(
                sub=str(record.user_id),
                client_id=client_id,
                sid=record.sid,
                alg=client.id_token_signed_response_alg,
            )
            deliveries.append((client.backchannel_logout_uri, token))
        return record, deliveries
