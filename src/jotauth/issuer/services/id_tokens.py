"""ID tokens (OIDC Core 2), back-channel logout tokens, and reading an ``id_token_hint``.

They are signed by their own ring of RS256 keys, the one algorithm OpenID Connect requires
every provider to offer (Core 15.1), kept in the key table beside the access-token ring,
published in the same JWKS and rotated with it (``KeyRing.alongside``). Access tokens keep
the server's algorithm (EdDSA by default); a guard verifying access tokens is never handed
the ID-token keys, so an ID token cannot pass as an access token there.
"""

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any, Final

from jotauth import jose
from jotauth.issuer.services.keyring import KeyRing
from jotauth.issuer.settings import Settings

__all__ = ["BACKCHANNEL_EVENT", "ID_TOKEN_ALG", "ID_TOKEN_TTL", "IdTokens", "at_hash"]

ID_TOKEN_ALG: Final = "RS256"  # noqa: S105 - an algorithm name
ID_TOKEN_TTL: Final = 300
"""Seconds an ID token is valid: it is read once, at sign-in, by the client it names."""
LOGOUT_TOKEN_TTL: Final = 120
BACKCHANNEL_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
_HINT_LEEWAY: Final = 3599.0
"""An ``id_token_hint`` may have expired (RP-Initiated Logout 1.0 section 2): up to an hour."""


def at_hash(access_token: str) -> str:
    """The left half of the SHA-256 of the access token, base64url (OIDC Core 3.1.3.6)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


class IdTokens:
    """Signs ID and logout tokens with the RS256 ring; reads hints back."""

    def __init__(self, ring: KeyRing, settings: Settings, clock: Callable[[], float]) -> None:
        self.ring = ring
        self.settings = settings
        self.clock = clock

    def id_token(
        self,
        *,
        sub: str,
        client_id: str,
        auth_time: float,
        sid: str,
        nonce: str | None,
        access_token: str,
        claims: dict[str, Any],
    ) -> str:
        """The ID token of one sign-in of ``sub`` at ``client_id`` (``claims``: the user's)."""
        now = int(self.clock())
        body: dict[str, Any] = {
            **claims,
            "iss": self.settings.issuer,
            "sub": sub,
            "aud": client_id,
            "azp": client_id,
            "exp": now + ID_TOKEN_TTL,
            "iat": now,
            "auth_time": int(auth_time),
            "sid": sid,
            "at_hash": at_hash(access_token),
        }
        if nonce is not None:
            body["nonce"] = nonce
        return jose.encode(body, self.ring.signer(), headers={"typ": "JWT"})

    def logout_token(self, *, sub: str, client_id: str, sid: str) -> str:
        """A back-channel logout token (Back-Channel Logout 1.0 section 2.4): no nonce."""
        now = int(self.clock())
        body = {
            "iss": self.settings.issuer,
            "sub": sub,
            "aud": client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL,
            "jti": secrets.token_urlsafe(16),
            "sid": sid,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        return jose.encode(body, self.ring.signer(), headers={"typ": "logout+jwt"})

    def read_hint(self, token: str) -> dict[str, Any] | None:
        """The claims of an ID token this server issued (expired up to an hour), else None."""
        try:
            # The audience is whichever client the token names; the signature then vouches it.
            audience = jose.peek_claims(token).get("aud")
            if not isinstance(audience, str):
                return None
            return jose.decode(
                token,
                self.ring.verification_keys(),
                algorithms=[self.ring.alg],
                issuer=self.settings.issuer,
                audience=audience,
                typ="JWT",  # not an access token (at+jwt), when one ring signs both
                require=("exp", "sub", "aud", "sid"),
                leeway=_HINT_LEEWAY,
                now=self.clock(),
            )
        except jose.JoseError:
            return None
