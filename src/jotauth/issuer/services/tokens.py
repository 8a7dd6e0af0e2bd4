"""Access and refresh tokens: issue, rotate (with reuse detection and racer convergence), revoke.

Refresh race design (docs/issuer.md, "Two tabs refreshing at once"):

A refresh token ``T`` is 256 random bits; the database keeps ``sha256(T)`` only. Rotating ``T``
is one guarded write — ``UPDATE ... SET used_at=now, successor=seal(S) WHERE used_at IS NULL``
plus the insert of ``S`` — where ``seal`` is AES-GCM under a key derived from ``T`` itself.
Exactly one racer wins that write. A loser that presents ``T`` within the grace window opens
the sealed successor with ``T`` and receives the *same* ``S`` the winner got (following the
chain if ``S`` moved on already), so both tabs end up holding the family's one live token:
no fork, no false logout. Only a holder of ``T`` can open it, and a database dump alone
reveals no usable refresh token. Outside the window (or with grace 0), presenting ``T`` again
is reuse: the whole family is revoked.
"""

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jotauth import jose
from jotauth.issuer.errors import InvalidGrantError, IssuerError
from jotauth.issuer.services.encryption import AudienceEncryption, EncryptionKeyUnavailableError
from jotauth.issuer.services.identity_scopes import is_identity_scope
from jotauth.issuer.services.keyring import KeyRing
from jotauth.issuer.services.sealing import derive_key, open_sealed, seal
from jotauth.issuer.services.users import covers, narrow_permissions, scope_of
from jotauth.issuer.settings import Settings
from jotauth.store.records import FamilyRecord, RefreshRecord, UserRecord
from jotauth.store.sql import SQLStore
from jotauth.store.sql.audit import AuditEntry
from jotauth.store.sql.users import AdminCheck

# A refresh token's record, its family (session) and the family's user, as the store finds it.
Session = tuple[RefreshRecord, FamilyRecord, UserRecord | None]

__all__ = [
    "MAX_TOKEN_BYTES",
    "AuditOf",
    "DPoPBindingError",
    "ReuseDetectedError",
    "SessionEndedError",
    "TokenPair",
    "TokenService",
    "TokenTooLargeError",
    "hash_refresh",
    "token_type",
]

MAX_TOKEN_BYTES: Final = 8192
_CHAIN_LIMIT: Final = 16
_SESSION_MARGIN: Final = 60
"""Seconds a session revocation outlives the session's last possible access token, for a
refresh that read the family just before it was revoked."""
_PROBE_CLIENT_ID: Final = "c" * 128  # the longest client_id /oauth/token accepts
_PROBE_JKT: Final = "j" * 43  # a SHA-256 thumbprint: the cnf a DPoP-bound token adds


class TokenTooLargeError(IssuerError):
    """The access token would exceed the 8 KiB every verifier accepts."""

    code = "token_too_large"
    status = 422


class ReuseDetectedError(InvalidGrantError):
    """A rotated refresh token came back outside the grace window; its family is revoked."""

    def __init__(self, message: str, family: FamilyRecord) -> None:
        super().__init__(message)
        self.family = family


class SessionEndedError(InvalidGrantError):
    """A known refresh token whose session cannot refresh (ended, expired, account disabled).

    Carries the family and its user so that the failure is attributed to them (audit, the
    per-account refresh limit); the message stays the same generic one.
    """

    def __init__(self, message: str, family: FamilyRecord, user: UserRecord | None) -> None:
        super().__init__(message)
        self.family = family
        self.user = user


class DPoPBindingError(SessionEndedError):
    """A refresh token bound to a DPoP key (RFC 9449 5) came without a proof by that key:
    refused without rotating it, so a thief cannot use it nor spend the owner's token."""


def token_type(claims: dict[str, Any]) -> str:
    """``DPoP`` for a token bound to a key (``cnf.jkt``, RFC 9449 5), else ``Bearer``."""
    cnf = claims.get("cnf")
    return "DPoP" if isinstance(cnf, dict) and "jkt" in cnf else "Bearer"


@dataclass(frozen=True)
class TokenPair:
    """What /login, /refresh and /oauth/token answer."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    claims: dict[str, Any]
    user: UserRecord
    family_id: str
    raced: bool = False

    def body(self) -> dict[str, Any]:
        """The JSON response (RFC 6749 5.1 plus ``refresh_expires_in``)."""
        return {
            "access_token": self.access_token,
            "token_type": token_type(self.claims),
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
            "scope": self.claims["scope"],
        }


AuditOf = Callable[[TokenPair], AuditEntry | None]
"""The audit row of a pair about to be handed out, written with the write that makes it
(``start_session``'s new session, ``refresh``'s winning rotation), or None for no row."""


def hash_refresh(token: str) -> str:
    """The stored form of a refresh token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def _successor_key(token: str) -> bytes:
    return derive_key(token.encode(), b"jotauth refresh successor")


