"""RFC 7662 introspection and RFC 7009 revocation, for an authenticated client.

Introspection answers ``{"active": false}`` and nothing else for every token that is not
live *for the asking client*: unknown, malformed, expired, revoked (its jti, session, user,
signing key, or its client disabled), or an access token whose ``aud`` is not among the
asking client's registered audiences (a resource server learns only about tokens meant for
it). A refresh token is only ever shown to the client it was issued to, so it is active only
for that client. One answer for all of these, so the endpoint is no oracle for which.

Revocation answers 200 whatever the token (RFC 7009 2.2): a refresh token of the asking
client ends its whole family (session), with every access token it issued; an access token
of the asking client is denylisted by ``jti`` until its ``exp``, which the revocation feed
publishes (and Redis pushes) to every guard. A token of another client is left alone.
"""

import time
from collections.abc import Callable
from typing import Any, Final

from jotauth import jose
from jotauth.guard.revocation import RevocationView
from jotauth.issuer.services.client_cache import ClientCache
from jotauth.issuer.services.feed_view import FeedView
from jotauth.issuer.services.keyring import KeyRing
from jotauth.issuer.services.tokens import TokenService, hash_refresh
from jotauth.issuer.services.turns import in_thread
from jotauth.issuer.settings import Settings
from jotauth.store.records import ClientRecord
from jotauth.store.sql import SQLStore

__all__ = ["INACTIVE", "TokenIntrospection"]

INACTIVE: Final = {"active": False}
_MAX_TOKEN: Final = 8192
_FIELDS: Final = (
    "scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "tier", "rate_limit",
    "cnf",
)  # fmt: skip


def _dead(
    claims: dict[str, Any], token: str, view: RevocationView, owner: ClientRecord | None
) -> bool:
    """Whether a verified service token is revoked: its jti, its client's disabling since
    it was issued, or its key (the feed view), or its client unknown or disabled now."""
    jti, iat = claims.get("jti"), claims.get("iat")
    kid = jose.peek_header(token).get("kid")
    revoked = view.check(
        jti if isinstance(jti, str) else None,
        str(claims["client_id"]),
        iat if isinstance(iat, int | float) else 0,
        kid if isinstance(kid, str) else None,
    )
    return revoked is not None or owner is None or owner.disabled


def _answer(claims: dict[str, Any]) -> dict[str, Any]:
    """The RFC 7662 2.2 answer for a live access token's claims."""
    # RFC 9449 6.2: a DPoP-bound token is introspected with its cnf and token_type DPoP, so
    # that a resource server asks for the proof.
    bound = isinstance(claims.get("cnf"), dict) and "jkt" in claims["cnf"]
    answer: dict[str, Any] = {"active": True, "token_type": "DPoP" if bound else "Bearer"}
    answer.update({name: claims[name] for name in _FIELDS if name in claims})
    if isinstance(claims.get("preferred_username"), str):
        answer["username"] = claims["preferred_username"]
    return answer


