"""What a client chose for its tokens: the ID tokens' algorithm, the session's access lifetime.

- ``oauth_clients.id_token_signed_response_alg`` (OIDC Dynamic Registration 2): RS256,
  ES256 or EdDSA; NULL is RS256, the default every existing client keeps.
- ``refresh_families.access_ttl``: the access-token lifetime of a session, fixed when it
  starts from its client's ``access_ttl`` (NULL: ``JOTAUTH_ACCESS_TTL``). Fixed rather than
  read again at each refresh so that a revocation knows the latest ``exp`` any token of the
  session can have, even after the client's lifetime was changed.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.add_column(sa.Column("id_token_signed_response_alg", sa.String(16), nullable=True))
    with op.batch_alter_table("refresh_families") as batch:
        batch.add_column(sa.Column("access_ttl", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_families") as batch:
        batch.drop_column("access_ttl")
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("id_token_signed_response_alg")
