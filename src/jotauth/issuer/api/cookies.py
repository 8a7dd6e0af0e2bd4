"""Browser mode: the handlers deliver tokens in HttpOnly cookies, with a CSRF double submit.

A browser app should not keep tokens where page scripts can read them (an XSS away from
theft), so in browser mode (``JOTAUTH_COOKIE_MODE``):

* ``POST /login`` and ``/refresh`` answer with cookies instead of tokens in the body: the
  access token in ``__Host-access_token`` (HttpOnly, Secure, SameSite, Path=/; the
  ``__Host-`` prefix means no subdomain can set or overwrite it), the refresh token in
  ``__Secure-refresh_token`` (HttpOnly, Secure, SameSite, Path=/refresh so it travels only to
  the refresh endpoint), and a random CSRF token in ``__Host-csrf_token`` that scripts *can*
  read. The body keeps everything but the tokens and adds ``token_delivery: "cookie"`` and
  ``csrf_token``.
* Cookies are delivered only when the request carries ``X-Token-Delivery: cookie``, which a
  cross-site form cannot send and a cross-site script cannot send without passing CORS
  (``JOTAUTH_COOKIE_MODE=on``); with ``JOTAUTH_COOKIE_MODE=always`` every login does. A
  refresh presented in the refresh cookie answers in cookies too. Login itself needs no CSRF
  token: it carries the password.
* Requests authenticated by the access cookie are read by the issuer's own guard
  (``jotauth.guard.credentials``: the CSRF double submit and the Origin check), and a refresh
  presented in the refresh cookie passes the same ``check_csrf``: there is one implementation
  of each rule, the guard's, which services protected by the guard share.
* Logout and logout-all clear the cookies, and so does a refused login or refresh (the error
  handlers call ``clear_if_refused``). A password change, which answers a fresh access
  token, puts it in the cookie.

Each handler calls these functions with the ``Response`` it builds (Starlette's
``set_cookie`` / ``delete_cookie``): no response is rewritten after the fact, no error body
is read. Secure is always set unless ``JOTAUTH_COOKIE_INSECURE_DEV=1`` (plain-http
development only), which also drops the ``__Host-``/``__Secure-`` prefixes browsers would
otherwise refuse.
"""

import secrets
from collections.abc import Mapping
from typing import Any, Final, Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from jotauth.guard.credentials import CookieSettings, check_csrf, parse_cookie
from jotauth.issuer.settings import Settings

__all__ = [
    "CookiePolicy",
    "clear_if_refused",
    "clear_on_refusal",
    "policy",
    "refresh_from_cookie",
]

_TOKEN_FIELDS: Final = ("access_token", "refresh_token", "id_token")
_CLEAR_ON: Final = frozenset({400, 401})
_CLEAR_FLAG: Final = "jotauth_clear_cookies"


class CookiePolicy:
    """The cookie names and attributes of one server, and when it delivers cookies."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secure = settings.cookie_secure
        self.same_site: Literal["strict", "lax"] = (
            "strict" if settings.cookie_samesite == "strict" else "lax"
        )
        self.csrf = CookieSettings(
            settings.refresh_cookie,
            settings.csrf_cookie,
            settings.csrf_header,
            frozenset(o.rstrip("/") for o in settings.cors_origins),
        )

    def wants_cookies(self, request: Request) -> bool:
        """Whether this login asks for cookies (the header, or ``JOTAUTH_COOKIE_MODE=always``)."""
        if self.settings.cookie_mode == "always":
            return True
        return request.headers.get("x-token-delivery", "").strip().lower() == "cookie"

    def by_cookie(self, request: Request) -> bool:
        """Whether the request was authenticated by the access cookie (no Authorization)."""
        header = request.headers.get("cookie")
        if not header or "authorization" in request.headers:
            return False
        name = self.settings.access_cookie
        return bool(parse_cookie(header, (name,)).get(name))

    def csrf_of(self, request: Request) -> str | None:
        """The CSRF token the browser holds already (kept across refreshes), if any."""
        cookie = request.headers.get("cookie")
        if not cookie:
            return None
        return parse_cookie(cookie, (self.settings.csrf_cookie,)).get(self.settings.csrf_cookie)

    def deliver(
        self, request: Request, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Response:
        """A JSON response with the tokens of ``body`` in cookies and the rest in the body."""
        csrf = self.csrf_of(request) or secrets.token_urlsafe(32)
        kept = {k: v for k, v in body.items() if k not in _TOKEN_FIELDS}
        response = JSONResponse(
            {**kept, "token_delivery": "cookie", "csrf_token": csrf}, headers=dict(headers)
        )
        access_age = int(body.get("expires_in") or 900)
        refresh_age = int(body.get("refresh_expires_in") or access_age)
        s = self.settings
        self._set(response, s.access_cookie, str(body["access_token"]), "/", access_age)
        self._set(response, s.csrf_cookie, csrf, "/", max(access_age, refresh_age), http_only=False)
        refresh = body.get("refresh_token")
        if isinstance(refresh, str):
            self._set(response, s.refresh_cookie, refresh, s.refresh_path, refresh_age)
        return response

    def clear(self, response: Response) -> None:
        """Expire the three cookies (logout, or a refused login or refresh)."""
        s = self.settings
        for name, path, http_only in (
            (s.access_cookie, "/", True),
            (s.refresh_cookie, s.refresh_path, True),
            (s.csrf_cookie, "/", False),
        ):
            response.delete_cookie(
                name,
                path=path,
                secure=self.secure,
                httponly=http_only,
                samesite=self.same_site,
            )

    def _set(
        self,
        response: Response,
        name: str,
        value: str,
        path: str,
        max_age: int,
        *,
        http_only: bool = True,
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            secure=self.secure,
            httponly=http_only,
            samesite=self.same_site,
        )


def policy(request: Request) -> CookiePolicy | None:
    """The app's cookie policy, or None when cookie mode is off."""
    found: CookiePolicy | None = getattr(request.app.state, "cookies", None)
    return found


def refresh_from_cookie(request: Request, cookies: CookiePolicy) -> str | None:
    """The refresh cookie's token after the guard's CSRF check, or None without the cookie.

    A request that carries ``Authorization`` is not a browser's cookie refresh: its cookie is
    ignored, as the access cookie is then (``jotauth.guard.credentials``).
    """
    header = request.headers.get("cookie")
    if not header or "authorization" in request.headers:
        return None
    jar = parse_cookie(header, (cookies.settings.refresh_cookie, cookies.settings.csrf_cookie))
    token = jar.get(cookies.settings.refresh_cookie)
    if not token:
        return None
    check_csrf(
        jar,
        request.headers.get(cookies.settings.csrf_header),
        cookies.csrf,
        request.method,
        origin=request.headers.get("origin"),
        host=request.headers.get("host"),
    )
    setattr(request.state, _CLEAR_FLAG, True)
    return token


def clear_on_refusal(request: Request) -> None:
    """Mark this request: if it is refused (400 or 401), the error answer clears the cookies."""
    setattr(request.state, _CLEAR_FLAG, True)


def clear_if_refused(request: Request, response: Response) -> None:
    """Called by the error handlers: clear the cookies of a marked request that was refused."""
    cookies = policy(request)
    if (
        cookies is not None
        and response.status_code in _CLEAR_ON
        and getattr(request.state, _CLEAR_FLAG, False)
    ):
        cookies.clear(response)
