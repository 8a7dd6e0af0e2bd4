"""The brute-force limits as the use cases see them: one seam, called on parsed input.

``AuthService`` asks ``admit_*`` before it checks a secret and reports each outcome, with the
username, the refresh token's owner and the client address it already holds. The limits are
therefore checked on exactly the values the login compares, never on a second parse of the
body: an HTTP middleware that re-parsed the body was bypassed by one undecodable form field
(``&x=%ff``), which its strict parser refused and the handler's lenient one accepted.

``NoLimits`` (the default) admits everything; ``jotauth.issuer.services.ratelimit`` provides
the real limits (``limits`` windows, memory or Redis).
"""

from typing import Protocol

__all__ = ["AttemptLimits", "NoLimits"]


class AttemptLimits(Protocol):
    """What the services need from the limiter; ``admit_*`` raise ``RateLimitedError``."""

    async def admit_login(self, username: str, ip: str | None) -> None:
        """Refuse when the address or the account is over its limit (before any hashing)."""
        ...

    async def login_failed(self, username: str, ip: str | None) -> None:
        """Count one wrong password (or unknown name) against the account and the address."""
        ...

    async def login_succeeded(self, username: str, user_id: str, ip: str | None) -> None:
        """The right password: forget the failures from this address, which is now known."""
        ...

    async def admit_register(self, username: str, ip: str | None) -> None:
        """Count one sign-up attempt for the name; refuse past the limit."""
        ...

    async def admit_refresh(
        self, ip: str | None, user_id: str | None, family_id: str | None
    ) -> None:
        """Refuse a refresh of a locked user or family, or from a paced address."""
        ...

    async def refresh_failed(self, user_id: str | None, family_id: str | None) -> None:
        """Count one failed refresh attributable to a user or family."""
        ...


class NoLimits:
    """Admits everything: the limits are off (``JOTAUTH_RATELIMIT_ENABLED=false``)."""

    async def admit_login(self, username: str, ip: str | None) -> None:
        return None

    async def login_failed(self, username: str, ip: str | None) -> None:
        return None

    async def login_succeeded(self, username: str, user_id: str, ip: str | None) -> None:
        return None

    async def admit_register(self, username: str, ip: str | None) -> None:
        return None

    async def admit_refresh(
        self, ip: str | None, user_id: str | None, family_id: str | None
    ) -> None:
        return None

    async def refresh_failed(self, user_id: str | None, family_id: str | None) -> None:
        return None
