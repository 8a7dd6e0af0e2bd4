"""The authorization code flow with PKCE (RFC 6749 4.1, RFC 7636, OAuth 2.1, RFC 9700).

Two kinds of refusal, decided here and rendered by ``api/authorize.py``:

- ``UnsafeRequestError``: the client or redirect URI cannot be trusted (unknown or disabled
  client, a redirect URI that is not exactly one the client registered). The browser is
  NEVER sent anywhere then: an error page is shown (RFC 6749 4.1.2.1, RFC 9700 4.1: the
  redirect would be an open redirector).
- ``AuthorizationError``: anything else; redirected to the checked redirect URI with
  ``error``, ``state`` and ``iss`` (RFC 9207).

Codes are 256 random bits, stored as their SHA-256, valid 60 seconds, spent by one guarded
``UPDATE`` (``store.spend_code``): a second exchange is a replay and revokes the tokens the
first one issued (RFC 6749 4.1.2), even when it arrives while the first is still issuing.
"""

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jotauth.issuer.errors import (
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from jotauth.issuer.services.dpop import require_proof
from jotauth.issuer.services.id_tokens import IdTokens
from jotauth.issuer.services.identity_scopes import is_identity_scope, userinfo_claims
from jotauth.issuer.services.oauth_clients import ClientRegistry, OAuthClient
from jotauth.issuer.services.sso import ActiveSession
from jotauth.issuer.services.tokens import TokenService
from jotauth.issuer.services.users import covers
from jotauth.issuer.settings import Settings
from jotauth.store.records import AuthorizationCodeRecord
from jotauth.store.sql import SQLStore

__all__ = [
    "CODE_TTL",
    "AuthorizationError",
    "AuthorizationRequest",
    "AuthorizationService",
    "Decision",
    "UnsafeRequestError",
    "s256",
]

CODE_TTL: Final = 60
_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256, no padding
_VERIFIER: Final = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.1
_PROMPTS: Final = frozenset({"none", "login", "consent", "select_account"})
_LIMITS: Final = {"state": 2048, "nonce": 512, "login_hint": 256, "scope": 2048}
_SINGLE: Final = (
    "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "prompt",
    "max_age", "login_hint", "code_challenge", "code_challenge_method", "response_mode",
)  # fmt: skip
"""Parameters that must not be repeated (RFC 6749 3.1)."""
CARRIED: Final = (*_SINGLE, "id_token_hint", "ui_locales", "display", "acr_values")
"""The parameters the login and consent forms carry back, so their POST is the same request."""


class UnsafeRequestError(Exception):
    """The request names no usable client or redirect URI: show an error page, never redirect."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class AuthorizationError(Exception):
    """An RFC 6749 4.1.2.1 error, sent to the (checked) redirect URI."""

    def __init__(self, code: str, description: str, redirect_uri: str, state: str | None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request."""

    client: OAuthClient
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    params: dict[str, str] = field(default_factory=dict)

    def error(self, code: str, description: str) -> AuthorizationError:
        """This request's refusal, to its redirect URI."""
        return AuthorizationError(code, description, self.redirect_uri, self.state)

    @property
    def scope(self) -> str:
        """The scopes as one string."""
        return " ".join(self.scopes)


@dataclass(frozen=True)
class Decision:
    """What the browser sees next: ``login``, ``consent``, or a code (``issue``)."""

    step: str


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


class AuthorizationService:
    """Checks authorization requests, decides login/consent, issues and exchanges codes.

    Synchronous methods (run in a worker thread); ``clients`` is the client registry.
    """

    def __init__(
        self,
        store: SQLStore,
        settings: Settings,
        *,
        clients: ClientRegistry,
        tokens: TokenService,
        id_tokens: IdTokens | None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.settings = settings
        self.clients = clients
        self.tokens = tokens
        self.id_tokens = id_tokens
        self.clock = clock

    # -- the request -------------------------------------------------------------------------

    def parse(self, params: Mapping[str, list[str]]) -> AuthorizationRequest:
        """Check an authorization request (query or form parameters, every value kept)."""
        for name in ("client_id", "redirect_uri"):
            if len(params.get(name, [])) > 1:
                raise UnsafeRequestError(f"{name} is repeated")
        client_id = _one(params, "client_id")
        if not client_id:
            raise UnsafeRequestError("the request names no client (client_id is missing)")
        client = self.clients.get_client(client_id[:128])
        if client is None or client.disabled or client.client_id != client_id:
            raise UnsafeRequestError("no such client is registered, or it is disabled")
        redirect_uri = _one(params, "redirect_uri")
        if not redirect_uri:
            raise UnsafeRequestError("redirect_uri is missing")
        # Exact string match only (RFC 9700 2.1): no prefix, case, port or path leeway.
        if redirect_uri not in client.redirect_uris or "#" in redirect_uri:
            raise UnsafeRequestError("redirect_uri is not one this client registered")
        state = _one(params, "state")
        if state is not None and len(state) > _LIMITS["state"]:
            state = None  # too long to send back; the error below says so

        def fail(code: str, description: str) -> AuthorizationError:
            return AuthorizationError(code, description, redirect_uri, state)

        return self._checked(params, client, redirect_uri, state, fail)

    def _checked(
        self,
        params: Mapping[str, list[str]],
        client: OAuthClient,
        redirect_uri: str,
        state: str | None,
        fail: Callable[[str, str], AuthorizationError],
    ) -> AuthorizationRequest:
        raw_state = _one(params, "state")
        if raw_state is not None and state is None:
            raise fail("invalid_request", f"state is longer than {_LIMITS['state']} characters")
        for name in _SINGLE:
            if len(params.get(name, [])) > 1:
                raise fail("invalid_request", f"{name} is repeated")
        if "request" in params:
            raise fail("request_not_supported", "request objects are not supported")
        if "request_uri" in params:
            raise fail("request_uri_not_supported", "request_uri is not supported")
        if "registration" in params:
            raise fail("registration_not_supported", "the registration parameter is not supported")
        mode = _one(params, "response_mode")
        if mode not in (None, "query"):
            raise fail("invalid_request", "response_mode must be query")
        response_type = _one(params, "response_type")
        if not response_type:
            raise fail("invalid_request", "response_type is required")
        if response_type != "code":
            raise fail("unsupported_response_type", "response_type must be code")
        if "authorization_code" not in client.grant_types:
            raise fail("unauthorized_client", "this client may not use the authorization code flow")
        challenge = _one(params, "code_challenge")
        method = _one(params, "code_challenge_method")
        if not challenge:
            raise fail("invalid_request", "PKCE is required: send code_challenge (S256)")
        if method != "S256":
            raise fail("invalid_request", "code_challenge_method must be S256 (plain is refused)")
        if not _CHALLENGE.fullmatch(challenge):
            raise fail("invalid_request", "code_challenge must be the 43-character S256 value")
        for name in ("nonce", "login_hint", "scope"):
            value = _one(params, name)
            if value is not None and len(value) > _LIMITS[name]:
                raise fail("invalid_request", f"{name} is longer than {_LIMITS[name]} characters")
        scopes = tuple(dict.fromkeys((_one(params, "scope") or "").split()))
        for scope in scopes:
            if scope not in client.scopes:
                raise fail(
                    "invalid_scope", f"the scope {scope[:80]!r} is not allowed for this client"
                )
        prompt = frozenset((_one(params, "prompt") or "").split())
        if not prompt <= _PROMPTS:
            raise fail("invalid_request", "prompt must be none, login, consent or select_account")
        if "none" in prompt and len(prompt) > 1:
            raise fail("invalid_request", "prompt=none cannot be combined with other values")
        raw_age = _one(params, "max_age")
        max_age = None
        if raw_age is not None:
            if not (raw_age.isascii() and raw_age.isdigit() and len(raw_age) <= 9):
                raise fail("invalid_request", "max_age must be a whole number of seconds")
            max_age = int(raw_age)
        carried = {name: values[0] for name in CARRIED if (values := params.get(name))}
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            state=state,
            scopes=scopes,
            nonce=_one(params, "nonce"),
            code_challenge=challenge,
            prompt=prompt,
            max_age=max_age,
            login_hint=_one(params, "login_hint"),
            params=carried,
        )

    # -- login and consent -------------------------------------------------------------------

    def decide(
        self,
        request: AuthorizationRequest,
        session: ActiveSession | None,
        *,
        fresh: bool = False,
        consented: bool = False,
    ) -> Decision:
        """What this browser must do next; AuthorizationError for ``prompt=none`` refusals.

        ``fresh``: the user typed their password in this very request (the login form's
        POST), so ``prompt=login`` and ``max_age`` are satisfied by it. ``consented``: the
        user approved on the consent form just now.
        """
        if session is None or (not fresh and self._stale(request, session)):
            if "none" in request.prompt:
                raise request.error("login_required", "the user is not signed in")
            return Decision("login")
        for scope in request.scopes:
            if not is_identity_scope(scope) and not covers(session.user.permissions, scope):
                raise request.error(
                    "invalid_scope", f"the scope {scope[:80]!r} is not granted to this user"
                )
        if not consented and self.needs_consent(request, session):
            if "none" in request.prompt:
                raise request.error("consent_required", "the user has not approved this client")
            return Decision("consent")
        return Decision("issue")

    def _stale(self, request: AuthorizationRequest, session: ActiveSession) -> bool:
        """Whether the client asks for a newer sign-in than the session's (prompt, max_age)."""
        if request.prompt & {"login", "select_account"}:
            return True
        age = self.clock() - session.record.auth_time
        return request.max_age is not None and age > request.max_age

    def needs_consent(self, request: AuthorizationRequest, session: ActiveSession) -> bool:
        """Third-party clients need the user's approval of the scopes, once (or on demand)."""
        if "consent" in request.prompt:
            return True
        if request.client.first_party:
            return False
        granted = self.store.consented_scope(session.user.id, request.client.client_id)
        return granted is None or not set(request.scopes) <= set(granted.split())

    def remember_consent(self, request: AuthorizationRequest, session: ActiveSession) -> None:
        """Store the user's approval (added to what they approved before)."""
        before = self.store.consented_scope(session.user.id, request.client.client_id) or ""
        scopes = list(dict.fromkeys([*before.split(), *request.scopes]))
        self.store.save_consent(
            session.user.id, request.client.client_id, " ".join(scopes), now=self.clock()
        )

    # -- codes -------------------------------------------------------------------------------

    def issue_code(self, request: AuthorizationRequest, session: ActiveSession) -> str:
        """A new code for this request and session."""
        now = self.clock()
        code = secrets.token_urlsafe(32)
        self.store.create_code(
            _hash(code),
            AuthorizationCodeRecord(
                client_id=request.client.client_id,
                user_id=session.user.id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                scope=request.scope,
                nonce=request.nonce,
                sso_sid=session.record.sid,
                auth_time=session.record.auth_time,
                created_at=now,
                expires_at=now + CODE_TTL,
            ),
        )
        return code

    def exchange_code(
        self,
        client: OAuthClient,
        form: Mapping[str, str],
        *,
        ip: str | None = None,
        user_agent: str | None = None,
        jkt: str | None = None,
    ) -> dict[str, Any]:
        """The token response for an ``authorization_code`` grant (RFC 6749 4.1.3, 4.1.4), for
        the ``client`` the token request authenticated as; ``jkt``: the DPoP key it proved
        (the tokens are bound to it, the refresh token only for a public client)."""
        if "authorization_code" not in client.grant_types:
            raise UnauthorizedClientError("this client may not use the authorization code grant")
        require_proof(jkt, client.dpop_bound_access_tokens)
        code, redirect_uri = form.get("code"), form.get("redirect_uri")
        verifier = form.get("code_verifier")
        if not code or not redirect_uri:
            raise InvalidRequestError("code and redirect_uri are required")
        if not verifier:
            raise InvalidGrantError("code_verifier is required (PKCE)")
        if not _VERIFIER.fullmatch(verifier):
            raise InvalidRequestError("code_verifier must be 43 to 128 unreserved characters")
        now = self.clock()
        code_hash = _hash(code[:256])
        record, first = self.store.spend_code(code_hash, now=now)
        if record is None:
            raise InvalidGrantError("the authorization code is not valid")
        if not first:
            if record.family_id is not None:
                self.tokens.revoke_session(record.family_id, reason="code_replay")
            raise InvalidGrantError(
                "the authorization code was already used; its tokens are revoked"
            )
        if (
            record.expires_at <= now
            or record.client_id != client.client_id
            or record.redirect_uri != redirect_uri
            or not hmac.compare_digest(s256(verifier), record.code_challenge)
        ):
            raise InvalidGrantError("the authorization code is not valid for this request")
        session = self.store.get_sso_session(record.sso_sid)
        user = self.store.get_user(record.user_id)
        if (
            session is None
            or session.ended_at is not None
            or user is None
            or user.disabled
            or user.not_before > record.auth_time
        ):
            raise InvalidGrantError("the sign-in of this code has ended")
        pair = self.tokens.start_session(
            user, client_id=client.client_id, scope=record.scope, ip=ip, user_agent=user_agent,
            jkt=jkt, bind=client.client_type == "public", access_ttl=client.access_ttl,
        )  # fmt: skip
        if not self.store.attach_family(code_hash, pair.family_id):
            self.tokens.revoke_session(pair.family_id, reason="code_replay")
            raise InvalidGrantError(
                "the authorization code was already used; its tokens are revoked"
            )
        body = pair.body()
        scopes = set(record.scope.split())
        if "openid" in scopes and self.id_tokens is not None:
            body["id_token"] = self.id_tokens.id_token(
                sub=user.sub,
                client_id=client.client_id,
                auth_time=record.auth_time,
                sid=record.sso_sid,
                nonce=record.nonce,
                access_token=pair.access_token,
                claims={k: v for k, v in userinfo_claims(user, scopes).items() if k != "sub"},
                alg=client.id_token_signed_response_alg,
            )
        return body
