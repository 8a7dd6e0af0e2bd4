"""Finding the access token in a request, the same way for every adapter (sans-I/O).

* ``Authorization: Bearer <token>`` (RFC 6750 2.1); the scheme is case-insensitive. A header
  that names Bearer but is not one well-formed b64token, or more than one Authorization
  header, is ``InvalidRequestError`` (400). Another scheme (``Basic ...``) counts as no token.
* ``Authorization: DPoP <token>`` (RFC 9449 7.1) for tokens bound to a client's key, with the
  same grammar; ``extract_credentials`` says which scheme it was, so that the guard demands a
  proof of exactly those requests. ``extract_token`` knows only Bearer (a DPoP token through
  it counts as no token), for callers that cannot check proofs.
* When cookie mode is on and there is no Authorization header, the token may come from a
  cookie. Browsers send cookies on their own, so for any method other than GET, HEAD,
  OPTIONS and TRACE the request must also carry the CSRF double-submit header equal to the
  CSRF cookie (compared in constant time), else ``CSRFError`` (403). With ``origins`` set
  (the issuer sets its CORS origins) an ``Origin`` header that names neither the host the
  request was sent to nor one of those origins is refused too: defence in depth, should the
  CSRF cookie ever leak to another site.

``check_csrf`` is the same rule for any other cookie a browser sends on its own (the issuer's
refresh cookie), so that there is one implementation of it.
"""

import hmac
from collections.abc import Collection, Mapping, Sequence
from typing import Final, NamedTuple

from jotauth.guard.errors import CSRFError, InvalidRequestError, MissingTokenError

__all__ = ["CookieSettings", "check_csrf", "extract_credentials", "extract_token", "parse_cookie"]

# RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN_CHARS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CookieSettings(NamedTuple):
    """Where a browser's token and CSRF secret live."""

    name: str
    csrf_cookie: str
    csrf_header: str
    origins: frozenset[str] | None = None
    """Origins besides the request's own host that may send cookie requests; None: no check."""


def parse_cookie(header: str, wanted: Sequence[str]) -> dict[str, str]:
    """The named cookies from a Cookie header (first occurrence wins, as browsers order them)."""
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name in wanted and name not in found:
            found[name] = value.strip().strip('"')
    return found


def _origin_allowed(origin: str, host: str | None, allowed: Collection[str]) -> bool:
    if origin.rstrip("/") in allowed:
        return True
    return host is not None and origin.split("://", 1)[-1].lower() == host.lower()


def check_csrf(
    jar: Mapping[str, str],
    csrf_value: str | None,
    cookie: CookieSettings,
    method: str,
    *,
    origin: str | None = None,
    host: str | None = None,
) -> None:
    """CSRFError unless a cookie-carrying ``method`` request passes the double submit.

    ``jar`` holds the request's cookies (``parse_cookie``), ``csrf_value`` its CSRF header.
    Safe methods pass; an unsafe one needs the header equal to the CSRF cookie (constant-time
    compare) and, when ``cookie.origins`` is set, an ``Origin`` that is absent, the request's
    own ``host`` or one of those origins.
    """
    if method.upper() in _SAFE_METHODS:
        return
    expected = jar.get(cookie.csrf_cookie, "")
    if not csrf_value or not expected:
        raise CSRFError(
            f"a cookie-authenticated {method.upper()} needs the "
            f'"{cookie.csrf_header}" header set to the "{cookie.csrf_cookie}" '
            "cookie's value (CSRF double submit)"
        )
    if not hmac.compare_digest(csrf_value.encode(), expected.encode()):
        raise CSRFError(
            f'the "{cookie.csrf_header}" header does not match the '
            f'"{cookie.csrf_cookie}" cookie (CSRF double submit)'
        )
    if (
        cookie.origins is not None
        and origin is not None
        and not _origin_allowed(origin, host, cookie.origins)
    ):
        raise CSRFError("cookie-authenticated requests are only accepted from allowed origins")


def _is_b64token(value: str) -> bool:
    """Whether ``value`` is one RFC 6750 b64token.

    Runs for every token the guard has not cached yet: deleting the allowed bytes in C and
    looking at what is left is twice as fast as a regular expression over a 600-character token.
    """
    core = value.rstrip("=")
    return (
        bool(core) and core.isascii() and not core.encode("ascii").translate(None, _B64TOKEN_CHARS)
    )


def _authorization(header: str, dpop: bool) -> tuple[str, bool] | None:
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        name = "Bearer"
    elif scheme == "dpop" and dpop:
        name = "DPoP"
    else:
        return None
    token = rest.strip()
    if not token:
        raise InvalidRequestError(
            f'the Authorization header says {name} but carries no token; send "{name} <token>"'
        )
    if not _is_b64token(token):
        raise InvalidRequestError(
            f'the Authorization header is not "{name} <token>": the token has a space or a '
            "character a JWT never contains (did you quote it or add a prefix twice?)"
        )
    return token, name == "DPoP"


def extract_token(
    authorization: Sequence[str],
    cookie_header: str | None,
    method: str,
    csrf_value: str | None,
    cookie: CookieSettings | None,
    *,
    origin: str | None = None,
    host: str | None = None,
) -> str:
    """The request's Bearer (or cookie) token; see ``extract_credentials`` for the errors."""
    return extract_credentials(
        authorization, cookie_header, method, csrf_value, cookie, origin=origin, host=host,
        dpop=False,
    )[0]  # fmt: skip


def extract_credentials(
    authorization: Sequence[str],
    cookie_header: str | None,
    method: str,
    csrf_value: str | None,
    cookie: CookieSettings | None,
    *,
    origin: str | None = None,
    host: str | None = None,
    dpop: bool = True,
) -> tuple[str, bool]:
    """``(token, dpop)``: the request's token and whether it came with the DPoP scheme; or
    MissingTokenError / InvalidRequestError / CSRFError.

    ``origin`` and ``host`` (the request's headers) matter only with ``cookie.origins``;
    ``dpop=False`` treats the DPoP scheme as any other scheme (no token).
    """
    if authorization:
        if len(authorization) > 1:
            raise InvalidRequestError("send exactly one Authorization header")
        found = _authorization(authorization[0], dpop)
        if found is not None:
            return found
        scheme = authorization[0].strip().partition(" ")[0][:20]
        raise MissingTokenError(
            f'the Authorization header uses the "{scheme}" scheme; this API takes '
            '"Authorization: Bearer <access token>"'
            + (' or "Authorization: DPoP <access token>" with a DPoP proof' if dpop else "")
        )
    if cookie is not None and cookie_header:
        jar = parse_cookie(cookie_header, (cookie.name, cookie.csrf_cookie))
        token = jar.get(cookie.name)
        if token:
            if not _is_b64token(token):
                raise InvalidRequestError(f'the "{cookie.name}" cookie does not hold a token')
            check_csrf(jar, csrf_value, cookie, method, origin=origin, host=host)
            return token, False
    raise MissingTokenError(
        'no access token: send "Authorization: Bearer <access token>"'
        + (f' or the "{cookie.name}" cookie' if cookie is not None else "")
    )
