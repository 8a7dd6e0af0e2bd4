"""Facts read straight from the store's tables, for tests that check what a use case wrote."""

from typing import Any

import sqlalchemy as sa

from jotauth.store.sql.models import RefreshToken


def live_tokens(store: Any, family_id: str) -> int:
    """Refresh tokens of a family not yet rotated."""
    with store.engine.connect() as connection:
        count = connection.execute(
            sa.select(sa.func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.used_at.is_(None))
        ).scalar_one()
    return int(count)
