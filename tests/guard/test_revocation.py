"""The revocation view and the polling feed that fills it."""

import json
import threading
from typing import Any

import httpx
import pytest

from jotauth import jose
from jotauth.guard import RevocationFeed, RevocationView, RevokedTokenError
from jotauth.guard.revocation import RevocationSource
from jotauth.guard.testing import LocalIssuer, ManualClock

NOW = 1_900_000_000
FEED = "https://auth.test/revocations"


class FakeFeed:
    """A scripted /revocations endpoint with a cursor over an event log."""

    def __init__(self, token: str = "svc-secret") -> None:
        self.events: list[dict[str, Any]] = []
        self.token = token
        self.requests: list[httpx.Request] = []
        self.status = 200
        self.body: Any = None
        self.page_size = 100
        self.polled = threading.Event()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.polled.set()
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"error": "invalid_token"})
        if self.status != 200:
            return httpx.Response(self.status)
        if self.body is not None:
            return httpx.Response(200, content=self.body)
        start = int(request.url.params.get("after", "0"))
        page = self.events[start : start + self.page_size]
        end = start + len(page)
        body = {
            "cursor": str(end),
            "poll_interval": 5,
            "events": page,
            "has_more": end < len(self.events),
        }
        return httpx.Response(200, content=json.dumps(body))

    def feed(self, **options: Any) -> RevocationFeed:
        options.setdefault("service_token", "svc-secret")
        return RevocationFeed(FEED, transport=httpx.MockTransport(self.handle), **options)


def test_view_checks_and_expiry() -> None:
    """Token entries expire with their exp; user entries compare iat; keys are permanent."""
    view = RevocationView(user_retention=3600)
    assert view.check("j", "u", NOW, "k") is None
    view.revoke_token("j", NOW + 60)
    view.revoke_user("u", NOW)
    view.revoke_key("k")
    assert view.check("j", "x", NOW, None) is not None
    assert view.check(None, "u", NOW - 1, None) is not None
    assert view.check(None, "u", NOW, None) is None  # issued at not_before: still valid
    assert view.check(None, "u", None, None) is not None  # no iat: cannot prove it is newer
    assert view.check(None, "x", NOW, "k") is not None
    view.purge(NOW + 61)
    assert view.check("j", "x", NOW, None) is None
    view.purge(NOW + 3601)
    assert view.check(None, "u", NOW - 1, None) is None
    assert len(view) == 1


def test_view_apply_skips_malformed_events() -> None:
    """Unknown types and ill-typed fields are ignored; good events in the same batch apply."""
    view = RevocationView()
    applied = view.apply(
        [
            {"type": "token", "jti": "a", "exp": "soon"},
            {"type": "user", "sub": 5, "not_before": NOW},
            {"type": "key"},
            {"type": "session", "sid": "s"},
            "junk",
            {"type": "token", "jti": "ok", "exp": NOW + 5},
        ]
    )
    assert applied == 1
    assert len(view) == 1


def test_later_not_before_wins() -> None:
    """Two user events keep the later not-before."""
    view = RevocationView()
    view.revoke_user("u", NOW + 10)
    view.revoke_user("u", NOW)
    assert view.check(None, "u", NOW + 5, None) is not None


def test_feed_polls_with_cursor_and_service_token() -> None:
    """The first poll has no cursor; later polls send the cursor received; auth is Bearer."""
    fake = FakeFeed()
    fake.events = [{"type": "token", "jti": "j1", "exp": NOW + 60}]
    feed = fake.feed()
    view = RevocationView()
    assert feed.poll_once(view)
    assert "after" not in fake.requests[0].url.params
    fake.events.append({"type": "key", "kid": "k1"})
    assert feed.poll_once(view)
    assert fake.requests[1].url.params["after"] == "1"
    assert view.check(None, "u", NOW, "k1") is not None
    assert view.ready
    assert feed.interval == 5


def test_feed_follows_pages() -> None:
    """When the server says has_more, the feed keeps reading in the same poll."""
    fake = FakeFeed()
    fake.page_size = 2
    fake.events = [{"type": "token", "jti": f"j{n}", "exp": NOW + 60} for n in range(5)]
    view = RevocationView()
    assert fake.feed().poll_once(view)
    assert len(view) == 5
    assert len(fake.requests) == 3


