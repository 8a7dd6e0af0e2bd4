"""Database size per session and per refresh on PostgreSQL, before and after retention.

    PYTHONPATH=src python bench/storage.py [--url postgresql+psycopg://postgres@127.0.0.1/test]
                                           [--logins 2000] [--sessions 20] [--refreshes 50]
                                           [--month 100]

Works in a fresh schema it drops at the end. Sizes are ``pg_total_relation_size`` (heap,
TOAST and every index) of the three tables a refresh writes, after ``VACUUM`` (dead row
versions made reusable, as autovacuum does) and after ``VACUUM FULL`` (the space the live rows
need).

1. Per session and per refresh: ``--logins`` logins, then ``--refreshes`` refreshes of
   ``--sessions`` of them, written with the store's own statements (``create_family``,
   ``rotate_refresh``, ``add_audit_event``: what a login and a refresh write), every 15
   minutes of a manual clock.
2. A month of use: ``--month`` sessions refreshed every 15 minutes for 30 days (2,880 refreshes
   each), written in bulk with the same columns and sizes, then retention with the default
   policy (``jotauth.issuer.retention.retention_policy`` of the default Settings): rows and
   bytes per session before and after.
3. PostgreSQL's plans (EXPLAIN ANALYZE) for the feed's live-event probes and deep pages of the
   admin session listing, over a million generated rows each.
4. A feed poll over a million expired events: the query before issue 17 against
   ``feed_page``, and a deep page of the user listing with OFFSET against the keyset, each
   alternated in one sitting (medians of 5 rounds).
"""

import argparse
import time
import uuid

import sqlalchemy as sa

from jotauth.issuer.retention import retention_policy
from jotauth.issuer.settings import Settings
from jotauth.store.records import FamilyRecord
from jotauth.store.sql import SQLStore
from jotauth.store.sql.revocations import live_probes

TABLES = ("refresh_tokens", "refresh_families", "audit_events")
EVERY = 900.0
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
SEALED = bytes(71)  # the sealed successor: AES-GCM of a 43-character token, nonce and tag


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
        user_agent=AGENT,
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


OLD_POLL = (  # the feed's query before issue 17: expired rows filtered, the cursor kept
    "SELECT * FROM revocations WHERE position > {after} AND (type NOT IN ('token', 'session') "
    "OR exp >= {now}) ORDER BY position LIMIT 1001"
)