class TokenIntrospection:
    """What a client may learn about a token, and how it gives one up."""

    def __init__(
        self,
        store: SQLStore,
        ring: KeyRing,
        settings: Settings,
        tokens: TokenService,
        *,
        algorithms: list[str],
        clock: Callable[[], float] = time.time,
        clients: ClientCache | None = None,
        revocations: FeedView | None = None,
    ) -> None:
        """``clients`` and ``revocations``: where a service token's client and revocations
        are read from memory (``client_cache``, ``feed_view``: their staleness is bounded
        and documented there); without both, one statement per token asks the database."""
        self.clients = clients
        self.revocations = revocations
        self.store = store
        self.ring = ring
        self.settings = settings
        self.tokens = tokens
        self.algorithms = algorithms
        self.clock = clock
        self._verifiers: dict[tuple[str, ...], tuple[jose.KeySet, jose.Verifier]] = {}

    # -- access tokens -----------------------------------------------------------------------

    def _verify(
        self, token: str, audiences: list[str], now: float, keys: jose.KeySet | None = None
    ) -> dict[str, Any] | None:
        """The claims of one of this server's live access tokens for one of ``audiences``.

        One compiled verifier per audience set and key set (a client's audiences rarely
        change; the dict is bounded). ``keys``: the key set the caller already holds (the
        event loop's caller must never fall back to reading the ring from the database).
        """
        if not audiences:
            return None
        if keys is None:
            keys = self.ring.cached_keys(now) or self.ring.verification_keys()
        wanted = tuple(sorted(audiences))
        current = self._verifiers.get(wanted)
        if current is None or current[0] is not keys:
            verifier = jose.Verifier(
                keys,
                algorithms=self.algorithms,
                issuer=self.settings.issuer,
                audience=wanted,
                typ="at+jwt",
                require=("exp", "iat", "jti", "sub"),
            )
            if len(self._verifiers) >= 1024:
                self._verifiers.clear()
            current = self._verifiers[wanted] = (keys, verifier)
        try:
            return current[1].verify(token, now=now)
        except jose.JoseError:
            return None

    def _live_access(self, token: str, audiences: list[str], now: float) -> dict[str, Any] | None:
        claims = self._verify(token, audiences, now)
        if claims is None:
            return None
        iat, sid, jti = claims.get("iat"), claims.get("sid"), claims.get("jti")
        kid = jose.peek_header(token).get("kid")
        client_id = claims.get("client_id")
        issued = iat if isinstance(iat, int | float) else 0
        if claims.get("sub") == client_id and isinstance(client_id, str):  # a service token
            if self.clients is not None and self.revocations is not None:
                view = self.revocations.current()
                owner = self.clients.get(client_id[:64])
                return None if _dead(claims, token, view, owner) else claims
            if self.store.service_token_revoked(
                client_id=client_id[:64],
                jti=jti if isinstance(jti, str) else None,
                kid=kid if isinstance(kid, str) else None,
                iat=issued,
            ):
                return None
            return claims
        reason = self.store.revoked_reason(
            jti=jti if isinstance(jti, str) else None,
            sub=str(claims["sub"]),
            iat=issued,
            kid=kid if isinstance(kid, str) else None,
            sid=sid if isinstance(sid, str) and sid else None,
        )
        if reason is not None:
            return None
        return claims

    # -- refresh tokens ----------------------------------------------------------------------

    def _live_refresh(self, token: str, client: ClientRecord, now: float) -> dict[str, Any] | None:
        found = self.tokens.find(token)
        if found is None:
            return None
        record, family, user = found
        settings = self.settings
        if (
            record.used_at is not None
            or family.revoked_at is not None
            or family.client_id != client.client_id
            or family.expires_at <= now
            or family.last_used_at + settings.refresh_idle_ttl <= now
            or user is None
            or user.disabled
        ):
            return None
        return {
            "active": True,
            "client_id": family.client_id,
            "sub": user.sub,
            "username": user.username,
            "scope": family.scope,
            "iss": settings.issuer,
            "iat": int(record.created_at),
            "exp": int(min(family.expires_at, family.last_used_at + settings.refresh_idle_ttl)),
        }

    def introspect_sync(
        self, client: ClientRecord, token: str, hint: str | None = None
    ) -> dict[str, Any]:
        """The RFC 7662 2.2 answer for ``token`` as ``client`` may see it."""
        if not token or len(token) > _MAX_TOKEN or not token.isascii():
            return dict(INACTIVE)
        now = self.clock()
        if token.count(".") != 2:
            return self._live_refresh(token, client, now) or dict(INACTIVE)
        claims = self._live_access(token, client.audiences, now)
        if claims is None:  # the verifier checked aud against the client's audiences
            return dict(INACTIVE)
        return _answer(claims)

    def from_memory(self, client: ClientRecord, token: str) -> dict[str, Any] | None:
        """``introspect_sync``'s answer when memory holds all it needs, else None (never
        blocks, so the event loop may ask it and spare the request a worker thread).

        Memory holds it for a service token while the key ring, the revocation view and the
        token client's cached record are all fresh; the rules are ``introspect_sync``'s
        (``_dead``), only where the facts come from differs.
        """
        if not token or len(token) > _MAX_TOKEN or not token.isascii():
            return dict(INACTIVE)
        feed, clients, now = self.revocations, self.clients, self.clock()
        if feed is None or clients is None or token.count(".") != 2:
            return None
        keys = self.ring.cached_keys(now)
        if keys is None or not feed.fresh():
            return None
        claims = self._verify(token, client.audiences, now, keys)  # these keys: no read
        if claims is None:
            return dict(INACTIVE)
        client_id = claims.get("client_id")
        if claims.get("sub") != client_id or not isinstance(client_id, str):
            return None  # a user's token: its user's row is in the database only
        hit, owner = clients.cached(client_id[:64])
        if not hit:
            return None
        return dict(INACTIVE) if _dead(claims, token, feed.view, owner) else _answer(claims)

    async def introspect(
        self, client: ClientRecord, token: str, hint: str | None = None
    ) -> dict[str, Any]:
        """From memory when it can (``from_memory``), else ``introspect_sync`` in a worker
        thread (it reads the database)."""
        answer = self.from_memory(client, token)
        if answer is not None:
            return answer
        return await in_thread(self.introspect_sync, client, token, hint)

    # -- revocation --------------------------------------------------------------------------

    def revoke_sync(self, client: ClientRecord, token: str, hint: str | None = None) -> str | None:
        """Revoke ``token`` if it is ``client``'s; what was revoked (``session``/``token``)."""
        if not token or len(token) > _MAX_TOKEN or not token.isascii():
            return None
        now = self.clock()
        if token.count(".") != 2:
            found = self.store.find_refresh(hash_refresh(token)) if len(token) <= 128 else None
            if found is None or found[1].client_id != client.client_id:
                return None
            self.tokens.revoke_session(found[1].id, reason="revoked")
            return "session"
        # A client's tokens carry one of its audiences, or (user tokens) the server's own.
        claims = self._verify(token, [*client.audiences, self.settings.audience], now)
        if claims is None or claims.get("client_id") != client.client_id:
            return None  # unknown, expired (nothing left to revoke) or another client's
        jti, exp = claims.get("jti"), claims.get("exp")
        if not isinstance(jti, str) or not isinstance(exp, int):
            return None
        self.store.revoke_token(jti, exp, now=now)
        return "token"

    async def revoke(self, client: ClientRecord, token: str, hint: str | None = None) -> str | None:
        """``revoke_sync`` in a worker thread."""
        return await in_thread(self.revoke_sync, client, token, hint)
