"""Rows to records: the store hands out frozen dataclasses, never SQLAlchemy rows."""

import datetime as dt
from typing import Any

from jotauth.store.records import FamilyRecord, KeyRecord, RevocationRecord, UserRecord

__all__ = ["Prefixed", "family_row", "key_row", "revocation_row", "timestamp", "user_row"]


def user_row(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        roles=list(row.roles or []),
        permissions=dict(row.permissions or {}),
        disabled=bool(row.disabled),
        not_before=int(row.not_before or 0),
        created_at=row.created_at,
    )


def family_row(row: Any) -> FamilyRecord:
    return FamilyRecord(
        id=row.id,
        user_id=row.user_id,
        client_id=row.client_id,
        scope=row.scope,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
        ip=row.ip,
        user_agent=row.user_agent,
        narrowed=bool(row.narrowed),
        dpop_jkt=row.dpop_jkt,
        access_ttl=row.access_ttl,
    )


def key_row(row: Any) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        alg=row.alg,
        state=row.state,
        public_jwk=dict(row.public_jwk),
        private_sealed=bytes(row.private_sealed),
        created_at=row.created_at,
        activated_at=row.activated_at,
        retire_after=row.retire_after,
        revoked_at=row.revoked_at,
    )


def revocation_row(row: Any) -> RevocationRecord:
    return RevocationRecord(
        seq=row.position,
        type=row.type,
        jti=row.jti,
        sub=row.sub,
        kid=row.kid,
        exp=row.exp,
        not_before=row.not_before,
        created_at=row.created_at,
        sid=row.sid,
    )


def timestamp(value: float | dt.datetime | None) -> float | None:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return value


class Prefixed:
    """Attribute access to the ``prefix``-labelled columns of a joined row."""

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]
