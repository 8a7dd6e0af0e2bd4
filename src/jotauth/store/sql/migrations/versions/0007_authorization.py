"""The OpenID provider's state: SSO sessions, authorization codes, remembered consents.

- ``sso_sessions``: a browser signed in at the issuer, keyed by the hash of its cookie; ``sid``
  is the public id ID tokens and back-channel logout tokens carry.
- ``authorization_codes``: single-use codes (hashed), bound to client, redirect URI, PKCE
  challenge, scope, nonce and SSO session; ``family_id`` names the session the code issued,
  so a replayed code (``replayed_at``) revokes it, and a logout finds every family of an SSO
  session through its codes.
- ``consents``: what a user granted a third-party client.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("sid", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
    )
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("nonce", sa.String(512), nullable=True),
        sa.Column("sso_sid", sa.String(64), nullable=False, index=True),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
        sa.Column("replayed_at", sa.Float, nullable=True),
        sa.Column("family_id", sa.String(64), nullable=True),
    )
    op.create_table(
        "consents",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("client_id", sa.String(128), primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("granted_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consents")
    op.drop_table("authorization_codes")
    op.drop_table("sso_sessions")
