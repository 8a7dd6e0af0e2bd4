"""Retention: removing rows that can no longer change a decision, in small batches.

What goes, and why each rule is safe (docs/issuer.md, "Retention"):

- **Rotated refresh tokens** used more than ``reuse_window`` seconds ago (the issuer passes
  ``refresh_idle_ttl``). Reuse detection needs the row of a rotated token to tell a replay
  from a stranger's guess. A legitimate client can only hold a token that was rotated behind
  its back (the theft case) if it last refreshed within the idle lifetime - otherwise its
  session would have ended anyway - and the thief rotated that token no earlier than the
  client received it; so every replay the client could make while its session would still
  be alive hits a row that is kept, and revokes the family. What is lost: a token rotated
  longer ago than the window, presented again, is refused as unknown (``invalid_grant``) but
  no longer revokes its family or raises ``refresh_reuse_detected``. A token never rotated
  (``used_at IS NULL``, the current token of a session) is never touched by this rule.
- **Dead sessions** and their tokens: expired, revoked or idle past ``idle_ttl`` for more
  than ``dead_margin`` (a day), so a late replay still meets "session ended" for a while.
  The tokens go first, the family row once it has none.
- **Expired feed and denylist events** (``exp`` more than ``feed_margin`` ago, past any guard's
  leeway). Deleting a committed, expired row cannot make the feed skip: the feed never sends
  an expired event anyway, and positions come from the counter row, never from
  ``max(position)``, so a deleted newest row is not numbered again. User and key events
  carry no ``exp`` and stay.
- **Audit events** older than ``audit_age`` seconds (``None``: kept forever).
- **Authorization codes**: one that issued nothing, once expired (60 s); one that issued a
  session, ``dead_margin`` after its expiry (until then a replay still finds the session to
  revoke, RFC 6749 4.1.2).
- **SSO sessions** expired or ended more than ``dead_margin`` ago.

Each batch selects at most ``batch`` primary keys in a read, then deletes those keys in their
own short transaction, re-checking the rule in the ``DELETE``. Not ``DELETE ... WHERE id IN
(SELECT ... LIMIT n)``: on SQLite that subquery's search would run while holding the
database's one write lock, stalling every login and refresh for as long as it reads; read
first, the write lock is held only for deleting ``batch`` rows by key. A row that changed
between the read and the delete fails the re-check and stays.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, delete, exists, or_, select

from jotauth.store.sql.models import (
    Audit,
    AuthorizationCode,
    Family,
    RefreshToken,
    Revocation,
    SSOSession,
)

__all__ = ["DEFAULT_BATCH", "RetentionPolicy", "RetentionQueries", "RetentionReport"]

DEFAULT_BATCH = 500
"""Rows per batch: short enough that a batch's write lock is a few milliseconds."""


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of row is kept, in seconds (the issuer builds it from Settings)."""

    reuse_window: float
    """Rotated refresh tokens are kept this long after their rotation (reuse detection)."""
    idle_ttl: float
    """A session unused this long is dead (``refresh_idle_ttl``)."""
    audit_age: float | None = 90 * 86400
    """Audit events older than this go; None keeps them forever."""
    dead_margin: float = 86400
    """A dead session (and its tokens) is kept this much longer, for "session ended" answers."""
    feed_margin: float = 3600
    """An expired feed event is kept this much longer than its ``exp`` (past any leeway)."""


@dataclass
class RetentionReport:
    """Rows removed by one run, per rule, and the number of batches it took."""

    removed: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    @property
    def total(self) -> int:
        """Every row removed."""
        return sum(self.removed.values())


@dataclass(frozen=True)
class _Rule:
    """One kind of row: its table's key column and the condition that makes a row removable."""

    name: str
    key: Any
    removable: Callable[[float], ColumnElement[bool]]