class TokenService:
    """Issues token pairs and applies the refresh rules; synchronous (run in a thread)."""

    def __init__(
        self,
        store: SQLStore,
        ring: KeyRing,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.ring = ring
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.encryption = AudienceEncryption(settings.encrypt_audiences, clock=clock)

    # -- access tokens -----------------------------------------------------------------------

    def access_token(
        self,
        user: UserRecord,
        *,
        family_id: str,
        client_id: str,
        scope: str | None,
        now: float,
        encrypt: bool = True,
        jkt: str | None = None,
        ttl: int | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A signed RFC 9068 access token for ``user``, refused when over 8 KiB.

        For an audience listed in ``JOTAUTH_ENCRYPT_AUDIENCES`` the signed token is then
        encrypted to the audience's published key (a nested JWT, ``cty: JWT``): only that
        service reads the claims; the 8 KiB limit applies to what is sent.

        ``scope`` None grants everything the user holds: the scope, the ``permissions`` and the
        ``roles``. A scope string grants exactly that (RFC 6749 section 3.3): ``permissions``
        narrowed to it and no ``roles`` (a role is all or nothing, and the guard maps it to
        grants the issuer cannot narrow), so scope, permissions and roles never disagree.

        ``ttl``: the session's access lifetime (its client's ``access_ttl``); None is
        ``JOTAUTH_ACCESS_TTL``.

        Right after a user-wide revocation (not-before = the next whole second) the token waits
        until that second: its ``iat`` is then both >= not-before and not in the future, which
        verifiers with no leeway (PyJWT's default) would refuse.

        ``jkt``: the thumbprint of the client's DPoP key; the token then carries ``cnf.jkt``
        (RFC 9449 6) and works only with a proof by that key.
        """
        if user.not_before > now:
            self.sleep(min(user.not_before - now, 2.0))
            now = max(self.clock(), float(user.not_before))
        issued = int(now)
        if scope is None:
            granted, permissions, roles = scope_of(user.permissions), user.permissions, user.roles
        else:
            wanted = list(dict.fromkeys(scope.split()))
            acting = [s for s in wanted if not is_identity_scope(s)]  # openid is no permission
            granted, permissions, roles = " ".join(wanted), narrow_permissions(acting), []
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "sub": user.sub,
            "aud": self.settings.audience,
            "exp": issued + (ttl or self.settings.access_ttl),
            "iat": issued,
            "jti": secrets.token_urlsafe(16),
            "client_id": client_id,
            "scope": granted,
            "roles": list(roles),
            "permissions": permissions,
            "preferred_username": user.username,
            "sid": family_id,
        }
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        signer = self.ring.signer()
        encryption = self.encryption
        recipient = encryption.key_for(claims["aud"]) if encrypt and encryption else None
        token = jose.encode(claims, signer, headers={"typ": "at+jwt"}, encrypt_to=recipient)
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenTooLargeError(
                f"the access token would be {len(token)} bytes, over the {MAX_TOKEN_BYTES}-byte "
                "limit verifiers accept; give this user fewer roles or permissions"
            )
        return token, claims

    def check_fits(self, user: UserRecord) -> None:
        """TokenTooLargeError (422) unless every access token ``user`` can get fits in 8 KiB.

        Run when grants are given, so that an admin hears it then, rather than the user
        getting an error at every login: the probe has the longest client_id and session id
        a token can carry, and a narrowed token is never larger than the full one. When an
        audience's encryption key cannot be fetched now, the signed token's size is checked
        (an admin's change should not wait for another service's JWKS).
        """
        family_id, now = secrets.token_urlsafe(16), max(self.clock(), float(user.not_before))
        for encrypt in (True, False):
            try:
                self.access_token(
                    user,
                    family_id=family_id,
                    client_id=_PROBE_CLIENT_ID,
                    scope=None,
                    now=now,
                    encrypt=encrypt,
                    jkt=_PROBE_JKT,
                )
            except EncryptionKeyUnavailableError:
                continue
            return

    def session_scope(self, user: UserRecord, family: FamilyRecord | None) -> str | None:
        """The ``scope`` argument of ``access_token`` for a session: None (every grant the
        user holds now) unless the client narrowed it at login; then that scope, less what
        the user has lost since (guards grant by scope)."""
        if family is None or not family.narrowed:
            return None
        return " ".join(
            s for s in family.scope.split() if is_identity_scope(s) or covers(user.permissions, s)
        )

    def _session_until(self, now: float, ttl: int | None) -> int:
        """The latest ``exp`` an access token of a session revoked at ``now`` can have, for a
        session whose tokens live ``ttl`` seconds (None: ``JOTAUTH_ACCESS_TTL``); never less
        than the server's own lifetime, so an unknown session is covered as before."""
        return int(now) + max(self.settings.access_ttl, ttl or 0) + _SESSION_MARGIN

    # -- login -------------------------------------------------------------------------------

    def start_session(
        self,
        user: UserRecord,
        *,
        client_id: str | None = None,
        scope: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        audit: AuditOf | None = None,
        jkt: str | None = None,
        bind: bool = False,
        access_ttl: int | None = None,
    ) -> TokenPair:
        """A new refresh family and its first token pair (after the password was checked).

        ``audit(pair)``: the event's row, written in the session's own insert. ``jkt``: the
        DPoP key the request proved: the access token is bound to it, and with ``bind`` (a
        public client's session, RFC 9449 5) the refresh family too. ``access_ttl``: the
        client's access lifetime, kept by the session for every refresh (None:
        ``JOTAUTH_ACCESS_TTL``).
        """
        now = self.clock()
        client = client_id or self.settings.default_client_id
        granted = scope_of(user.permissions) if scope is None else scope
        family = FamilyRecord(
            id=secrets.token_urlsafe(16),
            user_id=user.id,
            client_id=client,
            scope=granted,
            created_at=now,
            last_used_at=now,
            expires_at=now + self.settings.refresh_ttl,
            ip=ip,
            user_agent=None if user_agent is None else user_agent[:256],
            narrowed=scope is not None,
            dpop_jkt=jkt if bind else None,
            access_ttl=access_ttl,
        )
        access, claims = self.access_token(
            user,
            family_id=family.id,
            client_id=client,
            scope=scope,
            now=now,
            jkt=jkt,
            ttl=access_ttl,
        )
        refresh = _new_refresh()
        pair = self._pair(access, claims, refresh, user, family, now)
        entry = None if audit is None else audit(pair)
        self.store.create_family(family, hash_refresh(refresh), audit=entry)
        return pair

    def _pair(
        self,
        access: str,
        claims: dict[str, Any],
        refresh: str,
        user: UserRecord,
        family: FamilyRecord,
        now: float,
        raced: bool = False,
    ) -> TokenPair:
        remaining = min(family.expires_at - now, self.settings.refresh_idle_ttl)
        return TokenPair(
            access_token=access,
            expires_in=family.access_ttl or self.settings.access_ttl,
            refresh_token=refresh,
            refresh_expires_in=max(0, int(remaining)),
            claims=claims,
            user=user,
            family_id=family.id,
            raced=raced,
        )

    # -- refresh -----------------------------------------------------------------------------

    def find(self, token: str) -> Session | None:
        """The refresh record, family and user of ``token``, or None (not one of ours).

        ``AuthService.refresh`` looks the token up once, asks the brute-force limits about its
        owner, and hands the same lookup to ``refresh``: one query learns both.
        """
        if not 20 <= len(token) <= 128:
            return None
        return self.store.find_session(hash_refresh(token))

    def refresh(
        self,
        token: str,
        found: Session | None = None,
        *,
        audit: AuditOf | None = None,
        jkt: str | None = None,
    ) -> TokenPair:
        """Rotate ``token``; InvalidGrantError (ReuseDetectedError on reuse) when refused.

        ``found``: the result of ``find(token)`` when the caller looked it up already.
        ``audit(pair)``: the row of the winner's event, written in the rotation's own
        transaction; it is asked for the pair that is then returned, and for no other (a
        racer that lost, or converged, gets a different pair and writes no row here). The
        access token is signed before the rotation so that the row and the pair agree, and
        a token that cannot be issued (over 8 KiB) burns no refresh token.

        ``jkt``: the DPoP key the request proved. A family bound to a key refuses any other
        (DPoPBindingError, before anything is written); the new access token is bound to the
        family's key, or else to the proof's (a confidential client, RFC 9449 5).
        """
        now = self.clock()
        if found is None:
            found = self.find(token)
        if found is None:
            raise InvalidGrantError("the refresh token is not valid")
        record, family, owner = found
        user = self._check_family(family, owner, now)
        self._check_key(family, owner, jkt)
        if record.used_at is None:
            successor = _new_refresh()
            sealed = seal(_successor_key(token), successor.encode(), str(record.id).encode())
            pair = self._issue(user, family, successor, now, jkt=jkt)
            if self.store.rotate_refresh(
                record.id,
                family.id,
                successor_sealed=sealed,
                successor_hash=hash_refresh(successor),
                now=now,
                audit=None if audit is None else audit(pair),
            ):
                return pair
            found = self.store.find_session(hash_refresh(token))
            if found is None:  # pragma: no cover - rows are never deleted while live
                raise InvalidGrantError("the refresh token is not valid")
            record, family, owner = found
            user = self._check_family(family, owner, now)
        grace = self.settings.refresh_grace
        used_at = record.used_at if record.used_at is not None else now
        if grace > 0 and now - used_at <= grace and record.successor is not None:
            current = self._follow(token, record)
            return self._issue(user, family, current, now, raced=True, jkt=jkt)
        self.store.revoke_family(
            family.id,
            now=now,
            reason="refresh_reuse",
            until=self._session_until(now, family.access_ttl),
        )
        raise ReuseDetectedError(
            "the refresh token was already used; the session is revoked for safety", family
        )

    def _check_family(
        self, family: FamilyRecord, user: UserRecord | None, now: float
    ) -> UserRecord:
        if family.revoked_at is not None:
            raise SessionEndedError("the session of this refresh token has ended", family, user)
        if family.expires_at <= now:
            raise SessionEndedError(
                "the refresh token expired (absolute lifetime); log in again", family, user
            )
        if family.last_used_at + self.settings.refresh_idle_ttl <= now:
            raise SessionEndedError(
                "the refresh token expired (unused for too long); log in again", family, user
            )
        if user is None or user.disabled:
            raise SessionEndedError("the account of this refresh token is disabled", family, user)
        return user

    @staticmethod
    def _check_key(family: FamilyRecord, user: UserRecord | None, jkt: str | None) -> None:
        bound = family.dpop_jkt
        if bound is not None and (jkt is None or not hmac.compare_digest(jkt, bound)):
            raise DPoPBindingError(
                "the refresh token is bound to a DPoP key: send a DPoP proof signed by that key",
                family,
                user,
            )

    def _follow(self, token: str, record: RefreshRecord) -> str:
        """The live end of the chain starting at ``token`` (the racer's successor)."""
        current, current_record = token, record
        for _ in range(_CHAIN_LIMIT):
            sealed = current_record.successor
            if sealed is None:
                return current
            current = open_sealed(
                _successor_key(current), sealed, str(current_record.id).encode()
            ).decode()
            found = self.store.find_refresh(hash_refresh(current))
            if found is None or found[0].used_at is None:
                return current
            current_record = found[0]
        return current

    def _issue(
        self,
        user: UserRecord,
        family: FamilyRecord,
        refresh: str,
        now: float,
        raced: bool = False,
        jkt: str | None = None,
    ) -> TokenPair:
        access, claims = self.access_token(
            user,
            family_id=family.id,
            client_id=family.client_id,
            scope=self.session_scope(user, family),
            now=now,
            jkt=family.dpop_jkt or jkt,
            ttl=family.access_ttl,
        )
        return self._pair(access, claims, refresh, user, family, now, raced)

    # -- revocation --------------------------------------------------------------------------

    def logout(self, claims: dict[str, Any], refresh_token: str | None = None) -> None:
        """End the session of an access token: family revoked with every access token it
        issued (a ``session`` feed event), the token's own jti denylisted too."""
        now = self.clock()
        iat, exp = claims.get("iat"), claims.get("exp")
        # Every token of a session lives as long (the session fixed it): this one's lifetime.
        ttl = exp - iat if isinstance(iat, int) and isinstance(exp, int) else None
        until = self._session_until(now, ttl)
        sid = claims.get("sid")
        if isinstance(sid, str) and sid:
            self.store.revoke_family(sid, now=now, reason="logout", until=until)
        if refresh_token:
            found = self.store.find_refresh(hash_refresh(refresh_token))
            if found is not None and str(found[1].user_id) == claims.get("sub"):
                family = found[1]
                self.store.revoke_family(
                    family.id,
                    now=now,
                    reason="logout",
                    until=self._session_until(now, family.access_ttl),
                )
        jti = claims.get("jti")
        if isinstance(jti, str) and isinstance(exp, int):
            self.store.revoke_token(jti, exp, now=now)

    def revoke_session(self, family_id: str, *, reason: str) -> bool:
        """End one session and every access token it issued; False when none was live.

        The session's row is read first for its access lifetime (a client's may be longer
        than the server's): the ``session`` event must outlive the session's last token.
        """
        now = self.clock()
        family = self.store.get_family(family_id)
        ttl = None if family is None else family.access_ttl
        return self.store.revoke_family(
            family_id, now=now, reason=reason, until=self._session_until(now, ttl)
        )

    def end_all_sessions(
        self,
        user_id: int,
        *,
        reason: str,
        keep_family: str | None = None,
        disable: bool | None = None,
        password_hash: str | None = None,
        check: AdminCheck | None = None,
    ) -> UserRecord | None:
        """Every token of the user issued until now dies (per-user not-before)."""
        now = self.clock()
        return self.store.revoke_user(
            user_id,
            not_before=int(now) + 1,
            now=now,
            reason=reason,
            disable=disable,
            password_hash=password_hash,
            keep_family=keep_family,
            check=check,
        )
