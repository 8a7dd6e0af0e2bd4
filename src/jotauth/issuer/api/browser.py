"""What the issuer's own pages need of the browser: the SSO cookie, CSRF tokens, form bodies.

- The SSO cookie (``__Host-jotauth_sso``) is HttpOnly, Secure, SameSite=Lax, Path=/ and has
  no Domain: no script reads it, no subdomain sets it, and a cross-site POST does not carry
  it. ``JOTAUTH_COOKIE_INSECURE_DEV`` (plain-http development) drops Secure and the prefix,
  which browsers would refuse without Secure.
- Forms are protected by a token bound to the browser: a random ``jotauth_browser`` cookie
  (set when a form is first shown) and, in the form, an HMAC of it and the form's purpose
  under a key derived from the master key. A cross-site page can neither read the cookie nor
  compute the token; a token for the login form does not work on the consent form. An
  ``Origin`` header, when the browser sends one, must be the issuer's own.
"""

import base64
import hmac
import secrets
from typing import Final
from urllib.parse import urlsplit

from fastapi import Request, Response

from jotauth.issuer.api.body import form_pairs
from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.services.sealing import derive_key
from jotauth.issuer.settings import Settings

__all__ = [
    "Browser",
    "read_params",
]

_SSO: Final = "jotauth_sso"
_BINDING: Final = "jotauth_browser"


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.cookie_secure


class Browser:
    """The cookies of one request, and the cookies to set on its response."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.secure = _secure(request)
        prefix = "__Host-" if self.secure else ""
        self.sso_name = prefix + _SSO
        self.binding_name = prefix + _BINDING
        settings: Settings = request.app.state.settings
        self.settings = settings
        secret = settings.master_key or settings.hmac_secret
        if secret is None:  # the key ring refuses to start without either
            raise ConfigurationError("the form tokens need JOTAUTH_MASTER_KEY")
        self._key = derive_key(secret, b"jotauth form csrf")
        self.binding = request.cookies.get(self.binding_name) or ""
        self._new_binding: str | None = None

    @property
    def sso_cookie(self) -> str | None:
        """The SSO cookie's value as sent."""
        return self.request.cookies.get(self.sso_name)

    def csrf_token(self, purpose: str) -> str:
        """The token a form for ``purpose`` carries (binding cookie made when missing)."""
        if not self.binding:
            self.binding = self._new_binding = secrets.token_urlsafe(32)
        mac = hmac.new(self._key, f"{purpose}\x00{self.binding}".encode(), "sha256").digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def csrf_ok(self, purpose: str, token: str | None) -> bool:
        """Whether a posted form for ``purpose`` came from this browser and this server."""
        origin = self.request.headers.get("origin")
        if origin is not None and origin != _origin(self.settings.issuer):
            return False
        if not self.binding or not token:
            return False
        return hmac.compare_digest(self.csrf_token(purpose), token)

    def apply(self, response: Response, *, sso: str | None = None, clear: bool = False) -> None:
        """Set the new binding cookie, the SSO cookie (``sso``), or clear the SSO cookie."""
        if self._new_binding is not None:
            response.set_cookie(
                self.binding_name, self._new_binding, path="/", secure=self.secure,
                httponly=True, samesite="lax",
            )  # fmt: skip
        if sso is not None:
            response.set_cookie(
                self.sso_name, sso, path="/", secure=self.secure, httponly=True, samesite="lax"
            )
        elif clear:
            response.delete_cookie(
                self.sso_name, path="/", secure=self.secure, httponly=True, samesite="lax"
            )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def read_params(request: Request) -> dict[str, list[str]]:
    """Query parameters (GET) or form fields (POST), every value of each kept in order.

    Repeats are kept (not refused here) so the authorization endpoint can say which one was
    repeated, and through the redirect when it is safe to (RFC 6749 3.1).
    """
    if request.method == "POST":
        pairs = await form_pairs(request)
    else:
        pairs = request.query_params.multi_items()
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params
