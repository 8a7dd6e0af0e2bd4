"""Browser mode: tokens in HttpOnly cookies, with a CSRF double-submit token (pure ASGI).

A browser app should not keep tokens where page scripts can read them (an XSS away from
theft), so in browser mode:

* ``POST /login`` (and ``/refresh``) answer with cookies instead of tokens in the body: the
  access token in ``__Host-access_token`` (HttpOnly, Secure, SameSite, Path=/; the
  ``__Host-`` prefix means no subdomain can set or overwrite it), the refresh token in
  ``__Secure-refresh_token`` (HttpOnly, Secure, SameSite, Path=/refresh so it travels only to
  the refresh endpoint), and a random CSRF token in ``__Host-csrf_token`` that scripts *can*
  read. The body keeps everything but the tokens and adds ``csrf_token``.
* Any later request that carries the access cookie and no Authorization header is turned into
  a Bearer request, after a CSRF check when the method changes state: the ``X-CSRF-Token``
  header must equal the CSRF cookie (constant-time compare). A cross-site page can make the
  browser send cookies but can neither read the CSRF cookie nor set that header. The same
  check guards a cookie refresh. An ``Origin`` that is neither this server nor a configured
  CORS origin is refused as well (defence in depth).
* Login itself needs no CSRF cookie: cookies are only delivered when the request carries the
  ``X-Token-Delivery: cookie`` header, which a cross-site form cannot send and a cross-site
  script cannot send without passing CORS (``JOTAUTH_COOKIE_MODE=on``). With
  ``JOTAUTH_COOKIE_MODE=always`` every login answers with cookies.
* Logout and logout-all clear the cookies; so does a refresh the server refuses. A password
  change, which answers a fresh access token, puts it in the cookie.

The names and the header match the guard's cookie mode, so services protected by the guard
accept the same cookies: ``Guard(cookie="__Host-access_token", csrf_cookie="__Host-csrf_token")``.
Secure is always set unless ``JOTAUTH_COOKIE_INSECURE_DEV=1`` (plain-http development only),
which also drops the ``__Host-``/``__Secure-`` prefixes browsers would otherwise refuse.
"""

import hmac
import json
import secrets
from collections.abc import Collection
from typing import Any, Final

from jotauth.issuer.hardening._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    buffer_body,
    get_header,
    json_response,
    replay,
)
from jotauth.issuer.settings import Settings

__all__ = ["CookieModeMiddleware", "parse_cookies"]

_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_TOKEN_FIELDS: Final = ("access_token", "refresh_token", "id_token")
_BODY_LIMIT: Final = 64 * 1024


def parse_cookies(header: str | None) -> dict[str, str]:
    """Cookie name -> value; the first occurrence wins, as browsers send the most specific first."""
    jar: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in jar:
            jar[name] = value.strip().strip('"')
    return jar


def _csrf_error(description: str) -> dict[str, str]:
    return {"error": "csrf_failed", "error_description": description}