def _rules(policy: RetentionPolicy) -> list[_Rule]:
    def rotated(now: float) -> ColumnElement[bool]:
        return and_(
            RefreshToken.used_at.is_not(None), RefreshToken.used_at < now - policy.reuse_window
        )

    def dead_family(now: float) -> ColumnElement[bool]:
        before = now - policy.dead_margin
        return or_(
            Family.expires_at < before,
            Family.revoked_at < before,
            Family.last_used_at < before - policy.idle_ttl,
        )

    def token_of_dead_family(now: float) -> ColumnElement[bool]:
        return RefreshToken.family_id.in_(select(Family.id).where(dead_family(now)))

    def empty_dead_family(now: float) -> ColumnElement[bool]:
        return and_(dead_family(now), ~exists().where(RefreshToken.family_id == Family.id))

    def expired_event(now: float) -> ColumnElement[bool]:
        return and_(Revocation.exp.is_not(None), Revocation.exp < int(now - policy.feed_margin))

    def expired_code(now: float) -> ColumnElement[bool]:
        # A code that issued nothing is dead at expiry; one that issued a session is kept a
        # margin longer, so a late replay of it still finds what to revoke.
        return or_(
            and_(AuthorizationCode.family_id.is_(None), AuthorizationCode.expires_at < now),
            AuthorizationCode.expires_at < now - policy.dead_margin,
        )

    def ended_sso(now: float) -> ColumnElement[bool]:
        before = now - policy.dead_margin
        return or_(SSOSession.expires_at < before, SSOSession.ended_at < before)

    rules = [
        _Rule("rotated_tokens", RefreshToken.id, rotated),
        _Rule("dead_session_tokens", RefreshToken.id, token_of_dead_family),
        _Rule("dead_sessions", Family.id, empty_dead_family),
        _Rule("expired_revocations", Revocation.seq, expired_event),
        _Rule("expired_codes", AuthorizationCode.code_hash, expired_code),
        _Rule("ended_sso_sessions", SSOSession.id_hash, ended_sso),
    ]
    if policy.audit_age is not None:
        age = policy.audit_age
        rules.append(_Rule("audit_events", Audit.id, lambda now: Audit.at < now - age))
    return rules


class RetentionQueries:
    """Retention: removing rows that can no longer change a decision, in small batches."""

    engine: Engine

    def purge_batch(
        self, rule: str, policy: RetentionPolicy, *, now: float, batch: int = DEFAULT_BATCH
    ) -> int:
        """Remove at most ``batch`` rows of one rule, in one short transaction; how many."""
        for candidate in _rules(policy):
            if candidate.name == rule:
                return self._purge_batch(candidate, now, batch)
        raise ValueError(f"no retention rule {rule!r}")

    def _purge_batch(self, rule: _Rule, now: float, batch: int) -> int:
        with self.engine.connect() as connection:
            keys = list(
                connection.execute(
                    select(rule.key).where(rule.removable(now)).limit(batch)
                ).scalars()
            )
        if not keys:
            return 0
        with self.engine.begin() as connection:
            removed = connection.execute(
                delete(rule.key.table).where(rule.key.in_(keys), rule.removable(now))
            ).rowcount
        return int(removed)

    def purge(
        self,
        policy: RetentionPolicy,
        *,
        now: float,
        batch: int = DEFAULT_BATCH,
        max_batches: int | None = None,
        pause: Callable[[], bool] | None = None,
    ) -> RetentionReport:
        """Apply every rule until nothing is left (or ``max_batches`` batches ran).

        ``pause`` runs between batches and answers whether to go on (the background task
        waits there, so other writers get the database between two short transactions, and
        stops there when the server shuts down).
        """
        if batch < 1:
            raise ValueError("a retention batch must hold at least one row")
        report = RetentionReport()
        for rule in _rules(policy):
            report.removed[rule.name] = 0
            while max_batches is None or report.batches < max_batches:
                removed = self._purge_batch(rule, now, batch)
                report.batches += 1
                report.removed[rule.name] += removed
                if removed < batch:
                    break
                if pause is not None and not pause():
                    return report
        return report
