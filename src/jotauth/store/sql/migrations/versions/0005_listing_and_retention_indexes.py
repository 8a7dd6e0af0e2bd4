"""Indexes for the feed's live events and the admin session listings.

- ``ix_revocations_exp`` (``exp``, ``position``): the feed finds its oldest live event in
  two index probes instead of reading every expired row, and retention finds expired events
  without a scan.
- ``ix_refresh_families_created`` (``created_at``, ``id``) and
  ``ix_refresh_families_user_created`` (``user_id``, ``created_at``, ``id``): the admin
  session listing pages newest first by keyset, all sessions or one user's, reading one
  index range per page (no ``OFFSET``).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_revocations_exp", "revocations", ["exp", "position"])
    op.create_index("ix_refresh_families_created", "refresh_families", ["created_at", "id"])
    op.create_index(
        "ix_refresh_families_user_created", "refresh_families", ["user_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_refresh_families_user_created", table_name="refresh_families")
    op.drop_index("ix_refresh_families_created", table_name="refresh_families")
    op.drop_index("ix_revocations_exp", table_name="revocations")