class CookieModeMiddleware:
    """Delivers tokens as cookies and turns cookie-carrying requests into Bearer requests."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        *,
        login_paths: Collection[str] = ("/login",),
        logout_paths: Collection[str] = ("/logout", "/logout-all"),
        reissue_paths: Collection[str] = ("/password",),
    ) -> None:
        self.app = app
        self.s = settings
        self.login_paths = frozenset(login_paths)
        self.logout_paths = frozenset(logout_paths)
        self.reissue_paths = frozenset(reissue_paths)
        secure = "; Secure" if settings.cookie_secure else ""
        same_site = "Strict" if settings.cookie_samesite == "strict" else "Lax"
        self._attrs = f"{secure}; SameSite={same_site}"

    # -- cookies -----------------------------------------------------------------------------

    def _cookie(self, name: str, value: str, path: str, max_age: int, http_only: bool) -> bytes:
        flags = "; HttpOnly" if http_only else ""
        return f"{name}={value}; Path={path}; Max-Age={max_age}{flags}{self._attrs}".encode()

    def _set_tokens(self, data: dict[str, Any], csrf: str) -> list[tuple[bytes, bytes]]:
        access_age = int(data.get("expires_in") or 900)
        refresh_age = int(data.get("refresh_expires_in") or access_age)
        cookies = [
            self._cookie(self.s.access_cookie, str(data["access_token"]), "/", access_age, True),
            self._cookie(self.s.csrf_cookie, csrf, "/", max(access_age, refresh_age), False),
        ]
        if isinstance(data.get("refresh_token"), str):
            cookies.append(
                self._cookie(
                    self.s.refresh_cookie,
                    data["refresh_token"],
                    self.s.refresh_path,
                    refresh_age,
                    True,
                )
            )
        return [(b"set-cookie", c) for c in cookies]

    def _clear(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"set-cookie", self._cookie(self.s.access_cookie, "", "/", 0, True)),
            (b"set-cookie", self._cookie(self.s.refresh_cookie, "", self.s.refresh_path, 0, True)),
            (b"set-cookie", self._cookie(self.s.csrf_cookie, "", "/", 0, False)),
        ]

    # -- checks ------------------------------------------------------------------------------

    def _origin_allowed(self, scope: Scope) -> bool:
        origin = get_header(scope, b"origin")
        if origin is None:
            return True
        if origin.rstrip("/") in self.s.cors_origins:
            return True
        host = get_header(scope, b"host")
        return host is not None and origin.split("://", 1)[-1] == host

    async def _csrf_ok(self, scope: Scope, jar: dict[str, str], send: Send) -> bool:
        """Check the double submit; on failure answer 403 and return False."""
        given = get_header(scope, self.s.csrf_header.lower().encode()) or ""
        expected = jar.get(self.s.csrf_cookie, "")
        if not given or not expected:
            problem = (
                f'this cookie-authenticated request needs the "{self.s.csrf_header}" header set '
                f'to the "{self.s.csrf_cookie}" cookie\'s value (CSRF double submit)'
            )
        elif not hmac.compare_digest(given.encode(), expected.encode()):
            problem = (
                f'the "{self.s.csrf_header}" header does not match the "{self.s.csrf_cookie}" '
                "cookie (CSRF double submit)"
            )
        elif not self._origin_allowed(scope):
            problem = "cookie-authenticated requests are only accepted from allowed origins"
        else:
            return True
        await json_response(send, 403, _csrf_error(problem))
        return False

    # -- dispatch ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        has_auth = get_header(scope, b"authorization") is not None
        jar = parse_cookies(get_header(scope, b"cookie"))
        wants = (
            self.s.cookie_mode == "always"
            or (get_header(scope, b"x-token-delivery") or "").strip().lower() == "cookie"
        )
        if method == "POST" and path in self.login_paths:
            if wants:
                send = self._delivering(send, secrets.token_urlsafe(32))
            await self.app(scope, receive, send)
            return
        if method == "POST" and path == self.s.refresh_path and not has_auth:
            refresh = jar.get(self.s.refresh_cookie)
            if refresh:
                await self._cookie_refresh(scope, receive, send, jar, refresh)
                return
            if wants:
                send = self._delivering(send, secrets.token_urlsafe(32))
            await self.app(scope, receive, send)
            return
        access = jar.get(self.s.access_cookie)
        if access and not has_auth:
            if method not in _SAFE and not await self._csrf_ok(scope, jar, send):
                return
            scope = dict(scope)
            scope["headers"] = [
                *scope.get("headers", ()),
                (b"authorization", f"Bearer {access}".encode("latin-1")),
            ]
            if method == "POST" and path in self.logout_paths:
                send = self._clearing(send, only_on_success=True)
            elif method == "POST" and path in self.reissue_paths:
                # A password change answers a fresh access token: keep it in the cookie.
                csrf = jar.get(self.s.csrf_cookie) or secrets.token_urlsafe(32)
                send = self._delivering(send, csrf, clear_on_error=False)
        await self.app(scope, receive, send)

    async def _cookie_refresh(
        self, scope: Scope, receive: Receive, send: Send, jar: dict[str, str], refresh: str
    ) -> None:
        if not await self._csrf_ok(scope, jar, send):
            return
        body, more = await buffer_body(receive, _BODY_LIMIT)
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            data = None
        if not more and isinstance(data, dict) and "refresh_token" not in data:
            data["refresh_token"] = refresh
            body = json.dumps(data).encode()
            scope = dict(scope)
            scope["headers"] = [
                (k, v)
                for k, v in scope.get("headers", ())
                if k not in (b"content-type", b"content-length")
            ] + [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        csrf = jar.get(self.s.csrf_cookie) or secrets.token_urlsafe(32)
        await self.app(scope, replay(body, receive, more=more), self._delivering(send, csrf))

    # -- response rewriting ------------------------------------------------------------------

    def _delivering(self, send: Send, csrf: str, *, clear_on_error: bool = True) -> Send:
        """Move tokens from a successful JSON body into cookies; clear cookies on a refusal."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def _send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = [
                (k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"
            ]
            status = int(start["status"])
            data: Any = None
            if status == 200:
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
            if isinstance(data, dict) and isinstance(data.get("access_token"), str):
                headers += self._set_tokens(data, csrf)
                kept = {k: v for k, v in data.items() if k not in _TOKEN_FIELDS}
                body = json.dumps({**kept, "token_delivery": "cookie", "csrf_token": csrf}).encode()
            elif clear_on_error and status in (400, 401):
                headers += self._clear()
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return _send

    def _clearing(self, send: Send, *, only_on_success: bool) -> Send:
        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if not only_on_success or 200 <= status < 300:
                    message = {**message, "headers": [*message.get("headers", ()), *self._clear()]}
            await send(message)

        return _send
