"""Apply the brute-force limits in front of login, refresh and registration (pure ASGI).

The middleware reads the username from the login body (JSON or form) before the password is
ever checked, so a locked account costs no hashing; it answers 429 with ``Retry-After`` and
the usual ``{"error", "error_description"}`` body. Failures are counted from the issuer's
``login_failed`` events (``RateLimiter.observe``), which know exactly when a password check
failed, rather than guessed from status codes.
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
from jotauth.issuer.hardening.metrics import HardeningMetrics
from jotauth.issuer.hardening.ratelimit import RateLimiter

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
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.metrics = metrics
        self.paths = dict(paths)

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
        if action == "login" and complete:
            username = field_from_body(body, content_type, "username")
        decision = await self.limiter.check(action, client_ip(scope), username)
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


async def observe_event(limiter: RateLimiter, event: Any) -> None:
    """Count a failed login against its account; forget the count after a success."""
    kind = getattr(event, "type", "")
    if kind not in ("login_failed", "login_succeeded"):
        return
    username = getattr(event, "username", None)
    if not username:
        detail = getattr(event, "detail", None) or {}
        username = detail.get("username") if isinstance(detail, Mapping) else None
    if not isinstance(username, str) or not username:
        return
    if kind == "login_failed":
        await limiter.record_failure(username)
    else:
        await limiter.record_success(username)
