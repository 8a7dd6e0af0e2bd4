"""The guard's own counters, and their Prometheus export."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from jotauth import jose
from jotauth.guard import InsufficientScopeError, MissingTokenError
from jotauth.guard.metrics import GuardCollector
from jotauth.guard.testing import LocalIssuer, ManualClock

NOW = 1_800_000_000


def _issuer() -> tuple[LocalIssuer, ManualClock]:
    return LocalIssuer(), ManualClock(NOW)


def test_stats_count_verifications_cache_hits_and_rejections_by_reason() -> None:
    """Each outcome lands in its own counter; rejections are keyed by the error's code."""
    issuer, clock = _issuer()
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(sub="42", scope="articles:read", now=NOW)
    principal = guard.authenticate_sync(token)
    guard.authenticate_sync(token)
    guard.authenticate_sync(token)
    middle = len(token) - 20  # inside the signature, away from its non-canonical last bits
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    with pytest.raises(jose.BadSignatureError):
        guard.authenticate_sync(tampered)
    with pytest.raises(jose.MalformedTokenError):
        guard.authenticate_sync("not-a-token")
    with pytest.raises(InsufficientScopeError):
        guard.authorize(principal, ["articles:delete"])
    with pytest.raises(MissingTokenError):
        guard.extract([])
    clock.advance(3600)
    with pytest.raises(jose.ExpiredTokenError):
        guard.authenticate_sync(token)
    stats = guard.stats()
    assert stats["verified"] == 1
    assert stats["cache_hits"] == 3  # two repeats, then the expired re-check
    assert stats["rejected"] == {
        "bad_signature": 1,
        "malformed_token": 1,
        "insufficient_scope": 1,
        "missing_token": 1,
        "expired_token": 1,
    }
    assert stats["jwks_fetches"] == 0  # static keys: nothing fetched


def test_prometheus_collector_exports_the_counters() -> None:
    """A scrape shows verified, cache and rejected-by-reason series labelled by service."""
    issuer, clock = _issuer()
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(sub="42", now=NOW)
    guard.authenticate_sync(token)
    guard.authenticate_sync(token)
    with pytest.raises(jose.MalformedTokenError):
        guard.authenticate_sync("a.b")
    registry = CollectorRegistry()
    registry.register(GuardCollector(guard, service="articles"))
    text = generate_latest(registry).decode()
    assert 'jotauth_guard_verified_total{service="articles"} 1.0' in text
    assert 'jotauth_guard_cache_hits_total{service="articles"} 1.0' in text
    assert 'jotauth_guard_rejected_total{reason="malformed_token",service="articles"} 1.0' in text
    assert 'jotauth_guard_cache_entries{service="articles"} 1.0' in text
