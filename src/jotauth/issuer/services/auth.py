"""``AuthService``: the server's use cases, each emitting its auth event.

HTTP handlers stay thin: they parse the request, call one method here with the client's IP and
User-Agent, and turn the result or the IssuerError into a response. The brute-force limits
(``self.limits``, see ``services.limits``) are asked here, on the values the handler parsed,
before any password is hashed or refresh token rotated: one parse of each body decides both
what is checked and what is counted. Database work runs in a
worker thread (``anyio.to_thread``), password hashing too, so the event loop never blocks;
the store calls take turns (``services.turns``: one at a time on SQLite, the pool's
size on PostgreSQL), the password checks do not.

The two hot paths pay as few thread hops and commits as their rules allow: a refresh is two
hops (the lookup, whose owner the limits must see before anything is written; then the
signature and the rotation) and a login two (the user lookup with the password check; then
the signature and the new session), and each writes its success event's audit row in its
own write (``EventBus.audit_entry``), so neither pays a third hop and a second commit for
the audit trail, and a crash can no longer leave a rotation or a session unaudited.
"""

import dataclasses
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from jotauth.issuer.errors import (
    ConflictError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    NotFoundError,
    RegistrationClosedError,
)
from jotauth.issuer.events import AuthEvent, EventBus, EventType
from jotauth.issuer.services.dpop import Proof, require_proof
from jotauth.issuer.services.keyring import KeyRing
from jotauth.issuer.services.limits import AttemptLimits, NoLimits
from jotauth.issuer.services.passwords import PasswordService
from jotauth.issuer.services.sealing import derive_key
from jotauth.issuer.services.tokens import (
    DPoPBindingError,
    ReuseDetectedError,
    SessionEndedError,
    TokenPair,
    TokenService,
    token_type,
)
from jotauth.issuer.services.turns import StoreTurns, in_thread, turn_limit
from jotauth.issuer.services.users import (
    MAX_PASSWORD,
    keep_an_admin,
    requested_scope,
    username_key,
    username_keys,
    validate_new_password,
    validate_permissions,
    validate_roles,
    validate_username,
)
from jotauth.issuer.settings import Settings
from jotauth.store.errors import DuplicateError
from jotauth.store.records import FamilyRecord, FeedPage, UserRecord
from jotauth.store.sql import SQLStore
from jotauth.store.sql.audit import AuditEntry

__all__ = ["AuthService", "Client"]

T = TypeVar("T")


@dataclass(frozen=True)
class Client:
    """Who is calling: recorded with every event; ``proof``, the DPoP proof the request
    carries, spent (its replay checked) by ``proved`` once the caller has authenticated."""

    ip: str | None = None
    user_agent: str | None = None
    proof: Proof | None = field(default=None, compare=False, repr=False)

    async def proved(self) -> None:
        """The caller authenticated: check its DPoP proof for replay (RFC 9449 11.1)."""
        if self.proof is not None:
            await self.proof.spend()


