"""The guard's view of revocations, and the protocol that feeds it.

The issuer publishes four kinds of event (see ``jotauth.guard.feed``)::

    {"type": "token", "jti": str, "exp": int}         the access token is dead until its exp
    {"type": "session", "sid": str, "exp": int}      every token whose sid claim names the
                                                     session (refresh family) is dead until exp
    {"type": "user", "sub": str, "not_before": int}  tokens of sub issued before not_before are dead
    {"type": "key", "kid": str}                      every token signed with kid is dead

``RevocationView`` holds them in memory with expiry, so checking a token is four dictionary
lookups. Events of a type the view does not know are skipped (and not counted as applied):
a guard older than an event type keeps working, without that protection.

Any ``RevocationSource`` can fill a view: the polling feed shipped here, or a pushed source
(Redis pub/sub, a message bus) written against the same two-method protocol.
"""

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol, runtime_checkable

__all__ = ["RevocationSource", "RevocationView"]

_USER_RETENTION: Final = 86400.0


@runtime_checkable
class RevocationSource(Protocol):
    """Delivers revocation events into a view until closed."""

    def attach(self, view: "RevocationView") -> None:
        """Start delivering events into ``view`` (called once, on the guard's first use)."""

    def close(self) -> None:
        """Stop delivering events and release resources."""


class RevocationView:
    """In-memory revoked jtis (until exp), per-user not-before times, and revoked kids."""

    def __init__(self, *, user_retention: float = _USER_RETENTION, leeway: float = 0) -> None:
        """``user_retention``: how long a user's not-before is kept, at least the longest access
        token lifetime (the jotauth issuer caps ``JOTAUTH_ACCESS_TTL`` at the 24 h default).
        ``leeway``: how long past its ``exp`` a token is still accepted (the guard's leeway),
        so revoked jtis and not-befores are kept that much longer and a purge never revives a
        revoked token."""
        self._tokens: dict[str, float] = {}
        self._sessions: dict[str, float] = {}
        self._users: dict[str, float] = {}
        self._keys: set[str] = set()
        self._user_retention = user_retention
        self._leeway = leeway
        self._lock = threading.Lock()
        self.version = 0
        """Bumped on every change, so a cache can tell when to recheck."""
        self.ready = False
        """True once a source delivered its first complete snapshot."""

    def revoke_token(self, jti: str, exp: float) -> None:
        """The token with this jti is revoked until ``exp``."""
        with self._lock:
            self._tokens[jti] = max(exp, self._tokens.get(jti, exp))
            self.version += 1

    def revoke_session(self, sid: str, exp: float) -> None:
        """Every token whose ``sid`` claim is ``sid`` is revoked until ``exp`` (the latest
        expiry a token of that session can have): a logout ends the whole session."""
        with self._lock:
            self._sessions[sid] = max(exp, self._sessions.get(sid, exp))
            self.version += 1

    def revoke_user(self, sub: str, not_before: float) -> None:
        """Every token of ``sub`` issued before ``not_before`` is revoked."""
        with self._lock:
            self._users[sub] = max(not_before, self._users.get(sub, not_before))
            self.version += 1

    def revoke_key(self, kid: str) -> None:
        """Every token signed with ``kid`` is revoked."""
        with self._lock:
            self._keys.add(kid)
            self.version += 1

    def apply(self, events: Iterable[Any]) -> int:
        """Apply feed events; unknown or malformed events are skipped. Returns how many applied."""
        applied = 0
        for event in events:
            if not isinstance(event, Mapping):
                continue
            kind = event.get("type")
            if kind == "token" and _is_str(event.get("jti")) and _is_num(event.get("exp")):
                self.revoke_token(event["jti"], event["exp"])
            elif kind == "session" and _is_str(event.get("sid")) and _is_num(event.get("exp")):
                self.revoke_session(event["sid"], event["exp"])
            elif kind == "user" and _is_str(event.get("sub")) and _is_num(event.get("not_before")):
                self.revoke_user(event["sub"], event["not_before"])
            elif kind == "key" and _is_str(event.get("kid")):
                self.revoke_key(event["kid"])
            else:
                continue
            applied += 1
        return applied

    def check(
        self,
        jti: str | None,
        sub: str,
        iat: float | None,
        kid: str | None,
        sid: str | None = None,
    ) -> tuple[str, str] | None:
        """``(reason, message)`` when the token is revoked, else None."""
        if kid is not None and self._keys and kid in self._keys:
            return "key", "the key that signed this token was revoked; sign in again"
        if jti is not None and jti in self._tokens:
            return "token", "this token was revoked (signed out); sign in again"
        if sid is not None and self._sessions and sid in self._sessions:
            return "session", "the session of this token was ended (signed out); sign in again"
        not_before = self._users.get(sub) if self._users else None
        if not_before is not None and (iat is None or iat < not_before):
            return "user", "every session of this user was ended after this token was issued"
        return None

    def purge(self, now: float) -> None:
        """Drop token entries past their exp and user entries past retention (plus the leeway)."""
        with self._lock:
            horizon = now - self._leeway
            self._tokens = {jti: exp for jti, exp in self._tokens.items() if exp > horizon}
            self._sessions = {sid: exp for sid, exp in self._sessions.items() if exp > horizon}
            horizon = now - self._user_retention - self._leeway
            self._users = {sub: nb for sub, nb in self._users.items() if nb > horizon}

    def __len__(self) -> int:
        return len(self._tokens) + len(self._sessions) + len(self._users) + len(self._keys)


def _is_str(value: object) -> bool:
    return type(value) is str and bool(value)


def _is_num(value: object) -> bool:
    return type(value) in (int, float)