def test_feed_is_not_ready_until_the_backlog_is_read() -> None:
    """A backlog longer than max_pages pages: the poll applies what it read, says it is not up
    to date and leaves the view not ready; the next poll reads the rest and only then is it."""
    fake = FakeFeed()
    fake.page_size = 2
    fake.events = [{"type": "token", "jti": f"j{n}", "exp": NOW + 60} for n in range(5)]
    feed = fake.feed(max_pages=2)
    view = RevocationView()
    assert not feed.poll_once(view)
    assert len(view) == 4
    assert not view.ready
    assert feed.poll_once(view)
    assert len(view) == 5
    assert view.ready
    with pytest.raises(ValueError, match="max_pages"):
        fake.feed(max_pages=0)


@pytest.mark.parametrize(
    ("status", "body", "token"),
    [
        (200, None, "wrong"),
        (500, None, "svc-secret"),
        (200, b"[]", "svc-secret"),
        (200, b"not json", "svc-secret"),
    ],
)
def test_failed_poll_keeps_the_view(status: int, body: bytes | None, token: str) -> None:
    """A rejected, failing or garbled poll changes nothing and keeps the cursor."""
    fake = FakeFeed()
    fake.events = [{"type": "token", "jti": "j1", "exp": NOW + 60}]
    view = RevocationView()
    good = fake.feed()
    assert good.poll_once(view)
    fake.status, fake.body = status, body
    bad = fake.feed(service_token=token)
    bad.cursor = good.cursor
    assert not bad.poll_once(view)
    assert bad.cursor == "1"
    assert bad.failures == 1
    assert view.check("j1", "u", NOW, None) is not None


def test_feed_unreachable_is_not_fatal() -> None:
    """A network error counts as a failed poll."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    feed = RevocationFeed(FEED, service_token="s", transport=httpx.MockTransport(down))
    assert not feed.poll_once(RevocationView())


def test_feed_argument_checks() -> None:
    """Out-of-range intervals and polling an unattached feed are errors."""
    with pytest.raises(ValueError, match="interval"):
        RevocationFeed(FEED, service_token="s", interval=0)
    with pytest.raises(RuntimeError, match="attach"):
        RevocationFeed(FEED, service_token="s").poll_once()


def test_callable_service_token() -> None:
    """The service token may be a callable, e.g. one that refreshes an access token."""
    fake = FakeFeed(token="dynamic")
    assert fake.feed(service_token=lambda: "dynamic").poll_once(RevocationView())


def test_guard_follows_feed_in_background(issuer: LocalIssuer) -> None:
    """A guard with a feed starts polling on first use and refuses a token once it is revoked."""
    fake = FakeFeed()
    clock = ManualClock(NOW)
    feed = fake.feed(interval=0.05)
    assert isinstance(feed, RevocationSource)
    guard = issuer.guard(revocation=feed, clock=clock)
    token = issuer.make_token(sub="9", jti="to-revoke", now=NOW)
    assert guard.authenticate_sync(token).sub == "9"
    fake.polled.clear()
    fake.events.append({"type": "token", "jti": "to-revoke", "exp": NOW + 900})
    for _ in range(3):  # wait for two complete polls after the event was published
        fake.polled.wait(5)
        fake.polled.clear()
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    guard.close()
    with pytest.raises(RuntimeError, match="already"):
        feed.attach(RevocationView())


def test_feed_url_from_discovery() -> None:
    """With issuer= and no url, the feed address comes from the discovery document."""
    fake = FakeFeed()
    fake.events = [{"type": "key", "kid": "k9"}]
    documents: list[Any] = [
        {"issuer": "https://other.test", "jotauth_revocations_endpoint": FEED},
        ["not", "an", "object"],
        {"issuer": "https://auth.test", "jotauth_revocations_endpoint": FEED},
    ]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=documents.pop(0))
        return fake.handle(request)

    feed = RevocationFeed(
        issuer="https://auth.test",
        service_token="svc-secret",
        transport=httpx.MockTransport(handle),
    )
    view = RevocationView()
    assert not feed.poll_once(view)  # another issuer's document is refused
    assert not feed.poll_once(view)  # so is a document that is not an object
    assert feed.poll_once(view)
    assert feed.url == FEED
    assert view.check(None, "u", 0, "k9") is not None
    with pytest.raises(ValueError, match="url= or issuer="):
        RevocationFeed(service_token="s")


def test_feed_discovery_unreachable() -> None:
    """An unreachable issuer during discovery is a failed poll, retried next tick."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    feed = RevocationFeed(
        issuer="https://auth.test", service_token="s", transport=httpx.MockTransport(down)
    )
    assert not feed.poll_once(RevocationView())
    assert feed.url is None


