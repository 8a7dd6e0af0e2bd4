"""OAuth clients (``oauth_clients``) and the replay cache of their assertions.

``oauth_clients`` is the client registry: public and confidential clients, how they
authenticate at the token endpoint, what they may ask for (grants, scopes, audiences, redirect
URIs), their tier and its rate limit. ``client_assertions`` remembers each ``private_key_jwt``
assertion (client and ``jti``, hashed) until it expires, so that one is used once.
``ix_revocations_sub`` lets introspection find a disabled client's revocation quickly.

Revision ID: 0006
Revises: 0005

Downgrading drops both tables: every registered client is gone, and tokens then name client
ids the server no longer knows (they keep verifying until they expire).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=True),
        sa.Column("redirect_uris", sa.JSON, nullable=False),
        sa.Column("grant_types", sa.JSON, nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("audiences", sa.JSON, nullable=False),
        sa.Column("first_party", sa.Boolean, nullable=False),
        sa.Column("access_ttl", sa.Integer, nullable=True),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("rate_limit", sa.Integer, nullable=True),
        sa.Column("rate_window", sa.Integer, nullable=True),
        sa.Column("jwks", sa.JSON, nullable=True),
        sa.Column("jwks_uri", sa.String(2048), nullable=True),
        sa.Column("backchannel_logout_uri", sa.String(2048), nullable=True),
        sa.Column("post_logout_redirect_uris", sa.JSON, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("secret_rotated_at", sa.Float, nullable=True),
    )
    op.create_table(
        "client_assertions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("exp", sa.Float, nullable=False),
    )
    op.create_index("ix_client_assertions_exp", "client_assertions", ["exp"])
    # Introspection asks whether a client's tokens were revoked (a "user" event naming it).
    op.create_index("ix_revocations_sub", "revocations", ["sub"])


def downgrade() -> None:
    op.drop_index("ix_revocations_sub", table_name="revocations")
    op.drop_index("ix_client_assertions_exp", table_name="client_assertions")
    op.drop_table("client_assertions")
    op.drop_table("oauth_clients")
