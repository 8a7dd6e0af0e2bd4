"""The OpenID provider's rows: SSO sessions, authorization codes and remembered consents.

Each decision that two requests may race for is one guarded ``UPDATE``: a code is spent by
``UPDATE ... SET used_at WHERE used_at IS NULL`` (exactly one exchange wins, the loser learns
it is a replay), and a session ends by ``... WHERE ended_at IS NULL``.
"""

from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from jotauth.store.records import AuthorizationCodeRecord, SSOSessionRecord
from jotauth.store.sql.models import AuthorizationCode, Consent, SSOSession

__all__ = ["AuthorizationQueries"]


class AuthorizationQueries:
    """SSO sessions, authorization codes and consents."""

    engine: Engine

    # -- SSO sessions ------------------------------------------------------------------------

    def create_sso_session(self, id_hash: str, session: SSOSessionRecord) -> None:
        """Store a new browser session under the hash of its cookie."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(SSOSession).values(
                    id_hash=id_hash,
                    sid=session.sid,
                    user_id=session.user_id,
                    auth_time=session.auth_time,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                )
            )

    def find_sso_session(self, id_hash: str) -> SSOSessionRecord | None:
        """The session whose cookie hashes to ``id_hash`` (ended ones too), or None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(SSOSession).where(SSOSession.id_hash == id_hash)
            ).first()
        return None if row is None else _session(row)

    def get_sso_session(self, sid: str) -> SSOSessionRecord | None:
        """The session with the public id ``sid``, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(SSOSession).where(SSOSession.sid == sid)).first()
        return None if row is None else _session(row)

    def end_sso_session(self, sid: str, *, now: float) -> bool:
        """End a session; False when it had ended already or does not exist."""
        with self.engine.begin() as connection:
            count = connection.execute(
                update(SSOSession)
                .where(SSOSession.sid == sid, SSOSession.ended_at.is_(None))
                .values(ended_at=now)
            ).rowcount
        return bool(count)

    def session_grants(self, sso_sid: str) -> list[tuple[str, str]]:
        """``(client_id, family_id)`` of every token session the SSO session's codes issued."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(AuthorizationCode.client_id, AuthorizationCode.family_id).where(
                    AuthorizationCode.sso_sid == sso_sid,
                    AuthorizationCode.family_id.is_not(None),
                )
            ).all()
        return [(str(row[0]), str(row[1])) for row in rows]

    def session_clients(self, sso_sid: str) -> list[str]:
        """The clients the SSO session signed in to (codes issued, exchanged or not)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(AuthorizationCode.client_id)
                .where(AuthorizationCode.sso_sid == sso_sid)
                .distinct()
            ).all()
        return sorted(str(row[0]) for row in rows)

    # -- authorization codes -----------------------------------------------------------------

    def create_code(self, code_hash: str, code: AuthorizationCodeRecord) -> None:
        """Store a new code under its hash."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(AuthorizationCode).values(
                    code_hash=code_hash,
                    client_id=code.client_id,
                    user_id=code.user_id,
                    redirect_uri=code.redirect_uri,
                    code_challenge=code.code_challenge,
                    scope=code.scope,
                    nonce=code.nonce,
                    sso_sid=code.sso_sid,
                    auth_time=code.auth_time,
                    created_at=code.created_at,
                    expires_at=code.expires_at,
                )
            )

    def spend_code(
        self, code_hash: str, *, now: float
    ) -> tuple[AuthorizationCodeRecord | None, bool]:
        """Mark a code used: ``(its record, True)`` for the one caller that spent it.

        ``(record, False)``: it was spent before (a replay, now flagged with ``replayed_at``
        so that an exchange still under way revokes what it issues); ``(None, False)``: no
        such code.
        """
        with self.engine.begin() as connection:
            row = connection.execute(
                update(AuthorizationCode)
                .where(
                    AuthorizationCode.code_hash == code_hash, AuthorizationCode.used_at.is_(None)
                )
                .values(used_at=now)
                .returning(*AuthorizationCode.__table__.c)
            ).first()
            if row is not None:
                return _code(row), True
            row = connection.execute(
                update(AuthorizationCode)
                .where(AuthorizationCode.code_hash == code_hash)
                .values(replayed_at=now)
                .returning(*AuthorizationCode.__table__.c)
            ).first()
        return (None if row is None else _code(row)), False

    def attach_family(self, code_hash: str, family_id: str) -> bool:
        """Record the token session a code issued; False when the code was replayed meanwhile."""
        with self.engine.begin() as connection:
            replayed = connection.execute(
                update(AuthorizationCode)
                .where(AuthorizationCode.code_hash == code_hash)
                .values(family_id=family_id)
                .returning(AuthorizationCode.replayed_at)
            ).scalar_one_or_none()
        return replayed is None

    def purge_codes(self, *, before: float) -> int:
        """Delete codes that expired before ``before`` and issued nothing."""
        with self.engine.begin() as connection:
            count = connection.execute(
                delete(AuthorizationCode).where(
                    AuthorizationCode.expires_at < before, AuthorizationCode.family_id.is_(None)
                )
            ).rowcount
        return int(count)

    # -- consents ----------------------------------------------------------------------------

    def consented_scope(self, user_id: int, client_id: str) -> str | None:
        """The scope the user granted ``client_id``, or None."""
        with self.engine.connect() as connection:
            scope = connection.execute(
                select(Consent.scope).where(
                    Consent.user_id == user_id, Consent.client_id == client_id
                )
            ).scalar_one_or_none()
        return None if scope is None else str(scope)

    def save_consent(self, user_id: int, client_id: str, scope: str, *, now: float) -> None:
        """Remember (replace) what the user granted ``client_id``."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
            )
            connection.execute(
                insert(Consent).values(
                    user_id=user_id, client_id=client_id, scope=scope, granted_at=now
                )
            )


def _session(row: Any) -> SSOSessionRecord:
    mapping = row._mapping
    return SSOSessionRecord(
        sid=mapping["sid"],
        user_id=int(mapping["user_id"]),
        auth_time=float(mapping["auth_time"]),
        created_at=float(mapping["created_at"]),
        expires_at=float(mapping["expires_at"]),
        ended_at=mapping["ended_at"],
    )


def _code(row: Any) -> AuthorizationCodeRecord:
    mapping = row._mapping
    return AuthorizationCodeRecord(
        client_id=mapping["client_id"],
        user_id=int(mapping["user_id"]),
        redirect_uri=mapping["redirect_uri"],
        code_challenge=mapping["code_challenge"],
        scope=mapping["scope"],
        nonce=mapping["nonce"],
        sso_sid=mapping["sso_sid"],
        auth_time=float(mapping["auth_time"]),
        created_at=float(mapping["created_at"]),
        expires_at=float(mapping["expires_at"]),
        used_at=mapping["used_at"],
        family_id=mapping["family_id"],
    )