def _bound_key(claims: dict[str, Any]) -> str | None:
    """The ``cnf.jkt`` of a verified access token, or None (a bearer token)."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


class AuthService:
    """Logins, refreshes, logouts, password changes and user administration."""

    def __init__(
        self,
        store: SQLStore,
        settings: Settings,
        *,
        ring: KeyRing,
        passwords: PasswordService,
        events: EventBus,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        limits: AttemptLimits | None = None,
    ) -> None:
        self.store = store
        self.limits: AttemptLimits = limits if limits is not None else NoLimits()
        self.settings = settings
        self.ring = ring
        self.passwords = passwords
        self.events = events
        self.clock = clock
        self.tokens = TokenService(store, ring, settings, clock=clock, sleep=sleep)
        self._turns = StoreTurns(
            limit=turn_limit(store),
            wait=settings.db_pool_timeout,
        )
        secret = settings.master_key or settings.hmac_secret or os.urandom(32)
        self._name_tag_key = derive_key(secret, b"jotauth unknown username tag")

    async def _store(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking store call in a worker thread (in turn with the others on SQLite)."""
        return await self._turns.run(function, *args, **kwargs)

    def name_tag(self, username: str) -> str:
        """How a login name no account has is recorded: ``unknown:`` and 96 bits of an
        HMAC-SHA256 of its normalized form, under a key derived from the master key.

        A password typed into the username field must not reach the logs or the audit
        table. The tag cannot be reversed or tested against guesses without the server's
        secret, yet the same name always gives the same tag, so bursts against one
        (unknown) name still show as one in the audit trail.
        """
        normal = username_key(username).encode("utf-8", "surrogatepass")
        digest = hmac.new(self._name_tag_key, normal, "sha256").hexdigest()
        return "unknown:" + digest[:24]

    async def emit(
        self,
        type: EventType | str,
        client: Client,
        *,
        outcome: str = "success",
        user: UserRecord | None = None,
        username: str | None = None,
        login_name: str | None = None,
        **detail: Any,
    ) -> None:
        """Publish one AuthEvent (``login_name``: the typed name, never recorded)."""
        await self.events.emit(
            self.event(
                type, client, outcome=outcome, user=user, username=username,
                login_name=login_name, **detail,
            )
        )  # fmt: skip

    def event(
        self,
        type: EventType | str,
        client: Client,
        *,
        outcome: str = "success",
        user: UserRecord | None = None,
        username: str | None = None,
        login_name: str | None = None,
        **detail: Any,
    ) -> AuthEvent:
        """The AuthEvent ``emit`` publishes, for a use case that records it itself first."""
        return AuthEvent(
            type=EventType(type),
            outcome=outcome,
            user_id=None if user is None else user.sub,
            username=user.username if user is not None else username,
            ip=client.ip,
            user_agent=client.user_agent,
            detail=detail,
            at=self.clock(),
            login_name=login_name,
        )

    # -- credentials -------------------------------------------------------------------------

    async def check_password(self, username: Any, password: Any, client: Client) -> UserRecord:
        """The user for these credentials, or InvalidGrantError after a full-cost check."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise InvalidRequestError("username and password must be strings")
        await self.limits.admit_login(username, client.ip)
        user, (valid, new_hash) = await in_thread(self._find_and_verify, username, password)
        if user is None or not valid or user.disabled:
            reason = "unknown_user" if user is None else ("disabled" if valid else "bad_password")
            await self.emit(
                "login_failed", client, outcome="failure", user=user,
                username=None if user is not None else self.name_tag(username[:256]),
                login_name=username[:256], reason=reason,
            )  # fmt: skip
            await self.limits.login_failed(username, client.ip)
            raise InvalidGrantError("invalid username or password")
        await client.proved()
        await self.limits.login_succeeded(username, user.sub, client.ip)
        if new_hash is not None:  # bcrypt (or weaker Argon2) upgraded to the current Argon2id
            user = (
                await self._store(self.store.update_user, user.id, password_hash=new_hash) or user
            )
        return user

    def _find_and_verify(
        self, username: str, password: str
    ) -> tuple[UserRecord | None, tuple[bool, str | None]]:
        """The user of ``username`` and the password check, in one thread hop (blocking)."""
        user = None
        if 0 < len(username) <= 256 and len(password) <= MAX_PASSWORD:
            user = self.store.find_user_any(username_keys(username))
        stored = None if user is None else user.password_hash
        return user, self.passwords.verify_sync(password[:MAX_PASSWORD], stored)

    async def login(
        self,
        username: Any,
        password: Any,
        client: Client,
        *,
        client_id: str | None = None,
        scope: str | None = None,
        jkt: str | None = None,
        bind: bool = True,
    ) -> TokenPair:
        """Check the password, start a session, return its first token pair.

        ``scope``: the narrower scope asked for (OAuth ``scope``), InvalidScopeError when the
        user does not hold it. Every password login (``/login``, ``/oauth/token``) is this.
        ``jkt``: the DPoP key the request proved (``TokenService.start_session``); ``bind``:
        the session's refresh token is bound to it too (all but confidential clients).
        """
        user = await self.check_password(username, password, client)
        made: list[tuple[TokenPair, AuthEvent]] = []

        def audit(pair: TokenPair) -> AuditEntry | None:
            event = self.event(
                "login_succeeded", client, user=user, login_name=username, sid=pair.family_id
            )
            made.append((pair, event))
            return self.events.audit_entry(event)

        await self._after_not_before(user)
        pair = await self._store(
            self.tokens.start_session,
            user,
            client_id=client_id,
            scope=requested_scope(scope, user.permissions),
            ip=client.ip,
            user_agent=client.user_agent,
            audit=audit,
            jkt=jkt,
            bind=bind,
        )
        await self.events.emit(made[0][1], recorded=True)
        return pair

    async def refresh(
        self,
        refresh_token: Any,
        client: Client,
        *,
        check_client: Callable[[FamilyRecord], Awaitable[None]] | None = None,
        jkt: str | None = None,
    ) -> TokenPair:
        """Rotate a refresh token (see ``TokenService.refresh``).

        ``check_client``: the token endpoint's check that the authenticated caller is the
        client the session belongs to (RFC 6749 6), given the family found by the one lookup;
        without it (``/refresh``, or no client credentials) only a session no confidential
        client owns may refresh (``_unauthenticated_refresh``). ``jkt``: the DPoP key the
        request proved (a bound session needs its own key).
        """
        if not isinstance(refresh_token, str):
            raise InvalidRequestError("refresh_token must be a string")
        found = await self._store(self.tokens.find, refresh_token)
        if found is not None:
            check = check_client or partial(self._unauthenticated_refresh, jkt=jkt)
            await check(found[1])
            await client.proved()  # a live refresh token of this caller: its proof counts
            if found[2] is not None:
                await self._after_not_before(found[2])
        owner = None if found is None else str(found[1].user_id)
        family_id = None if found is None else found[1].id
        await self.limits.admit_refresh(client.ip, owner, family_id)
        made: list[tuple[TokenPair, AuthEvent]] = []

        def audit(pair: TokenPair) -> AuditEntry | None:
            event = self.event(
                "token_refreshed", client, user=pair.user, sid=pair.family_id, raced=pair.raced
            )
            made.append((pair, event))
            return self.events.audit_entry(event)

        try:
            pair = await self._store(
                self.tokens.refresh, refresh_token, found, audit=audit, jkt=jkt
            )
        except ReuseDetectedError as exc:
            user = await self._store(self.store.get_user, exc.family.user_id)
            await self.emit(
                "refresh_reuse_detected", client, outcome="failure", user=user,
                sid=exc.family.id,
            )  # fmt: skip
            await self.limits.refresh_failed(str(exc.family.user_id), exc.family.id)
            raise
        except DPoPBindingError as exc:
            # Audited, but not counted against the session's refresh limit: whoever holds a
            # copy of the token without the key has nothing to guess, and counting would let
            # them lock the owner's session out of refreshing.
            await self.emit(
                "token_refreshed", client, outcome="failure", user=exc.user,
                sid=exc.family.id, reason="dpop_key_mismatch",
            )  # fmt: skip
            raise
        except SessionEndedError as exc:
            await self.emit(
                "token_refreshed", client, outcome="failure", user=exc.user,
                sid=exc.family.id, reason=str(exc),
            )  # fmt: skip
            await self.limits.refresh_failed(str(exc.family.user_id), exc.family.id)
            raise
        except InvalidGrantError as exc:
            await self.emit("token_refreshed", client, outcome="failure", reason=str(exc))
            raise
        if made and made[-1][0] is pair:  # the rotation won and wrote this event's row
            await self.events.emit(made[-1][1], recorded=True)
        else:  # a racer converged on the winner's successor: its own event
            await self.emit(
                "token_refreshed", client, user=pair.user, sid=pair.family_id, raced=pair.raced
            )
        return pair

    # -- sessions ----------------------------------------------------------------------------

    async def _after_not_before(self, user: UserRecord) -> None:
        """Wait out a user-wide revocation's not-before second (at most about 1 s) before a
        token is made for ``user``: in a worker thread but outside the store turns, since a
        turn held through the wait would stall every store call of the process (one turn on
        SQLite). ``TokenService.access_token`` then has nothing left to wait for."""
        wait = user.not_before - self.clock()
        if wait > 0:
            await in_thread(self.tokens.sleep, min(wait, 2.0))

    async def _unauthenticated_refresh(self, family: FamilyRecord, *, jkt: str | None) -> None:
        """A refresh with no client authentication: the server's own sessions (``/login``)
        and public clients' only. A confidential client's session is refreshed by that client
        authenticating at ``/oauth/token`` (RFC 6749 6): without the check its refresh token
        alone would do at ``/refresh`` (no secret, and no DPoP key, since RFC 9449 5 binds a
        confidential client's refresh tokens by its authentication, not by a key)."""
        if family.client_id == self.settings.default_client_id:
            return
        owner = await self._store(self.store.get_client, family.client_id)
        if owner is not None and owner.confidential:
            raise InvalidClientError(
                "client authentication is required: this refresh token belongs to a "
                "confidential client; refresh it at /oauth/token with the client's credentials"
            )
        if owner is not None:
            require_proof(jkt, owner.dpop_bound_access_tokens)

    async def logout(
        self, claims: dict[str, Any], client: Client, refresh_token: str | None = None
    ) -> None:
        """End the caller's session and kill its access token."""
        await self._store(self.tokens.logout, claims, refresh_token)
        user = await self._user_of(claims)
        await self.emit("logout", client, user=user, sid=claims.get("sid"))

    async def logout_all(self, claims: dict[str, Any], client: Client) -> None:
        """End every session of the caller."""
        user = await self._user_of(claims)
        await self._store(self.tokens.end_all_sessions, user.id, reason="logout_all")
        await self.emit("logout_all", client, user=user)

    async def change_password(
        self, claims: dict[str, Any], current: Any, new: Any, client: Client
    ) -> TokenPair | dict[str, Any]:
        """Change the password, end every other session, return a fresh access token."""
        user = await self._user_of(claims)
        password = validate_new_password(new)
        if not isinstance(current, str):
            raise InvalidRequestError("current_password must be a string")
        # The current password is a guess like any login: the same limits count it.
        await self.limits.admit_login(user.username, client.ip)
        valid, _ = await self.passwords.verify(current[:MAX_PASSWORD], user.password_hash)
        if not valid:
            await self.emit(
                "password_changed", client, outcome="failure", user=user, reason="bad_password"
            )
            await self.limits.login_failed(user.username, client.ip)
            raise InvalidGrantError("the current password is wrong")
        await self.limits.login_succeeded(user.username, user.sub, client.ip)
        new_hash = await self.passwords.hash(password)
        raw_sid = claims.get("sid")
        sid = raw_sid if isinstance(raw_sid, str) and raw_sid else None
        family = None if sid is None else await self._store(self.store.get_family, sid)
        updated = await self._store(
            self.tokens.end_all_sessions,
            user.id,
            reason="password_changed",
            keep_family=sid,
            password_hash=new_hash,
        )
        await self.emit("password_changed", client, user=user)
        fresh = updated or user
        await self._after_not_before(fresh)
        token, new_claims = await self._store(
            self.tokens.access_token,
            fresh,
            family_id=sid or "",
            client_id=str(claims.get("client_id") or self.settings.default_client_id),
            scope=self.tokens.session_scope(fresh, family),  # a narrowed session stays narrow
            now=self.clock(),
            jkt=_bound_key(claims),  # a DPoP-bound token's successor stays bound to that key
            ttl=None if family is None else family.access_ttl,
        )
        return {
            "access_token": token,
            "token_type": token_type(new_claims),
            "expires_in": new_claims["exp"] - new_claims["iat"],
            "scope": new_claims["scope"],
        }

    async def user_of_subject(self, sub: str) -> UserRecord | None:
        """The user a token's ``sub`` names, or None (a client's subject names no user)."""
        if not (sub.isdigit() and len(sub) < 19):
            return None
        return await self._store(self.store.get_user, int(sub))

    async def _user_of(self, claims: dict[str, Any]) -> UserRecord:
        sub = claims.get("sub")
        user = await self.user_of_subject(sub) if isinstance(sub, str) else None
        if user is None:
            raise NotFoundError("the user of this token no longer exists")
        return user

    # -- users -------------------------------------------------------------------------------

    async def create_user(
        self,
        username: Any,
        password: Any,
        *,
        roles: Any = None,
        permissions: Any = None,
        password_hash: str | None = None,
    ) -> UserRecord:
        """Validate and store a new user (hash given: imported as is)."""
        name = validate_username(username)
        role_list = validate_roles(roles if roles is not None else [])
        perms = validate_permissions(permissions if permissions is not None else {})
        if password_hash is None:
            password_hash = await self.passwords.hash(validate_new_password(password))
        elif not self.passwords.is_supported(password_hash):
            raise InvalidRequestError("the password hash is not Argon2 or bcrypt")
        probe = UserRecord(
            id=10**18, username=name, password_hash="", roles=role_list, permissions=perms
        )
        await self._store(self.tokens.check_fits, probe)  # a 422 now, not an error at every login
        # A user made before PRECIS keys may hold this name's legacy key: it is taken too.
        if await self._store(self.store.find_user_any, username_keys(name)) is not None:
            raise ConflictError("this username is taken")
        try:
            return await self._store(
                self.store.create_user,
                username=name,
                username_key=username_key(name),
                password_hash=password_hash,
                roles=role_list,
                permissions=perms,
                now=self.clock(),
            )
        except DuplicateError:
            raise ConflictError("this username is taken") from None

    async def register(self, username: Any, password: Any, client: Client) -> UserRecord:
        """Self-service sign-up, when JOTAUTH_REGISTRATION_OPEN is true."""
        if not self.settings.registration_open:
            raise RegistrationClosedError("registration is closed on this server")
        if not isinstance(username, str):
            raise InvalidRequestError("username must be a string")
        await self.limits.admit_register(username, client.ip)
        user = await self.create_user(username, password)
        await self.emit("user_registered", client, user=user)
        return user

    async def set_disabled(
        self, user_id: int, disabled: bool, client: Client, actor: str | None
    ) -> UserRecord:
        """Disable (every token dies) or re-enable a user; the last admin is not disabled."""
        if disabled:
            user = await self._store(
                self.tokens.end_all_sessions,
                user_id,
                reason="user_disabled",
                disable=True,
                check=keep_an_admin,
            )
        else:
            user = await self._store(self.store.enable_user, user_id)
        if user is None:
            raise NotFoundError(f"no user with id {user_id}")
        if disabled:
            await self.emit("user_disabled", client, user=user, by=actor)
        await self.emit(
            "admin_action", client, user=user, action="disable" if disabled else "enable", by=actor
        )
        return user

    async def set_password(
        self, user_id: int, new: Any, client: Client, actor: str | None
    ) -> UserRecord:
        """An administrator sets a user's password (no current one needed).

        The same policy as a change by the user (``validate_new_password``), and the same
        consequence: every session and access token of theirs ends, so whoever knew the old
        password is out. Audited as ``password_changed`` (with ``by``) and ``admin_action``.
        """
        password = validate_new_password(new)
        if await self._store(self.store.get_user, user_id) is None:
            raise NotFoundError(f"no user with id {user_id}")
        new_hash = await self.passwords.hash(password)
        user = await self._store(
            self.tokens.end_all_sessions, user_id, reason="password_set", password_hash=new_hash
        )
        if user is None:  # deleted while the hash was computed
            raise NotFoundError(f"no user with id {user_id}")
        await self.emit("password_changed", client, user=user, by=actor)
        await self.emit("admin_action", client, user=user, action="set_password", by=actor)
        return user

    async def update_grants(
        self, user_id: int, client: Client, actor: str | None, **values: Any
    ) -> UserRecord:
        """Replace a user's roles or permissions (effective from their next refresh).

        Taking ``admin:write`` away from the last enabled admin is refused (ConflictError).
        """
        clean: dict[str, Any] = {}
        if "roles" in values:
            clean["roles"] = validate_roles(values["roles"])
        if "permissions" in values:
            clean["permissions"] = validate_permissions(values["permissions"])
        current = await self._store(self.store.get_user, user_id)
        if current is None:
            raise NotFoundError(f"no user with id {user_id}")
        await self._store(self.tokens.check_fits, dataclasses.replace(current, **clean))
        check = keep_an_admin if "permissions" in clean else None
        user = await self._store(self.store.update_user, user_id, check=check, **clean)
        if user is None:
            raise NotFoundError(f"no user with id {user_id}")
        await self.emit(
            "admin_action", client, user=user, action="set_" + "_".join(clean), by=actor
        )
        return user

    async def revoke_session(self, session_id: str, client: Client, actor: str | None) -> None:
        """An admin ends one session: its refresh token and every access token it issued."""
        if "\x00" in session_id or not await self._store(
            self.tokens.revoke_session, session_id[:64], reason="admin"
        ):  # NUL names no session (PostgreSQL text refuses it)
            raise NotFoundError("no live session with this id")
        await self.emit(
            "admin_action", client, action="revoke_session", by=actor, sid=session_id[:64]
        )

    # -- reads the HTTP layer needs (it never calls the store itself) --------------------------

    async def revoked_reason(
        self, *, jti: str | None, sub: str, iat: float, kid: str | None, sid: str | None
    ) -> str | None:
        """Why a verified access token is dead (jti, session, user not-before, disabled user,
        key), or None: the issuer's one revocation check per request."""
        return await self._store(
            self.store.revoked_reason, jti=jti, sub=sub, iat=iat, kid=kid, sid=sid
        )

    async def list_users(self, *, limit: int, after: int | None) -> list[UserRecord]:
        """Up to ``limit`` users by id, after the id ``after`` (``GET /admin/users``)."""
        return await self._store(self.store.list_users, limit=limit, after=after)

    async def list_sessions(
        self, user_id: int | None, *, limit: int, after: tuple[float, str] | None
    ) -> list[FamilyRecord]:
        """Up to ``limit`` live sessions (refresh families), newest first, after the
        (created_at, id) key ``after``, optionally of one user."""
        return await self._store(
            self.store.list_families,
            user_id=user_id,
            active_at=self.clock(),
            limit=limit,
            after=after,
        )

    async def feed_page(self, position: int, *, limit: int) -> FeedPage:
        """One page of the revocation feed after ``position`` (``GET /revocations``): its
        live events and the cursor past every row it looked at, expired ones included."""
        return await self._store(self.store.feed_page, position, now=self.clock(), limit=limit)

    def healthy(self) -> bool:
        """Whether the database answers and a signing key is loaded (blocking: run it in a
        worker thread, bounded by the caller)."""
        if not self.store.ping():
            return False
        try:
            self.ring.view()
        except Exception:  # noqa: BLE001 - the check reports any failure, never raises it
            return False
        return True
