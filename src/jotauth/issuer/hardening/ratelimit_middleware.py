"""Apply the brute-force limits in front of login, refresh and registration (pure ASGI).

The middleware reads the username from the login or registration body (JSON or form) before
the password is ever checked, so a locked account costs no hashing, and finds the owner of a
presented refresh token (body or refresh cookie) before it is rotated; it answers 429 with
``Retry-After`` and the usual ``{"error", "error_description"}`` body. Failures are counted
from the issuer's events (``observe_event``: ``login_failed``, failed ``token_refreshed``,
``refresh_reuse_detected``), which know exactly what failed and whose it was, rather than
guessed from status codes.
"""

import logging
from collections.abc import Mapping
from typing import Any, Final

from jotauth.issuer.hardening._asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    buffer_body,
    client_ip,
    field_from_body,
    get_header,
    json_response,
    replay,
)
from jotauth.issuer.hardening.cookies import parse_cookies
from jotauth.issuer.hardening.metrics import HardeningMetrics
from jotauth.issuer.hardening.ratelimit import RateLimiter
from jotauth.issuer.hardening.refresh_owner import Owner, OwnerLookup
from jotauth.store.errors import StoreUnavailableError

__all__ = ["DEFAULT_PATHS", "RateLimitMiddleware", "observe_event"]

logger = logging.getLogger("jotauth.ratelimit")

# path -> action; None means "decided by the OAuth grant_type".
DEFAULT_PATHS: Final[Mapping[str, str | None]] = {
    "/login": "login",
    "/refresh": "refresh",
    "/register": "register",
    "/oauth/token": None,
}
_GRANTS: Final = {"password": "login", "refresh_token": "refresh"}
# Enough for any login form; bigger bodies are passed on for the app to refuse.
_BODY_LIMIT: Final = 64 * 1024


class RateLimitMiddleware:
    """429 before the handler runs when the caller's IP or the named account is over limit."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        *,
        metrics: HardeningMetrics | None = None,
        paths: Mapping[str, str | None] = DEFAULT_PATHS,
        owner_of: OwnerLookup | None = None,
        refresh_cookie: str | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.metrics = metrics
        self.paths = dict(paths)
        self.owner_of = owner_of
        self.refresh_cookie = refresh_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "POST" or path not in self.paths:
            await self.app(scope, receive, send)
            return
        body, more = await buffer_body(receive, _BODY_LIMIT)
        complete = not more and len(body) <= _BODY_LIMIT
        content_type = get_header(scope, b"content-type")
        action = self.paths[path]
        if action is None:
            grant = field_from_body(body, content_type, "grant_type") if complete else None
            action = _GRANTS.get(grant or "", "token")
        username = None
        if action in ("login", "register") and complete:
            username = field_from_body(body, content_type, "username")
        owner = None
        if action == "refresh" and await self.limiter.refresh_locks_possible():
            owner = await self._owner(scope, body if complete else b"", content_type)
        decision = await self.limiter.check(action, client_ip(scope), username, owner=owner)
        if not decision.allowed:
            if self.metrics is not None:
                self.metrics.rate_limited.labels(action=action, scope=decision.scope).inc()
            logger.warning(
                "rate limited %s by %s limit for %ss", action, decision.scope, decision.retry_after
            )
            await json_response(
                send,
                429,
                {
                    "error": "rate_limited",
                    "error_description": "too many attempts; retry after "
                    f"{decision.retry_after} seconds",
                },
                [(b"retry-after", str(decision.retry_after).encode())],
            )
            return
        await self.app(scope, replay(body, receive, more=more), send)

    async def _owner(self, scope: Scope, body: bytes, content_type: str | None) -> Owner | None:
        """The user and family of the refresh token in the body or the refresh cookie."""
        if self.owner_of is None:
            return None
        token = field_from_body(body, content_type, "refresh_token")
        if token is None and self.refresh_cookie:
            token = parse_cookies(get_header(scope, b"cookie")).get(self.refresh_cookie)
        if not token:
            return None
        try:
            return await self.owner_of(token)
        except StoreUnavailableError:
            return None  # logged once by the store; the refresh itself answers 503
        except Exception as exc:  # noqa: BLE001 - fail open: the issuer answers for its store
            # The type only: a driver's message may quote the query's parameters.
            logger.error("refresh token owner lookup failed: %s", type(exc).__name__)
            return None


async def observe_event(limiter: RateLimiter, event: Any) -> None:
    """Count failed logins and refreshes against their account; a login forgets them."""
    kind = getattr(event, "type", "")
    if kind in ("token_refreshed", "refresh_reuse_detected"):
        if getattr(event, "outcome", "") == "failure":
            detail = getattr(event, "detail", None) or {}
            sid = detail.get("sid") if isinstance(detail, Mapping) else None
            user_id = getattr(event, "user_id", None)
            await limiter.record_refresh_failure(
                user_id if isinstance(user_id, str) else None, sid if isinstance(sid, str) else None
            )
        return
    if kind not in ("login_failed", "login_succeeded"):
        return
    user_id = getattr(event, "user_id", None)
    if kind == "login_succeeded" and isinstance(user_id, str) and user_id:
        await limiter.clear_refresh_failures(user_id)
    # The typed name (the issuer's events carry it apart from the recorded ``username``, which
    # for an unknown name is a keyed hash): the same string the middleware keyed the check on.
    username = getattr(event, "login_name", None) or getattr(event, "username", None)
    if not username:
        detail = getattr(event, "detail", None) or {}
        username = detail.get("username") if isinstance(detail, Mapping) else None
    if not isinstance(username, str) or not username:
        return
    if kind == "login_failed":
        await limiter.record_failure(username)
    else:
        await limiter.record_success(username)
