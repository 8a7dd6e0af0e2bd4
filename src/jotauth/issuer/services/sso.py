"""The SSO session: a browser signed in at the issuer, so a second application needs no password.

The browser holds 256 random bits in a cookie; the database keeps only their SHA-256 (a dump
of the table signs nobody in) and a separate public ``sid`` for ID and logout tokens. A
session counts only while it has not ended, has not passed its absolute lifetime, and its
user still exists, is enabled and has not been signed out everywhere since (the user's
not-before epoch moves on logout-everywhere, password change and disabling).
"""

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from jotauth.store.records import SSOSessionRecord, UserRecord
from jotauth.store.sql import SQLStore

__all__ = ["SSO_TTL", "ActiveSession", "SSOSessions"]

SSO_TTL: Final = 12 * 3600
"""Seconds a browser stays signed in at the issuer (absolute; a working day)."""


@dataclass(frozen=True)
class ActiveSession:
    """A live SSO session and its user."""

    record: SSOSessionRecord
    user: UserRecord


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "surrogatepass")).hexdigest()


class SSOSessions:
    """Starts and finds SSO sessions; synchronous (run in a worker thread)."""

    def __init__(self, store: SQLStore, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    def start(self, user: UserRecord) -> tuple[str, ActiveSession]:
        """A new session for ``user`` who just typed their password: (cookie value, session)."""
        now = self.clock()
        cookie = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        record = SSOSessionRecord(
            sid=secrets.token_urlsafe(16),
            user_id=user.id,
            auth_time=now,
            created_at=now,
            expires_at=now + SSO_TTL,
        )
        self.store.create_sso_session(_hash(cookie), record)
        return cookie, ActiveSession(record, user)

    def find(self, cookie: str | None) -> ActiveSession | None:
        """The live session of this cookie value, or None."""
        if not cookie or len(cookie) > 128:
            return None
        record = self.store.find_sso_session(_hash(cookie))
        return None if record is None else self._live(record)

    def by_sid(self, sid: str) -> ActiveSession | None:
        """The live session with this public id, or None."""
        record = self.store.get_sso_session(sid[:64])
        return None if record is None else self._live(record)

    def _live(self, record: SSOSessionRecord) -> ActiveSession | None:
        if record.ended_at is not None or record.expires_at <= self.clock():
            return None
        user = self.store.get_user(record.user_id)
        if user is None or user.disabled or user.not_before > record.auth_time:
            return None
        return ActiveSession(record, user)
