"""The tables, as SQLAlchemy 2.0 ``Mapped[]`` models; migrations mirror them."""

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Audit",
    "AuthorizationCode",
    "Base",
    "Client",
    "ClientAssertion",
    "Consent",
    "Family",
    "FeedCounter",
    "Meta",
    "RefreshToken",
    "Revocation",
    "SSOSession",
    "SigningKey",
    "User",
]

# SQLite autoincrements only "INTEGER PRIMARY KEY"; PostgreSQL gets a bigint identity.
_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    permissions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    not_before: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float)


class Family(Base):
    __tablename__ = "refresh_families"
    __table_args__ = (
        Index("ix_refresh_families_created", "created_at", "id"),
        Index("ix_refresh_families_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    client_id: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text)
    narrowed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    access_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(256), nullable=True)
    dpop_jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    successor: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    activated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    retire_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Revocation(Base):
    """One feed event. ``seq`` is the row id (insert order); ``position`` is the feed order.

    ``position`` has no default on purpose: a row inserted without
    ``jotauth.store.sql.revocations.publish`` (which numbers it in commit order) fails loudly
    instead of becoming an event the feed could skip.
    """

    __tablename__ = "revocations"
    __table_args__ = (
        Index("ix_revocations_jti", "jti"),
        Index("ix_revocations_position", "position", unique=True),
        Index("ix_revocations_sid", "sid"),
        Index("ix_revocations_exp", "exp", "position"),
        Index("ix_revocations_sub", "sub"),
    )

    seq: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    position: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(8))
    jti: Mapped[str | None] = mapped_column(String(128), nullable=True)
    sub: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    exp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    not_before: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


class FeedCounter(Base):
    """The one row whose ``last`` numbers the feed: its row lock orders commits (see publish)."""

    __tablename__ = "revocation_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(BigInteger)


class Audit(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_type_at", "type", "at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(256), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(256), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[float] = mapped_column(Float, index=True)


class Meta(Base):
    """Facts about the database itself, such as which kind of server created it."""

    __tablename__ = "jotauth_meta"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    set_at: Mapped[float] = mapped_column(Float)


class Client(Base):
    """An OAuth client (RFC 6749 section 2): who may ask for tokens, and how it proves it."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    audiences: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    access_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    id_token_signed_response_alg: Mapped[str | None] = mapped_column(String(16), nullable=True)
    tier: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    jwks_uri: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    secret_rotated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class ClientAssertion(Base):
    """A ``private_key_jwt`` assertion seen (RFC 7523 3: ``jti`` single use) until its ``exp``.

    In the database rather than in memory so that a replay to another worker or instance is
    refused too; the primary key decides the race between two instances.
    """

    __tablename__ = "client_assertions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    exp: Mapped[float] = mapped_column(Float, index=True)


class SSOSession(Base):
    """A browser's signed-in session at the issuer; the cookie holds the secret, never stored.

    ``id_hash`` is the SHA-256 of the cookie value; ``sid`` is the public id put in ID tokens
    and logout tokens (OIDC ``sid``), which cannot be turned back into the cookie.
    """

    __tablename__ = "sso_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    auth_time: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuthorizationCode(Base):
    """One authorization code (stored hashed), what it is bound to, and what it issued."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int] = mapped_column(BigInteger)
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    sso_sid: Mapped[str] = mapped_column(String(64), index=True)
    auth_time: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    replayed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    family_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Consent(Base):
    """The scopes a user granted a third-party client, so the consent page asks once."""

    __tablename__ = "consents"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[float] = mapped_column(Float)
