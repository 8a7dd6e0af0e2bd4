"""Feed positions numbered in commit order: ``revocations.position`` and its counter row.

The feed's cursor was the row id, handed out at insert; rows become visible at commit, and
concurrent commits land out of order, so a poll could move past an event still being
committed and never send it. Positions now come from one counter row updated in the
inserting transaction (see ``jotauth.store.sql.revocations``). Existing rows keep their
number (``position = seq``), so cursors that guards hold stay valid.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revocation_counter",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("revocations") as batch:
        batch.add_column(sa.Column("position", sa.BigInteger, nullable=True))
    op.execute("UPDATE revocations SET position = seq")
    with op.batch_alter_table("revocations") as batch:
        batch.alter_column("position", existing_type=sa.BigInteger, nullable=False)
        batch.create_index("ix_revocations_position", ["position"], unique=True)
    op.execute(
        "INSERT INTO revocation_counter (id, last) "
        "SELECT 1, COALESCE(MAX(position), 0) FROM revocations"
    )


def downgrade() -> None:
    with op.batch_alter_table("revocations") as batch:
        batch.drop_index("ix_revocations_position")
        batch.drop_column("position")
    op.drop_table("revocation_counter")
