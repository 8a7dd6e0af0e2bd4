"""The revocation feed and the per-request revocation check."""

from sqlalchemy import Engine, delete, func, insert, or_, select

from jotauth.store.records import RevocationRecord
from jotauth.store.sql._rows import revocation_row
from jotauth.store.sql.models import Family, RefreshToken, Revocation, SigningKey, User

__all__ = ["RevocationQueries"]

# Events that name one token or one session, dead anyway once their ``exp`` has passed.
_EXPIRING = ("token", "session")


class RevocationQueries:
    """The revocation feed and the per-request revocation check."""

    engine: Engine

    # -- revocation feed ---------------------------------------------------------------------

    def revoke_token(self, jti: str, exp: int, *, now: float) -> None:
        """Denylist an access token's jti until its exp (published in the feed)."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(Revocation).values(type="token", jti=jti, exp=exp, created_at=now)
            )

    def revocations_after(
        self, after: int, *, now: float, limit: int = 1000
    ) -> list[RevocationRecord]:
        """Feed events with ``seq > after``, oldest first; expired token events left out."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Revocation)
                .where(
                    Revocation.seq > after,
                    or_(Revocation.type.notin_(_EXPIRING), Revocation.exp >= int(now)),
                )
                .order_by(Revocation.seq)
                .limit(limit)
            ).all()
        return [revocation_row(row) for row in rows]

    def last_revocation_seq(self) -> int:
        """The newest feed position (0 when the feed is empty)."""
        with self.engine.connect() as connection:
            value = connection.execute(select(func.max(Revocation.seq))).scalar_one()
        return int(value or 0)

    def revoked_reason(
        self, *, jti: str | None, sub: str, iat: float, kid: str | None, sid: str | None = None
    ) -> str | None:
        """Why a verified access token is revoked, or None: one round trip per check."""
        with self.engine.connect() as connection:
            if (
                jti is not None
                and connection.execute(
                    select(Revocation.seq)
                    .where(Revocation.jti == jti, Revocation.type == "token")
                    .limit(1)
                ).first()
            ):
                return "token revoked"
            if (
                sid is not None
                and "\x00" not in sid
                and connection.execute(
                    select(Revocation.seq)
                    .where(Revocation.sid == sid, Revocation.type == "session")
                    .limit(1)
                ).first()
            ):
                return "session ended (logged out, or revoked)"
            if sub.isdigit():
                row = connection.execute(
                    select(User.not_before, User.disabled).where(User.id == int(sub))
                ).first()
                if row is None:
                    return "user no longer exists"
                if row.disabled:
                    return "user disabled"
                if iat < row.not_before:
                    return "session ended (logged out everywhere or password changed)"
            if (
                kid is not None
                and connection.execute(
                    select(SigningKey.kid).where(
                        SigningKey.kid == kid, SigningKey.state == "revoked"
                    )
                ).first()
            ):
                return "signing key revoked"
        return None

    def purge(self, *, now: float) -> int:
        """Delete expired denylist entries and the tokens of long-dead families."""
        with self.engine.begin() as connection:
            removed = connection.execute(
                delete(Revocation).where(Revocation.type.in_(_EXPIRING), Revocation.exp < int(now))
            ).rowcount
            dead = select(Family.id).where(
                or_(Family.expires_at < now, Family.revoked_at < now - 86400)
            )
            removed += connection.execute(
                delete(RefreshToken).where(RefreshToken.family_id.in_(dead))
            ).rowcount
        return int(removed)