def test_revoked_token_stays_revoked_through_the_leeway(issuer: LocalIssuer) -> None:
    """A purge must not resurrect a revoked token the guard still accepts within its leeway.

    The guard accepts a token until ``exp + leeway``; if the view dropped the jti at ``exp``, a
    revoked (signed-out) token would be accepted again for the leeway's length.
    """
    fake = FakeFeed()
    clock = ManualClock(NOW)
    feed = fake.feed(clock=clock)
    guard = issuer.guard(clock=clock, leeway=30)
    token = issuer.make_token(sub="9", jti="gone", now=NOW, expires_in=60)
    fake.events.append({"type": "token", "jti": "gone", "exp": NOW + 60})
    assert feed.poll_once(guard.revocations)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    clock.advance(70)  # past exp, still inside the leeway: the guard would accept it
    assert feed.poll_once(guard.revocations)  # purges at the feed's clock
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    guard.close()


def test_revoked_key_cannot_sign_without_a_kid(issuer: LocalIssuer) -> None:
    """Whoever holds a revoked (stolen) key must not slip past the key revocation by leaving
    ``kid`` out: the guard still picks that key (the only one for the alg), so the revocation
    must be checked against the key that verified the token, not the header's kid."""
    guard = issuer.guard()
    guard.revocations.revoke_key(str(issuer.key.kid))
    claims = jose.peek_claims(issuer.make_token(sub="thief"))
    kidless = jose.encode(claims, issuer.key, headers={"typ": "at+jwt", "kid": None})
    assert "kid" not in jose.peek_header(kidless)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(kidless)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(issuer.make_token(sub="thief"))


def test_user_revocation_outlives_the_longest_token_through_the_leeway(
    issuer: LocalIssuer,
) -> None:
    """A purge must not drop a user's not-before while a token it revoked is still accepted.

    The issuer's longest access token lives 24 h (``JOTAUTH_ACCESS_TTL`` is capped there) and
    the guard accepts it until ``exp + leeway``; if the view dropped the not-before 24 h after
    it was set, a token issued just before a logout-everywhere would be accepted again for
    the leeway's length.
    """
    fake = FakeFeed()
    clock = ManualClock(NOW)
    feed = fake.feed(clock=clock)
    guard = issuer.guard(clock=clock, leeway=30)
    token = issuer.make_token(sub="9", now=NOW - 1, expires_in=86400)
    fake.events.append({"type": "user", "sub": "9", "not_before": NOW})
    assert feed.poll_once(guard.revocations)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    clock.advance(86400 + 10)  # past the 24 h retention and the exp, inside the leeway
    assert feed.poll_once(guard.revocations)  # purges at the feed's clock
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    guard.close()


def test_a_session_event_refuses_every_token_of_the_session(issuer: LocalIssuer) -> None:
    """A logout published as {"type": "session", "sid", "exp"} kills every access token whose
    sid names the session (the one refreshed earlier too, already cached), and only those."""
    clock = ManualClock(NOW)
    fake = FakeFeed()
    feed = fake.feed()
    guard = issuer.guard(clock=clock)
    first = issuer.make_token(sub="1", sid="family-1", now=NOW)
    second = issuer.make_token(sub="1", sid="family-1", now=NOW + 1)
    other = issuer.make_token(sub="1", sid="family-2", now=NOW)
    for token in (first, second, other):
        guard.authenticate_sync(token)
    fake.events.append({"type": "session", "sid": "family-1", "exp": NOW + 960})
    assert feed.poll_once(guard.revocations)
    for token in (first, second):
        with pytest.raises(RevokedTokenError) as info:
            guard.authenticate_sync(token)
        assert "session" in str(info.value)
    assert guard.authenticate_sync(other).sub == "1"
    guard.revocations.purge(NOW + 961 + 30)
    assert guard.revocations.check(None, "1", NOW, None, "family-1") is None
    feed.close()


def test_an_event_type_the_guard_does_not_know_is_ignored() -> None:
    """What a guard older than an event type does: skip it, apply the rest, keep serving."""
    view = RevocationView()
    applied = view.apply(
        [
            {"type": "a-future-kind", "sid": "s", "exp": NOW + 60},
            {"type": "token", "jti": "ok", "exp": NOW + 5},
        ]
    )
    assert applied == 1
    assert view.check(None, "u", NOW, None, "s") is None