def polls(store: SQLStore, now: float, rounds: int = 5) -> None:
    """Part 4: a poll over a million expired events, the old query against ``feed_page``,
    alternated: a new guard's first poll, and every later poll (old: again from 0)."""
    timings: dict[str, list[float]] = {
        "old": [],
        "new, first poll": [],
        "new, next poll": [],
        "a store round trip (SELECT 1, for scale)": [],
    }
    cursor = 0
    with store.engine.connect() as connection:
        for _ in range(rounds):
            began = time.perf_counter()
            connection.exec_driver_sql(OLD_POLL.format(after=0, now=int(now))).all()
            timings["old"].append(time.perf_counter() - began)
            began = time.perf_counter()
            cursor = store.feed_page(0, now=now).cursor
            timings["new, first poll"].append(time.perf_counter() - began)
            began = time.perf_counter()
            store.feed_page(cursor, now=now)
            timings["new, next poll"].append(time.perf_counter() - began)
            began = time.perf_counter()
            with store.engine.connect() as other:
                other.exec_driver_sql("SELECT 1").all()
            timings["a store round trip (SELECT 1, for scale)"].append(time.perf_counter() - began)
    for label, values in timings.items():
        median = sorted(values)[rounds // 2] * 1e3
        print(f"poll over 1M expired events, {label}: median {median:.2f} ms")
    print(f"cursor after the first poll: {cursor}")


def user_pages(store: SQLStore, rounds: int = 5) -> None:
    """Part 5: page 9,001 of the admin user listing over a million users, OFFSET (before)
    against the keyset (``list_users(after=)``), alternated."""
    raw = sa.create_engine(store.engine.url)
    with raw.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO users (username, username_key, password_hash, roles, permissions, "
            "disabled, not_before, created_at) SELECT 'u' || g, 'u' || g, '$argon2id$x', "
            "'[]', '{}', false, 0, 0 FROM generate_series(1, 1000000) g"
        )
        connection.exec_driver_sql("ANALYZE users")
    raw.dispose()
    timings: dict[str, list[float]] = {
        "OFFSET 900000": [],
        "keyset, the SQL alone": [],
        "keyset, list_users(after=900000)": [],
    }
    with store.engine.connect() as connection:
        for _ in range(rounds):
            began = time.perf_counter()
            connection.exec_driver_sql(
                "SELECT * FROM users ORDER BY id LIMIT 101 OFFSET 900000"
            ).all()
            timings["OFFSET 900000"].append(time.perf_counter() - began)
            began = time.perf_counter()
            connection.exec_driver_sql(
                "SELECT * FROM users WHERE id > 900000 ORDER BY id LIMIT 101"
            ).all()
            timings["keyset, the SQL alone"].append(time.perf_counter() - began)
            began = time.perf_counter()
            store.list_users(limit=101, after=900000)
            timings["keyset, list_users(after=900000)"].append(time.perf_counter() - began)
    for label, values in timings.items():
        median = sorted(values)[rounds // 2] * 1e3
        print(f"admin users page 9,001 of 100 over 1M users, {label}: median {median:.2f} ms")


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
        **{
            f"feed: oldest live event after a dead page, probe {n} (1M expired events)": str(
                probe.compile(store.engine, compile_kwargs={"literal_binds": True})
            )
            for n, probe in enumerate(live_probes(1000, 1_000_000, now), 1)
        },
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
    polls(store, now)
    user_pages(store)


def per_refresh(store: SQLStore, logins: int, sessions: int, refreshes: int, start: float) -> None:
    """Part 1: what one login and one refresh add, through the store's own statements."""
    settings = Settings()
    vacuum(store, full=True)
    base = sizes(store)
    families = [uuid.uuid4().hex for _ in range(logins)]
    current: dict[str, str] = {}
    for family in families:
        current[family] = uuid.uuid4().hex * 2
        store.create_family(
            FamilyRecord(
                id=family, user_id=1, client_id="jotauth", scope="articles:read",
                created_at=start, last_used_at=start, expires_at=start + settings.refresh_ttl,
                ip="203.0.113.7", user_agent=AGENT,
            ),
            current[family],
        )  # fmt: skip
        audit(store, "login_succeeded", family, start)
    vacuum(store, full=False)
    logged_in = report("after logins (VACUUM)", store, base)
    for step in range(refreshes):
        now = start + (step + 1) * EVERY
        for family in families[:sessions]:
            found = store.find_refresh(current[family])
            assert found is not None
            successor = uuid.uuid4().hex * 2
            assert store.rotate_refresh(
                found[0].id, family, successor_sealed=SEALED, successor_hash=successor, now=now
            )
            current[family] = successor
            audit(store, "token_refreshed", family, now)
    unvacuumed = report("after refreshes (no VACUUM)", store, base)
    vacuum(store, full=False)
    refreshed = report("after refreshes (VACUUM)", store, base)
    vacuum(store, full=True)
    compact = report("after refreshes (VACUUM FULL)", store, base)
    count = sessions * refreshes
    print(f"per session: {(sum(logged_in.values()) - sum(base.values())) / logins:,.0f} B")
    for label, after in (("no VACUUM", unvacuumed), ("VACUUM", refreshed), ("FULL", compact)):
        per = {t: (after[t] - logged_in[t]) / count for t in TABLES}
        parts = ", ".join(f"{t} {v:,.0f}" for t, v in per.items())
        print(f"per refresh ({label}): {sum(per.values()):,.0f} B ({parts})")


def month(store: SQLStore, sessions: int, start: float) -> None:
    """Part 2: a month of refreshes every 15 minutes, then retention with the defaults."""
    settings = Settings()
    steps = int(30 * 86400 / EVERY)
    now = start + steps * EVERY
    with store.engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE refresh_tokens, refresh_families, audit_events")
    raw = sa.create_engine(store.engine.url)
    with raw.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO refresh_families (id, user_id, client_id, scope, created_at, "
            "last_used_at, expires_at, revoked_at, revoke_reason, ip, user_agent, narrowed) "
            f"SELECT md5('f' || s), 1, 'jotauth', 'articles:read', {start}, {now}, "
            f"{start + settings.refresh_ttl}, NULL, NULL, '203.0.113.7', '{AGENT}', false "
            f"FROM generate_series(1, {sessions}) s"
        )
        # Token i of a session was created at step i and rotated at step i + 1 (the last,
        # created at the last step, is the current one); a successor sealed as the service
        # seals it (71 bytes); an audit row per refresh as `audit` writes it.
        connection.exec_driver_sql(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, used_at, successor) "
            "SELECT md5('t' || s || '-' || i) || md5('u' || s || '-' || i), md5('f' || s), "
            f"{start} + i * {EVERY}, CASE WHEN i < {steps} THEN {start} + (i + 1) * {EVERY} END, "
            f"CASE WHEN i < {steps} THEN decode(repeat('00', 71), 'hex') END "
            f"FROM generate_series(1, {sessions}) s, generate_series(0, {steps}) i"
        )
        connection.exec_driver_sql(
            "INSERT INTO audit_events (type, outcome, user_id, username, ip, user_agent, "
            "detail, at) SELECT 'token_refreshed', 'success', '1', 'john', '203.0.113.7', "
            f"'{AGENT}', json_build_object('family_id', md5('f' || s), 'client_id', 'jotauth', "
            f"'scope', 'articles:read'), {start} + i * {EVERY} "
            f"FROM generate_series(1, {sessions}) s, generate_series(1, {steps}) i"
        )
    raw.dispose()
    vacuum(store, full=True)
    empty = {t: 0 for t in TABLES}
    before = report(f"{sessions} sessions after 30 days, no retention (VACUUM FULL)", store, empty)
    began = time.perf_counter()
    result = store.purge(retention_policy(settings), now=now, batch=settings.retention_batch)
    took = time.perf_counter() - began
    print(f"retention: {result.removed} in {result.batches} batches, {took:.1f} s")
    vacuum(store, full=True)
    after = report("after retention (VACUUM FULL)", store, empty)
    counted = rows(store)
    for label, measured in (("before", before), ("after", after)):
        print(
            f"per session {label}: "
            + ", ".join(f"{t} {measured[t] / sessions:,.0f} B" for t in TABLES)
            + f"; total {sum(measured.values()) / sessions:,.0f} B"
        )
    print(f"token rows per session after: {counted['refresh_tokens'] / sessions:.0f}")
    days = settings.audit_retention_days
    print(f"audit kept {days} days: at most {days * 86400 / EVERY:.0f} rows per such session")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--refreshes", type=int, default=50)
    parser.add_argument("--month", type=int, default=100)
    args = parser.parse_args()
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(args.url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = SQLStore.from_url(f"{args.url}?options=-csearch_path%3D{schema}")
    start = 1_900_000_000.0
    try:
        per_refresh(store, args.logins, args.sessions, args.refreshes, start)
        month(store, args.month, start)
        plans(store, start + 30 * 86400)
    finally:
        store.close()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


if __name__ == "__main__":
    main()
