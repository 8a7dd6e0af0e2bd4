"""Database size per session and per refresh on PostgreSQL, before and after retention.

    PYTHONPATH=src python bench/storage.py [--url postgresql+psycopg://postgres@127.0.0.1/test]
                                           [--sessions 50] [--refreshes 1000]

Works in a fresh schema it drops at the end. Sessions are written with the store's own
statements (``create_family``, ``rotate_refresh``, ``add_audit_event``, what a login and a
refresh write), refreshed every 15 minutes of a manual clock, so ``--refreshes 1000`` is 10.4
days of use. Sizes are ``pg_total_relation_size`` (heap, TOAST and every index) of the three
tables a refresh writes, after ``VACUUM`` (dead row versions made reusable, as autovacuum does)
and after ``VACUUM FULL`` (the space the live rows need). Then retention runs with the default
policy (``jotauth.issuer.retention.retention_policy`` of the default Settings) and the sizes
are taken again. Also prints PostgreSQL's plans for the feed's live-event probe and a deep
page of the admin session listing over generated rows.
"""

import argparse
import time
import uuid

import sqlalchemy as sa

from jotauth.issuer.retention import retention_policy
from jotauth.issuer.settings import Settings
from jotauth.store.records import FamilyRecord
from jotauth.store.sql import SQLStore

TABLES = ("refresh_tokens", "refresh_families", "audit_events")
EVERY = 900.0


def sizes(store: SQLStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            table: int(
                connection.exec_driver_sql(f"SELECT pg_total_relation_size('{table}')").scalar_one()
            )
            for table in TABLES
        }


def rows(store: SQLStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
            for table in TABLES
        }


def vacuum(store: SQLStore, full: bool) -> None:
    raw = sa.create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with raw.connect() as connection:
        for table in TABLES:
            connection.exec_driver_sql(f"VACUUM {'FULL ' if full else ''}{table}")
    raw.dispose()


def audit(store: SQLStore, type: str, family: str, at: float) -> None:
    store.add_audit_event(
        type=type,
        outcome="success",
        user_id="1",
        username="john",
        ip="203.0.113.7",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        detail={"family_id": family, "client_id": "jotauth", "scope": "articles:read"},
        at=at,
    )


def report(label: str, store: SQLStore, base: dict[str, int]) -> dict[str, int]:
    now = sizes(store)
    counted = rows(store)
    total = sum(now.values()) - sum(base.values())
    parts = ", ".join(f"{t} {counted[t]} rows {now[t] - base[t]:,} B" for t in TABLES)
    print(f"{label}: {total:,} B ({parts})")
    return now


