"""The store contract, identical on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.store_facts import live_tokens

from jotauth.store import DuplicateError, FamilyRecord, KeyRecord
from jotauth.store.sql import SQLStore
from jotauth.store.sql.migrate import current_revision, head_revision
from jotauth.store.sql.retention import RetentionPolicy

NOW = 1_900_000_000.0


def _user(store: SQLStore, name: str = "john") -> int:
    return store.create_user(
        username=name, username_key=name.lower(), password_hash="h", now=NOW
    ).id


def _family(store: SQLStore, user_id: int, fid: str = "fam1", token_hash: str = "a" * 64) -> None:
    store.create_family(
        FamilyRecord(
            id=fid, user_id=user_id, client_id="c", scope="s", created_at=NOW,
            last_used_at=NOW, expires_at=NOW + 100,
        ),
        token_hash,
    )  # fmt: skip


def test_migrations_reach_head_and_rerun_cleanly(store: SQLStore) -> None:
    """The schema is at the newest revision and upgrading again changes nothing."""
    assert current_revision(store.engine) == head_revision()
    store.upgrade()
    assert current_revision(store.engine) == head_revision()


def test_usernames_are_unique_and_data_intact(store: SQLStore) -> None:
    """A second user with the same key is refused and the first is unchanged."""
    uid = _user(store)
    with pytest.raises(DuplicateError):
        store.create_user(username="John", username_key="john", password_hash="other", now=NOW)
    user = store.get_user(uid)
    assert user is not None
    assert user.password_hash == "h"
    assert [u.username for u in store.list_users()] == ["john"]


def test_update_user_and_unknown_user(store: SQLStore) -> None:
    """Roles and permissions update; an unknown id answers None."""
    uid = _user(store)
    updated = store.update_user(uid, roles=["a"], permissions={"x": ["read"]})
    assert updated is not None
    assert updated.roles == ["a"]
    assert updated.permissions == {"x": ["read"]}
    assert store.update_user(999, roles=[]) is None
    with pytest.raises(ValueError, match="update_user"):
        store.update_user(uid, disabled=True)


def test_rotation_has_exactly_one_winner(store: SQLStore) -> None:
    """Eight threads rotating one token: one wins, one successor exists."""
    uid = _user(store)
    _family(store, uid)
    found = store.find_refresh("a" * 64)
    assert found is not None
    token, family = found

    def rotate(i: int) -> bool:
        return store.rotate_refresh(
            token.id, family.id, successor_sealed=b"s", successor_hash=f"{i:064d}", now=NOW + 1
        )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(rotate, range(8)))
    assert results.count(True) == 1
    assert live_tokens(store, family.id) == 1
    after = store.find_refresh("a" * 64)
    assert after is not None
    assert after[0].used_at == NOW + 1
    assert after[0].successor == b"s"


def test_revoke_user_sets_not_before_and_ends_sessions(store: SQLStore) -> None:
    """not_before never goes down; families end except the kept one; the feed says so."""
    uid = _user(store)
    _family(store, uid, "keep", "a" * 64)
    _family(store, uid, "drop", "b" * 64)
    user = store.revoke_user(uid, not_before=500, now=NOW, reason="t", keep_family="keep")
    assert user is not None
    assert user.not_before == 500
    lowered = store.revoke_user(uid, not_before=100, now=NOW, reason="t")
    assert lowered is not None
    assert lowered.not_before == 500
    keep, drop = store.get_family("keep"), store.get_family("drop")
    assert drop is not None
    assert drop.revoked_at == NOW
    assert keep is not None
    assert keep.revoked_at == NOW  # the second call kept nothing
    events = store.revocations_after(0, now=NOW)
    assert [(e.type, e.sub, e.not_before) for e in events] == [
        ("user", str(uid), 500),
        ("user", str(uid), 500),
    ]
    assert store.revoke_user(999, not_before=1, now=NOW, reason="t") is None


def test_revoked_reason(store: SQLStore) -> None:
    """Denylisted jti, older than not-before, disabled user and revoked key each say why."""
    uid = _user(store)
    sub = str(uid)
    assert store.revoked_reason(jti="j", sub=sub, iat=NOW, kid=None) is None
    store.revoke_token("j", int(NOW) + 60, now=NOW)
    assert store.revoked_reason(jti="j", sub=sub, iat=NOW, kid=None) == "token revoked"
    store.revoke_user(uid, not_before=int(NOW) + 10, now=NOW, reason="t")
    reason = store.revoked_reason(jti="k", sub=sub, iat=NOW, kid=None)
    assert reason is not None
    assert "session ended" in reason
    store.add_key(
        KeyRecord(kid="k1", alg="EdDSA", state="active", public_jwk={"kty": "OKP"},
                  private_sealed=b"x", created_at=NOW)
    )  # fmt: skip
    store.revoke_key("k1", now=NOW)
    assert store.revoked_reason(jti=None, sub="abc", iat=NOW, kid="k1") == "signing key revoked"
    assert store.revoked_reason(jti=None, sub="999", iat=NOW, kid=None) == "user no longer exists"


def test_feed_order_cursor_and_expiry(store: SQLStore) -> None:
    """Events come in seq order after the cursor; expired token events are left out."""
    store.revoke_token("old", int(NOW) - 1, now=NOW)
    store.revoke_token("new", int(NOW) + 60, now=NOW)
    events = store.revocations_after(0, now=NOW)
    assert [e.jti for e in events] == ["new"]
    assert store.revocations_after(events[-1].seq, now=NOW) == []
    assert store.last_revocation_seq() == events[-1].seq
    policy = RetentionPolicy(reuse_window=60, idle_ttl=60, audit_age=None, feed_margin=0)
    assert store.purge(policy, now=NOW).removed["expired_revocations"] == 1


def test_key_rotation_is_guarded(store: SQLStore) -> None:
    """Promoting a key that is no longer 'next' does nothing (two workers rotate once)."""

    def key(kid: str, state: str) -> KeyRecord:
        return KeyRecord(kid=kid, alg="EdDSA", state=state, public_jwk={}, private_sealed=b"",
                         created_at=NOW)  # fmt: skip

    store.add_key(key("a", "active"))
    store.add_key(key("n", "next"))
    ok = store.rotate_keys(
        next_kid="n", active_kid="a", new_next=key("n2", "next"), now=NOW, retire_after=NOW + 5
    )
    again = store.rotate_keys(
        next_kid="n", active_kid="a", new_next=key("n3", "next"), now=NOW, retire_after=NOW + 5
    )
    assert (ok, again) == (True, False)
    assert {k.kid: k.state for k in store.list_keys()} == {
        "a": "retiring",
        "n": "active",
        "n2": "next",
    }
    assert store.retire_keys(now=NOW + 4) == 0
    assert store.retire_keys(now=NOW + 5) == 1
    assert store.revoke_key("a", now=NOW) is not None
    assert store.revoke_key("a", now=NOW) is None
    assert (store.key_state("a"), store.key_state("n"), store.key_state("none")) == (
        "revoked",
        "active",
        None,
    )


def test_audit_filters(store: SQLStore) -> None:
    """list_audit_events filters by type, user, outcome and time, newest first."""
    for i, (kind, outcome) in enumerate(
        [("login_failed", "failure"), ("login_succeeded", "success"), ("logout", "success")]
    ):
        store.add_audit_event(
            type=kind, outcome=outcome, user_id="1" if i else None, username="john",
            ip="127.0.0.1", user_agent="ua", detail={"i": i}, at=NOW + i,
        )  # fmt: skip
    assert [e.type for e in store.list_audit_events()] == [
        "logout",
        "login_succeeded",
        "login_failed",
    ]
    assert [e.detail for e in store.list_audit_events(outcome="failure")] == [{"i": 0}]
    assert len(store.list_audit_events(user_id="1")) == 2
    assert [e.type for e in store.list_audit_events(since=NOW + 1, until=NOW + 1)] == [
        "login_succeeded"
    ]
    assert len(store.list_audit_events(limit=1)) == 1


def test_ping(store: SQLStore) -> None:
    """The database answers."""
    assert store.ping()


def test_admin_check_sees_admins_before_and_after_and_can_refuse(store: SQLStore) -> None:
    """update_user and revoke_user hand the check the enabled admin candidates before and after
    the change, in its transaction; a check that raises leaves everything as it was."""
    uid = _user(store)
    store.update_user(uid, permissions={"admin": ["*"]})
    seen: list[tuple[list[dict[str, list[str]]], list[dict[str, list[str]]]]] = []

    def refuse(before: Any, after: Any) -> None:
        seen.append((before, after))
        raise LookupError("refused")

    with pytest.raises(LookupError):
        store.revoke_user(uid, not_before=5, now=NOW, reason="t", disable=True, check=refuse)
    with pytest.raises(LookupError):
        store.update_user(uid, permissions={"articles": ["read"]}, check=refuse)
    assert seen == [
        ([{"admin": ["*"]}], []),
        ([{"admin": ["*"]}], []),  # a user with no admin-like grant is not even read
    ]
    user = store.get_user(uid)
    assert user is not None
    assert (user.disabled, user.not_before, user.permissions) == (False, 0, {"admin": ["*"]})
    assert store.revocations_after(0, now=NOW) == []


def test_session_grants_migration_upgrades_and_downgrades_with_data(store: SQLStore) -> None:
    """0001 -> head (through the session-grants migration) keeps every session, marks the ones
    narrower than their user's grants (so none gains a grant), holds a scope past 2,048
    characters; and the downgrade works."""
    import sqlalchemy as sa

    from jotauth.store.sql.migrate import downgrade, upgrade

    store.drop_all()
    upgrade(store.engine, "0001")
    users = sa.table(
        "users", *(sa.column(n) for n in ("id", "username", "username_key", "password_hash")),
        sa.column("roles", sa.JSON), sa.column("permissions", sa.JSON),
        *(sa.column(n) for n in ("disabled", "not_before", "created_at")),
    )  # fmt: skip
    families = sa.table(
        "refresh_families",
        *(sa.column(n) for n in ("id", "user_id", "client_id", "scope", "created_at",
                                 "last_used_at", "expires_at")),
    )  # fmt: skip
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(users).values(
                id=1, username="john", username_key="john", password_hash="h", roles=[],
                permissions={"articles": ["read", "create"]}, disabled=False, not_before=0,
                created_at=NOW,
            )
        )  # fmt: skip
        for fid, scope in (("full", "articles:create articles:read"), ("narrow", "articles:read")):
            connection.execute(
                sa.insert(families).values(
                    id=fid, user_id=1, client_id="c", scope=scope, created_at=NOW,
                    last_used_at=NOW, expires_at=NOW + 100,
                )
            )  # fmt: skip
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision()
    full, narrow = store.get_family("full"), store.get_family("narrow")
    assert full is not None
    assert narrow is not None
    assert (full.narrowed, narrow.narrowed) == (False, True)
    long_scope = " ".join(f"resource{i:03d}:read" for i in range(200))
    assert len(long_scope) > 2048
    _family(store, 1, "long", "b" * 64)
    with store.engine.begin() as connection:
        connection.execute(
            sa.update(families).where(families.c.id == "long").values(scope=long_scope)
        )
    assert store.get_family("long").scope == long_scope  # type: ignore[union-attr]
    store.revoke_family("full", now=NOW, reason="logout", until=int(NOW) + 960)
    assert [r.as_event()["type"] for r in store.revocations_after(0, now=NOW)] == ["session"]
    downgrade(store.engine, "0001")
    assert current_revision(store.engine) == "0001"
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision()
