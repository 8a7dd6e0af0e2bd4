"""Facts about the database itself (jotauth_meta), such as "created by serve --demo".

Revision ID: 0004
Revises: 0003

Downgrading drops the table and with it the demo mark: the CLI then treats the database as a
production one and asks for ``JOTAUTH_MASTER_KEY`` (or ``JOTAUTH_MODE=demo``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jotauth_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("set_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("jotauth_meta")
