"""The OpenID Connect scopes, and the user claims each one releases.

These scopes are about who the user is, not what a token may do: they never become
``permissions`` (``resource:action`` scopes do), and a user needs no grant to hold them. A
client must have them registered. The user model has a username and nothing else personal,
so ``profile`` gives ``preferred_username`` and ``email`` gives nothing until users have an
address: no claim is made up.
"""

from typing import Any, Final

from jotauth.store.records import UserRecord

__all__ = ["CLAIMS_SUPPORTED", "IDENTITY_SCOPES", "is_identity_scope", "userinfo_claims"]

IDENTITY_SCOPES: Final = ("openid", "profile", "email")
CLAIMS_SUPPORTED: Final = (
    "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "at_hash",
    "preferred_username",
)  # fmt: skip


def is_identity_scope(scope: str) -> bool:
    """Whether ``scope`` is one of the OpenID Connect scopes."""
    return scope in IDENTITY_SCOPES


def userinfo_claims(user: UserRecord, scopes: set[str]) -> dict[str, Any]:
    """The claims about ``user`` that ``scopes`` release (OIDC Core 5.4)."""
    claims: dict[str, Any] = {"sub": user.sub}
    if "profile" in scopes:
        claims["preferred_username"] = user.username
    return claims
