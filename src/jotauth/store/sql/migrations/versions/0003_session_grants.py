"""Sessions remember whether their scope was narrowed, hold any scope, and can be revoked whole.

- ``refresh_families.scope`` becomes TEXT: a user may hold grants up to what the 8 KiB token
  limit allows, and PostgreSQL refused a login (a 500) once the scope passed VARCHAR(2048).
- ``refresh_families.narrowed``: whether the client asked for a narrower scope at login. A
  narrowed session keeps exactly that scope at every refresh (less what the user has lost);
  any other follows the user's grants. Existing sessions whose scope does not cover the
  user's current grants are marked narrowed, so no session gains a grant by this migration.
- ``revocations.sid``: the feed's ``session`` events (``{"type": "session", "sid", "exp"}``)
  name a refresh family, whose every access token dies at a logout, a reuse detection or an
  admin's revocation.

Revision ID: 0003
Revises: 0002
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _scope_of(permissions: Any) -> set[str]:
    """The scope a user's permissions give (``jotauth.issuer.services.users.scope_of``)."""
    if isinstance(permissions, str):
        permissions = json.loads(permissions)
    if not isinstance(permissions, dict):
        return set()
    return {
        f"{resource}:{action}"
        for resource, actions in permissions.items()
        if isinstance(actions, list)
        for action in actions
    }


def upgrade() -> None:
    with op.batch_alter_table("refresh_families") as batch:
        batch.alter_column("scope", type_=sa.Text(), existing_type=sa.String(2048))
        batch.add_column(
            sa.Column("narrowed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("revocations") as batch:
        batch.add_column(sa.Column("sid", sa.String(64), nullable=True))
        batch.create_index("ix_revocations_sid", ["sid"])
    families = sa.table(
        "refresh_families",
        sa.column("id", sa.String),
        sa.column("user_id", sa.BigInteger),
        sa.column("scope", sa.Text),
        sa.column("narrowed", sa.Boolean),
    )
    if context.is_offline_mode():
        # No data to look at when printing SQL: keep every existing session's scope as it is
        # (narrowed), the safe reading, since no session may gain a grant.
        op.execute(sa.update(families).values(narrowed=True))
        return
    connection = op.get_bind()
    users = sa.table("users", sa.column("id", sa.BigInteger), sa.column("permissions", sa.JSON))
    rows = connection.execute(
        sa.select(families.c.id, families.c.scope, users.c.permissions).join_from(
            families, users, users.c.id == families.c.user_id, isouter=True
        )
    ).all()
    narrowed = [row.id for row in rows if not set(row.scope.split()) >= _scope_of(row.permissions)]
    for start in range(0, len(narrowed), 500):
        connection.execute(
            sa.update(families)
            .where(families.c.id.in_(narrowed[start : start + 500]))
            .values(narrowed=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("revocations") as batch:
        batch.drop_index("ix_revocations_sid")
        batch.drop_column("sid")
    op.execute(
        "DELETE FROM revocations WHERE type = 'session'"
    )  # 0001 guards know no session events; the per-token ones remain
    with op.batch_alter_table("refresh_families") as batch:
        batch.drop_column("narrowed")
        batch.alter_column(
            "scope",
            type_=sa.String(2048),
            existing_type=sa.Text(),
            postgresql_using="substr(scope, 1, 2048)",
        )
