"""DPoP (RFC 9449): sessions bound to a client's key, clients that must use DPoP.

- ``refresh_families.dpop_jkt``: the RFC 7638 thumbprint of the key a public client (or the
  first-party ``/login``) proved at login. Every refresh of the session must then come with
  a proof signed by that key (RFC 9449 5): a stolen refresh token is useless without it.
  NULL: a session not bound to a key (no proof at login, or a confidential client, whose
  refresh tokens are bound to its authentication instead).
- ``oauth_clients.dpop_bound_access_tokens``: RFC 9449 5.2's client metadata; a token request
  of such a client without a proof is refused (``invalid_dpop_proof``). False for every
  existing client: nothing changes for them.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_families") as batch:
        batch.add_column(sa.Column("dpop_jkt", sa.String(64), nullable=True))
    with op.batch_alter_table("oauth_clients") as batch:
        batch.add_column(
            sa.Column(
                "dpop_bound_access_tokens", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("dpop_bound_access_tokens")
    with op.batch_alter_table("refresh_families") as batch:
        batch.drop_column("dpop_jkt")
