"""ID tokens (OIDC Core 2), back-channel logout tokens, and reading an ``id_token_hint``.

They are signed with the algorithm the client registered (``id_token_signed_response_alg``,
OIDC Registration 2): RS256 by default, the one algorithm OpenID Connect requires every
provider to offer (Core 15.1), or ES256 or EdDSA. Each algorithm has its own ring of keys,
kept in the key table beside the access-token ring, published in the same JWKS and rotated
with it (``KeyRing.alongside``, one ring after the other), except the algorithm of the access
tokens themselves (``JOTAUTH_SIGNING_ALG``), whose ring signs both (``typ`` tells them
apart: ``JWT`` here, ``at+jwt`` there). A guard verifying access tokens is never handed the
other rings' keys, so an ID token of another algorithm cannot pass as an access token there.
Back-channel logout tokens are signed like the client's ID tokens.
"""

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

from jotauth import jose
from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.services.keyring import KeyRing
from jotauth.issuer.settings import Settings

__all__ = [
    "BACKCHANNEL_EVENT",
    "ID_TOKEN_ALG",
    "ID_TOKEN_ALGORITHMS",
    "ID_TOKEN_TTL",
    "IdTokens",
    "at_hash",
]

ID_TOKEN_ALG: Final = "RS256"  # noqa: S105 - an algorithm name
"""The default (OIDC Core 15.1: every provider offers it)."""
ID_TOKEN_ALGORITHMS: Final = ("RS256", "ES256", "EdDSA")
"""What a client may register as ``id_token_signed_response_alg``."""
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
    """Signs ID and logout tokens with the ring of the client's algorithm; reads hints back."""

    def __init__(
        self, rings: Mapping[str, KeyRing], settings: Settings, clock: Callable[[], float]
    ) -> None:
        """``rings``: the ring of each algorithm ID tokens can be signed with (RS256 first)."""
        self.rings = dict(rings)
        self.settings = settings
        self.clock = clock

    @property
    def algorithms(self) -> list[str]:
        """The algorithms an ID token can be signed with here (what discovery lists)."""
        return list(self.rings)

    def _signer(self, alg: str | None) -> jose.Key:
        ring = self.rings.get(alg or ID_TOKEN_ALG)
        if ring is None:
            raise ConfigurationError(
                f"this server cannot sign ID tokens with {alg}: it signs them with "
                f"{', '.join(self.rings)} (an algorithm of another name than "
                "JOTAUTH_SIGNING_ALG's family has no ring of its own)"
            )
        return ring.signer()

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
        alg: str | None = None,
    ) -> str:
        """The ID token of one sign-in of ``sub`` at ``client_id`` (``claims``: the user's),
        signed with ``alg`` (the client's ``id_token_signed_response_alg``; None: RS256)."""
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
        return jose.encode(body, self._signer(alg), headers={"typ": "JWT"})

    def logout_token(self, *, sub: str, client_id: str, sid: str, alg: str | None = None) -> str:
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
        return jose.encode(body, self._signer(alg), headers={"typ": "logout+jwt"})

    def read_hint(self, token: str) -> dict[str, Any] | None:
        """The claims of an ID token this server issued (expired up to an hour), else None."""
        try:
            # The audience is whichever client the token names; the signature then vouches it.
            audience = jose.peek_claims(token).get("aud")
            if not isinstance(audience, str):
                return None
            keys = [key for ring in self.rings.values() for key in ring.verification_keys()]
            return jose.decode(
                token,
                jose.KeySet(keys),
                algorithms=[ring.alg for ring in self.rings.values()],
                issuer=self.settings.issuer,
                audience=audience,
                typ="JWT",  # not an access token (at+jwt), when one ring signs both
                require=("exp", "sub", "aud", "sid"),
                leeway=_HINT_LEEWAY,
                now=self.clock(),
            )
        except jose.JoseError:
            return None
