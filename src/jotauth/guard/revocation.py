"""The guard's view of revocations, and the protocol that feeds it.

The issuer publishes four kinds of event (see ``jotauth.guard.feed``)::

    {"type": "token", "jti": str, "exp": int}         the access token is dead until its exp
    {"type": "session", "sid": str, "exp": int}      every token whose sid claim names the
                                                     session (refresh family) is dead until exp
    {"type": "user", "sub": str, "not_before": int}  tokens of sub issued before not_before are dead
    {"type": "key", "kid": str}                      every token signed with kid is dead

``RevocationView`` holds them in memory with expiry, so checking a token is four dictionary
lookups. Beside each expiring table sits a min-heap of (expiry, name): a purge pops only the
entries that are due, O(log n) each, and never walks the table, so a poll costs the same with
a hundred revocations or a million. A revocation extended later (a later ``exp`` for the same
jti) leaves its old heap item behind; the purge sees that the table holds a later time and
drops the stale item, so each heap holds at most one item per event applied.

Events of a type the view does not know are skipped (and not counted as applied): a guard
older than an event type keeps working, without that protection.

Any ``RevocationSource`` can fill a view: the polling feed shipped here, or a pushed source
(Redis pub/sub, a message bus) written against the same two-method protocol.
"""

import heapq
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol, runtime_checkable

__all__ = ["REVOKED", "RevocationSource", "RevocationView"]

_USER_RETENTION: Final = 86400.0
REVOKED: Final = {
    "key": "the key that signed this token was revoked; sign in again",
    "token": "this token was revoked (signed out); sign in again",
    "session": "the session of this token was ended (signed out); sign in again",
    "user": "every session of this user was ended after this token was issued",
}
"""What a refused token is told, by what revoked it: the one wording for the guard's view and
for the issuer's own check in its database."""


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
        self._token_due: list[tuple[float, str]] = []
        self._session_due: list[tuple[float, str]] = []
        self._user_due: list[tuple[float, str]] = []
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
            _extend(self._tokens, self._token_due, jti, exp)
            self.version += 1

    def revoke_session(self, sid: str, exp: float) -> None:
        """Every token whose ``sid`` claim is ``sid`` is revoked until ``exp`` (the latest
        expiry a token of that session can have): a logout ends the whole session."""
        with self._lock:
            _extend(self._sessions, self._session_due, sid, exp)
            self.version += 1

    def revoke_user(self, sub: str, not_before: float) -> None:
        """Every token of ``sub`` issued before ``not_before`` is revoked."""
        with self._lock:
            _extend(self._users, self._user_due, sub, not_before)
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
            return "key", REVOKED["key"]
        if jti is not None and jti in self._tokens:
            return "token", REVOKED["token"]
        if sid is not None and self._sessions and sid in self._sessions:
            return "session", REVOKED["session"]
        not_before = self._users.get(sub) if self._users else None
        if not_before is not None and (iat is None or iat < not_before):
            return "user", REVOKED["user"]
        return None

    def purge(self, now: float) -> None:
        """Drop token entries past their exp and user entries past retention (plus the leeway)."""
        with self._lock:
            horizon = now - self._leeway
            _drop_due(self._tokens, self._token_due, horizon)
            _drop_due(self._sessions, self._session_due, horizon)
            _drop_due(self._users, self._user_due, horizon - self._user_retention)

    def __len__(self) -> int:
        return len(self._tokens) + len(self._sessions) + len(self._users) + len(self._keys)


def _extend(table: dict[str, float], due: list[tuple[float, str]], name: str, at: float) -> None:
    """Record ``name`` until ``at``, or keep its later time; only a new or later time is queued."""
    current = table.get(name)
    if current is None or at > current:
        table[name] = at
        heapq.heappush(due, (at, name))


def _drop_due(table: dict[str, float], due: list[tuple[float, str]], horizon: float) -> None:
    """Remove every entry whose time is at or before ``horizon``, in O(log n) per entry.

    An item whose name now holds a later time (the revocation was extended) is stale: it is
    popped and the entry kept, since its own, later item is still queued.
    """
    while due and due[0][0] <= horizon:
        at, name = heapq.heappop(due)
        if table.get(name) == at:
            del table[name]


def _is_str(value: object) -> bool:
    return type(value) is str and bool(value)


def _is_num(value: object) -> bool:
    return type(value) in (int, float)
