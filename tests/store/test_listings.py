"""Listings by keyset: each row once, in order, from one index range per page (no OFFSET)."""

from typing import Any

import pytest
import sqlalchemy as sa

from jotauth.store.records import FamilyRecord
from jotauth.store.sql import SQLStore

NOW = 1_900_000_000.0


def _family(store: SQLStore, sid: str, user_id: int, created: float) -> None:
    store.create_family(
        FamilyRecord(id=sid, user_id=user_id, client_id="c", scope="", created_at=created,
                     last_used_at=created, expires_at=NOW + 3600),
        "h-" + sid,
    )  # fmt: skip


def test_users_page_after_the_last_id(store: SQLStore) -> None:
    """``after`` starts past an id; the pages cover every user once, by id."""
    ids = [
        store.create_user(username=f"u{i}", username_key=f"u{i}", password_hash="x", now=NOW).id
        for i in range(7)
    ]
    pages, after = [], None
    while page := store.list_users(limit=3, after=after):
        pages.append([u.id for u in page])
        after = page[-1].id
    assert pages == [ids[0:3], ids[3:6], ids[6:]]


def test_sessions_page_newest_first_with_ties(store: SQLStore) -> None:
    """Sessions with equal created_at are ordered by id; no page repeats or loses one."""
    for n in range(9):
        _family(store, f"s{n}", 1 + n % 2, NOW - n // 3)
    pages, after = [], None
    while page := store.list_families(limit=2, after=after):
        pages += [f.id for f in page]
        after = (page[-1].created_at, page[-1].id)
    assert pages == ["s2", "s1", "s0", "s5", "s4", "s3", "s8", "s7", "s6"]
    mine = store.list_families(user_id=2, limit=10, after=(NOW, "s2"))
    assert [f.id for f in mine] == ["s1", "s5", "s3", "s7"]


def _plan(store: SQLStore, statement: Any) -> str:
    sql = statement.compile(store.engine, compile_kwargs={"literal_binds": True})
    with store.engine.connect() as connection:
        return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_pages_sessions_through_their_indexes(store: SQLStore) -> None:
    """EXPLAIN over 20,000 sessions: a deep page of all sessions reads
    ix_refresh_families_created in order (no sort), one user's (40 sessions) reads
    ix_refresh_families_user_created; never a sequential scan."""
    from jotauth.store.sql.models import Family

    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO refresh_families (id, user_id, client_id, scope, created_at, "
            "last_used_at, expires_at, narrowed) SELECT 'f' || g, mod(g, 500), 'c', '', "
            f"{NOW} - g, {NOW}, {NOW} + 3600, false FROM generate_series(1, 20000) g"
        )
        connection.exec_driver_sql("ANALYZE refresh_families")

    def page(*where: Any) -> Any:
        return (
            sa.select(Family)
            .where(
                Family.revoked_at.is_(None),
                Family.expires_at > NOW,
                sa.tuple_(Family.created_at, Family.id) < sa.tuple_(NOW - 15000, "f15000"),
                *where,
            )
            .order_by(Family.created_at.desc(), Family.id.desc())
            .limit(101)
        )

    every = _plan(store, page())
    assert "ix_refresh_families_created" in every
    one = _plan(store, page(Family.user_id == 7))
    assert "ix_refresh_families_user_created" in one
    assert "Sort" not in every  # the index gives the order: a page reads only its rows
    for plan in (every, one):
        assert "Seq Scan" not in plan
    found = store.list_families(active_at=NOW, limit=3, after=(NOW - 15000, "f15000"))
    assert [f.id for f in found] == ["f15001", "f15002", "f15003"]