def plans(store: SQLStore, now: float) -> None:
    raw = sa.create_engine(store.engine.url)
    with raw.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO revocations (position, type, jti, exp, created_at) SELECT g, 'token', "
            f"'j' || g, {int(now) - 10}, {now} FROM generate_series(1, 1000000) g"
        )
        connection.exec_driver_sql(
            "INSERT INTO refresh_families (id, user_id, client_id, scope, created_at, "
            "last_used_at, expires_at, narrowed) SELECT 'f' || g, mod(g, 1000), 'c', '', "
            f"{now} - g, {now}, {now} + 3600, false FROM generate_series(1, 1000000) g"
        )
        connection.exec_driver_sql("ANALYZE revocations")
        connection.exec_driver_sql("ANALYZE refresh_families")
    raw.dispose()
    queries = {
        "feed: oldest live event after a dead page (1M expired events)": (
            f"SELECT min(position) FROM revocations WHERE exp >= {int(now)} "
            "AND position > 1000 AND position <= 1000000"
        ),
        "admin sessions: page 9,001 of 100 (1M sessions)": (
            "SELECT * FROM refresh_families WHERE revoked_at IS NULL "
            f"AND expires_at > {now} AND (created_at, id) < ({now} - 900000, 'f900000') "
            "ORDER BY created_at DESC, id DESC LIMIT 101"
        ),
        "admin sessions of one user, deep page (1M sessions)": (
            "SELECT * FROM refresh_families WHERE user_id = 7 AND revoked_at IS NULL "
            f"AND expires_at > {now} AND (created_at, id) < ({now} - 900000, 'f900000') "
            "ORDER BY created_at DESC, id DESC LIMIT 101"
        ),
    }
    raw = sa.create_engine(store.engine.url)
    with raw.connect() as connection:
        for label, sql in queries.items():
            plan = connection.exec_driver_sql(f"EXPLAIN ANALYZE {sql}").all()
            print(f"\n{label}:")
            for line in plan:
                print("   ", line[0])
    raw.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--refreshes", type=int, default=1000)
    args = parser.parse_args()
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(args.url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = SQLStore.from_url(f"{args.url}?options=-csearch_path%3D{schema}")
    try:
        settings = Settings()
        vacuum(store, full=True)
        base = sizes(store)
        start = 1_900_000_000.0
        families = [f"{uuid.uuid4().hex}" for _ in range(args.sessions)]
        current: dict[str, str] = {}
        for family in families:
            current[family] = uuid.uuid4().hex * 2
            store.create_family(
                FamilyRecord(
                    id=family, user_id=1, client_id="jotauth", scope="articles:read",
                    created_at=start, last_used_at=start, expires_at=start + settings.refresh_ttl,
                    ip="203.0.113.7", user_agent="Mozilla/5.0",
                ),
                current[family],
            )  # fmt: skip
            audit(store, "login_succeeded", family, start)
        vacuum(store, full=False)
        logged_in = report("after logins", store, base)
        began = time.perf_counter()
        now = start
        for step in range(args.refreshes):
            now = start + (step + 1) * EVERY
            for family in families:
                found = store.find_refresh(current[family])
                assert found is not None
                successor = uuid.uuid4().hex * 2
                sealed = bytes(60)  # the AES-GCM sealed successor is 43 + 12 + 16 = 71 bytes
                assert store.rotate_refresh(
                    found[0].id, family, successor_sealed=sealed + bytes(11),
                    successor_hash=successor, now=now,
                )  # fmt: skip
                current[family] = successor
                audit(store, "token_refreshed", family, now)
        elapsed = time.perf_counter() - began
        vacuum(store, full=False)
        refreshed = report("after refreshes (VACUUM)", store, base)
        vacuum(store, full=True)
        compact = report("after refreshes (VACUUM FULL)", store, base)
        count = args.sessions * args.refreshes
        print(
            f"{args.sessions} sessions, {count} refreshes in {elapsed:.0f} s; per session "
            f"{(sum(logged_in.values()) - sum(base.values())) / args.sessions:,.0f} B; per "
            f"refresh {(sum(refreshed.values()) - sum(logged_in.values())) / count:,.0f} B "
            f"(VACUUM), {(sum(compact.values()) - sum(logged_in.values())) / count:,.0f} B "
            "(VACUUM FULL)"
        )
        for table in TABLES:
            print(f"  {table}: {(refreshed[table] - logged_in[table]) / count:,.0f} B/refresh")
        policy = retention_policy(settings)
        result = store.purge(policy, now=now, batch=settings.retention_batch)
        print(f"retention at day {(now - start) / 86400:.1f}: {result.removed}")
        vacuum(store, full=True)
        kept = report("after retention (VACUUM FULL)", store, base)
        tokens = rows(store)["refresh_tokens"]
        print(
            f"token rows per session {tokens / args.sessions:.0f}; token bytes per session "
            f"{(kept['refresh_tokens'] - base['refresh_tokens']) / args.sessions:,.0f} B"
        )
        days = settings.audit_retention_days
        print(f"audit kept {days} days ({days * 86400 / EVERY:.0f} rows per session)")
        plans(store, now)
    finally:
        store.close()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


if __name__ == "__main__":
    main()