def test_entries_expire_exactly_at_their_time_plus_the_leeway() -> None:
    """A jti or session stays revoked while the guard would still accept its token (until
    exp + leeway, when the guard calls the token expired) and leaves at that second; a user's
    not-before stays for retention + leeway."""
    view = RevocationView(user_retention=3600, leeway=30)
    view.revoke_token("j", NOW + 60)
    view.revoke_session("s", NOW + 120)
    view.revoke_user("u", NOW)
    view.purge(NOW + 60 + 29)
    assert view.check("j", "x", NOW, None) is not None
    view.purge(NOW + 60 + 30)
    assert view.check("j", "x", NOW, None) is None
    assert view.check(None, "x", NOW, None, "s") is not None
    view.purge(NOW + 120 + 29)
    assert view.check(None, "x", NOW, None, "s") is not None
    view.purge(NOW + 120 + 30)
    assert view.check(None, "x", NOW, None, "s") is None
    view.purge(NOW + 3600 + 29)
    assert view.check(None, "u", NOW - 1, None) is not None
    view.purge(NOW + 3600 + 30)
    assert view.check(None, "u", NOW - 1, None) is None
    assert len(view) == 0


def test_a_purged_revocation_never_revives_a_token_the_guard_accepts(issuer: LocalIssuer) -> None:
    """Second by second around the edge, with the guard's own clock: the token is refused as
    revoked, then as expired, never accepted."""
    clock = ManualClock(NOW)
    guard = issuer.guard(clock=clock, leeway=30)
    token = issuer.make_token(sub="1", jti="j", now=NOW, expires_in=60)
    guard.authenticate_sync(token)
    guard.revocations.revoke_token("j", NOW + 60)
    for second in range(NOW + 85, NOW + 95):
        clock.now = second
        guard.revocations.purge(second)
        with pytest.raises((RevokedTokenError, jose.ExpiredTokenError)):
            guard.authenticate_sync(token)


def test_a_later_revocation_of_the_same_name_outlives_its_first_expiry() -> None:
    """Extended revocations keep the later time: the purge of the earlier one leaves them."""
    view = RevocationView(user_retention=100)
    view.revoke_token("j", NOW + 10)
    view.revoke_token("j", NOW + 50)
    view.revoke_token("j", NOW + 20)  # earlier than what is held: changes nothing
    view.revoke_session("s", NOW + 10)
    view.revoke_session("s", NOW + 50)
    view.revoke_user("u", NOW)
    view.revoke_user("u", NOW + 40)
    view.purge(NOW + 11)
    assert view.check("j", "x", NOW, None) is not None
    assert view.check(None, "x", NOW, None, "s") is not None
    view.purge(NOW + 100 + 1)  # the first not-before's retention is over, not the second's
    assert view.check(None, "u", NOW + 39, None) is not None
    view.purge(NOW + 51)
    assert view.check("j", "x", NOW, None) is None
    assert view.check(None, "x", NOW, None, "s") is None
    view.purge(NOW + 140 + 1)
    assert view.check(None, "u", NOW + 39, None) is None
    assert len(view) == 0


def test_a_revocation_applied_again_after_its_purge_counts_again() -> None:
    view = RevocationView()
    view.revoke_token("j", NOW + 10)
    view.purge(NOW + 11)
    assert view.check("j", "x", NOW, None) is None
    view.revoke_token("j", NOW + 100)
    view.purge(NOW + 11)
    assert view.check("j", "x", NOW, None) is not None


def test_purges_keep_every_live_entry_among_many() -> None:
    """Lookups stay exact while a large view expires in steps: each purge removes precisely
    the entries that are due, whatever order they were revoked in."""
    view = RevocationView(user_retention=0)
    expiries = {f"j{n}": NOW + (n * 7919) % 1000 for n in range(3000)}  # shuffled times
    view.apply({"type": "token", "jti": jti, "exp": exp} for jti, exp in expiries.items())
    for step in range(0, 1001, 50):
        view.purge(NOW + step)
        live = {jti for jti, exp in expiries.items() if exp > NOW + step}
        assert {j for j in expiries if view.check(j, "x", NOW, None) is not None} == live
        assert len(view) == len(live)


def test_the_same_events_polled_again_do_not_grow_the_view() -> None:
    """A feed that re-sends events it sent before (a cursor that did not move) adds nothing
    to the expiry queues, so memory stays bounded by the distinct revocations."""
    view = RevocationView()
    events = [{"type": "token", "jti": f"j{n}", "exp": NOW + 60} for n in range(100)]
    for _ in range(20):
        view.apply(events)
        view.purge(NOW)
    assert len(view) == 100
    assert len(view._token_due) == 100  # one queued expiry per revocation
