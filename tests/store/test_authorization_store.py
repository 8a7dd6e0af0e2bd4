"""The OpenID provider's rows on SQLite and PostgreSQL: codes, SSO sessions, consents."""

from collections.abc import Iterator

import pytest

from jotauth.store.records import AuthorizationCodeRecord, SSOSessionRecord
from jotauth.store.sql import SQLStore


@pytest.fixture
def store(database_url: str) -> Iterator[SQLStore]:
    opened = SQLStore.from_url(database_url)
    yield opened
    opened.close()


def _code(sid: str = "sid-1") -> AuthorizationCodeRecord:
    return AuthorizationCodeRecord(
        client_id="app", user_id=1, redirect_uri="https://app.example/cb",
        code_challenge="c" * 43, scope="openid", nonce="n", sso_sid=sid, auth_time=1.0,
        created_at=1.0, expires_at=61.0,
    )  # fmt: skip


def test_a_code_is_spent_once_and_a_replay_is_flagged(store: SQLStore) -> None:
    """The first spend wins; the second learns it is a replay; attaching then says so."""
    store.create_code("h1", _code())
    record, first = store.spend_code("h1", now=2.0)
    assert first
    assert record is not None
    assert record.used_at == 2.0
    again, first_again = store.spend_code("h1", now=3.0)
    assert not first_again
    assert again is not None
    assert not store.attach_family("h1", "family-1")  # replayed before the family was known
    assert store.spend_code("nope", now=3.0) == (None, False)


def test_attach_family_links_a_code_to_its_session(store: SQLStore) -> None:
    """An unreplayed code records the family it issued; the SSO session finds it."""
    store.create_code("h2", _code("sid-2"))
    store.spend_code("h2", now=2.0)
    assert store.attach_family("h2", "family-2")
    assert store.session_grants("sid-2") == [("app", "family-2")]
    assert store.session_clients("sid-2") == ["app"]


def test_sso_session_ends_once(store: SQLStore) -> None:
    """A session is found by its cookie hash and by sid, and ends exactly once."""
    record = SSOSessionRecord(sid="s", user_id=1, auth_time=1.0, created_at=1.0, expires_at=9.0)
    store.create_sso_session("hash", record)
    assert store.find_sso_session("hash") == record
    assert store.get_sso_session("s") == record
    assert store.end_sso_session("s", now=5.0)
    assert not store.end_sso_session("s", now=6.0)
    ended = store.get_sso_session("s")
    assert ended is not None
    assert ended.ended_at == 5.0


def test_consent_is_replaced_per_user_and_client(store: SQLStore) -> None:
    """Saving a consent again replaces the scope; other clients are untouched."""
    assert store.consented_scope(1, "app") is None
    store.save_consent(1, "app", "openid", now=1.0)
    store.save_consent(1, "other", "openid profile", now=1.0)
    store.save_consent(1, "app", "openid profile", now=2.0)
    assert store.consented_scope(1, "app") == "openid profile"
    assert store.consented_scope(1, "other") == "openid profile"


def test_purge_removes_only_expired_codes_that_issued_nothing(store: SQLStore) -> None:
    """Codes that issued a session stay (a logout finds the session through them)."""
    store.create_code("old", _code())
    store.create_code("used", _code())
    store.spend_code("used", now=2.0)
    store.attach_family("used", "f")
    assert store.purge_codes(before=100.0) == 1
    assert store.session_grants("sid-1") == [("app", "f")]
