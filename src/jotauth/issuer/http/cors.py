"""CORS for browser apps on other origins, configured by explicit origin list only.

The tutorial's "works in Postman, fails in the browser": Postman and curl never send a
preflight, a browser does (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-*``)
before any request with ``Authorization`` or a JSON body. Without ``JOTAUTH_CORS_ORIGINS``
there is no CORS answer at all, so browsers on other origins are refused; with it, listed
origins get an exact ``Access-Control-Allow-Origin`` (never ``*`` together with credentials,
which browsers reject and which would hand cookies to any site) and may send and read the
headers the API uses.

Starlette's ``CORSMiddleware`` does the protocol; this module only decides its options.
"""

from typing import Any, Final

from jotauth.issuer.settings import Settings

__all__ = ["cors_options"]

_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
# DPoP-Nonce: a browser client must read the server's nonce to prove with it (RFC 9449 8).
_EXPOSED: Final = ("Retry-After", "WWW-Authenticate", "Content-Length", "DPoP-Nonce")


def cors_options(settings: Settings) -> dict[str, Any] | None:
    """Keyword arguments for ``CORSMiddleware``, or None when no origin is configured."""
    if not settings.cors_origins:
        return None
    return {
        "allow_origins": list(settings.cors_origins),
        "allow_credentials": settings.cors_credentials,
        "allow_methods": list(_METHODS),
        "allow_headers": [
            "Authorization",
            "Content-Type",
            settings.csrf_header,
            "X-Token-Delivery",
            "DPoP",  # the proof header of a browser app's DPoP requests (RFC 9449)
        ],
        "expose_headers": list(_EXPOSED),
        "max_age": 600,
    }
