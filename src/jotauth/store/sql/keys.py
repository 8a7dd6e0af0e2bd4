"""The signing keys of the ring and their states."""

from collections.abc import Callable, Iterable

from sqlalchemy import Connection, Engine, func, insert, select, update

from jotauth.store.records import KeyRecord
from jotauth.store.sql._rows import key_row
from jotauth.store.sql.changes import REVOCATION, Changes
from jotauth.store.sql.models import Client, Family, SigningKey
from jotauth.store.sql.revocations import publish

__all__ = ["KeyQueries"]

_REVOKE_LOCK = 74053  # advisory lock id: one key revocation at a time (not the ring's 74052)


class KeyQueries:
    """The signing keys of the ring and their states."""

    engine: Engine
    changes: Changes

    # -- signing keys ------------------------------------------------------------------------

    def list_keys(self, states: Iterable[str] | None = None) -> list[KeyRecord]:
        """Keys of the ring, oldest first."""
        query = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
        if states is not None:
            query = query.where(SigningKey.state.in_(list(states)))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [key_row(row) for row in rows]

    def key_state(self, kid: str) -> str | None:
        """The state of one key (``next``, ``active``, ...), None when there is no such key."""
        with self.engine.connect() as connection:
            state = connection.execute(
                select(SigningKey.state).where(SigningKey.kid == kid)
            ).scalar_one_or_none()
        return None if state is None else str(state)

    def longest_access_ttl(self, *, now: float) -> int | None:
        """The longest access-token lifetime a client has, or a live session keeps from its
        client (None: none has its own). A key retired at rotation must stay published that
        long, or a token it signed just before would stop verifying early."""
        with self.engine.connect() as connection:
            clients = connection.execute(select(func.max(Client.access_ttl))).scalar()
            sessions = connection.execute(
                select(func.max(Family.access_ttl)).where(
                    Family.revoked_at.is_(None), Family.expires_at > now
                )
            ).scalar()
        longest = [int(ttl) for ttl in (clients, sessions) if ttl is not None]
        return max(longest) if longest else None

    def add_key(self, key: KeyRecord) -> None:
        """Insert a key of the ring."""
        with self.engine.begin() as connection:
            self._insert_key(connection, key)

    @staticmethod
    def _insert_key(connection: Connection, key: KeyRecord) -> None:
        connection.execute(
            insert(SigningKey).values(
                kid=key.kid,
                alg=key.alg,
                state=key.state,
                public_jwk=key.public_jwk,
                private_sealed=key.private_sealed,
                created_at=key.created_at,
                activated_at=key.activated_at,
                retire_after=key.retire_after,
            )
        )

    def rotate_keys(
        self,
        *,
        next_kid: str,
        active_kid: str | None,
        new_next: KeyRecord,
        now: float,
        retire_after: float,
    ) -> bool:
        """Promote ``next_kid`` to active, the active key to retiring, add ``new_next``.

        Guarded by the states it expects, so two workers rotating at once rotate once.
        """
        with self.engine.begin() as connection:
            promoted = connection.execute(
                update(SigningKey)
                .where(SigningKey.kid == next_kid, SigningKey.state == "next")
                .values(state="active", activated_at=now)
            ).rowcount
            if promoted != 1:
                connection.rollback()
                return False
            if active_kid is not None:
                connection.execute(
                    update(SigningKey)
                    .where(SigningKey.kid == active_kid, SigningKey.state == "active")
                    .values(state="retiring", retire_after=retire_after)
                )
            self._insert_key(connection, new_next)
        return True

    def revoke_key(
        self,
        kid: str,
        *,
        now: float,
        check: Callable[[list[KeyRecord]], None] | None = None,
    ) -> KeyRecord | None:
        """Mark a key revoked and publish it in the feed; None when unknown or already revoked.

        ``check`` sees the whole ring as it would be, inside the transaction, and raises to
        refuse (nothing changes). Revocations run one at a time (PostgreSQL: an advisory
        transaction lock; SQLite: the writer lock the first update takes), so two made at once
        cannot each pass the check and together leave the ring with no key to sign.
        """
        with self.engine.begin() as connection:
            if check is not None and self.engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_REVOKE_LOCK})")
            row = connection.execute(
                update(SigningKey)
                .where(SigningKey.kid == kid, SigningKey.state != "revoked")
                .values(state="revoked", revoked_at=now)
                .returning(*SigningKey.__table__.c)
            ).first()
            if row is None:
                return None
            if check is not None:
                ring = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
                check([key_row(r) for r in connection.execute(ring).all()])
            publish(connection, type="key", kid=kid, created_at=now)
        self.changes.notify(REVOCATION)
        return key_row(row)

    def retire_keys(self, *, now: float) -> int:
        """Retiring keys whose last token has expired become retired (unpublished)."""
        with self.engine.begin() as connection:
            count = connection.execute(
                update(SigningKey)
                .where(SigningKey.state == "retiring", SigningKey.retire_after <= now)
                .values(state="retired")
            ).rowcount
        return int(count)
