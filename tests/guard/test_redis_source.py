"""Revocations pushed over a real Redis server's pub/sub."""

import threading
import time
from typing import Any

import pytest
import redis

from jotauth.guard import RevocationFeed, RevocationView, RevokedTokenError
from jotauth.guard.redis_source import RedisRevocationSource, RevocationSources
from jotauth.guard.testing import LocalIssuer

pytestmark = pytest.mark.redis


def wait_for(condition: Any, seconds: float = 5.0) -> bool:
    """Wait for a background thread's effect (delivery over a real network), bounded."""
    deadline = time.monotonic() + seconds
    done = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        done.wait(0.01)
    return True


@pytest.fixture
def channel(request: pytest.FixtureRequest) -> str:
    """A channel of this test's own, so parallel runs do not cross."""
    return f"jotauth:test:{request.node.name}:{time.monotonic_ns()}"


def test_pushed_revocation_refuses_cached_token(
    redis_url: str, channel: str, issuer: LocalIssuer
) -> None:
    """A token revoked over Redis is refused right away, though it sits in the cache."""
    source = RedisRevocationSource(redis_url, channel=channel)
    guard = issuer.guard(revocation=source)
    token = issuer.make_token(sub="7", jti="pushed")
    assert guard.authenticate_sync(token).sub == "7"
    assert source.subscribed.wait(5)
    client = redis.Redis.from_url(redis_url)
    exp = int(time.time()) + 900
    assert (
        RedisRevocationSource.publish(
            client, {"type": "token", "jti": "pushed", "exp": exp}, channel
        )
        == 1
    )
    assert wait_for(lambda: source.received == 1)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    RedisRevocationSource.publish(
        client,
        [{"type": "user", "sub": "8", "not_before": exp}, {"type": "key", "kid": "k"}],
        channel,
    )
    assert wait_for(lambda: source.received == 3)
    client.close()
    guard.close()


def test_pushed_session_revocation_refuses_its_tokens(
    redis_url: str, channel: str, issuer: LocalIssuer
) -> None:
    """A session event pushed over Redis refuses every token of that session at once."""
    source = RedisRevocationSource(redis_url, channel=channel)
    guard = issuer.guard(revocation=source)
    token = issuer.make_token(sub="7", sid="family-7")
    assert guard.authenticate_sync(token).sub == "7"
    assert source.subscribed.wait(5)
    client = redis.Redis.from_url(redis_url)
    event = {"type": "session", "sid": "family-7", "exp": int(time.time()) + 960}
    assert RedisRevocationSource.publish(client, [event], channel) == 1
    assert wait_for(lambda: source.received == 1)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(token)
    client.close()
    guard.close()


def test_malformed_messages_are_skipped(redis_url: str, channel: str) -> None:
    """Non-JSON and non-event messages change nothing; later good ones still apply."""
    view = RevocationView()
    source = RedisRevocationSource(redis_url, channel=channel)
    source.attach(view)
    assert source.subscribed.wait(5)
    client = redis.Redis.from_url(redis_url)
    client.publish(channel, b"not json")
    client.publish(channel, b'"a string"')
    client.publish(channel, b'{"type": "key", "kid": "late"}')
    assert wait_for(lambda: len(view) == 1)
    assert view.check(None, "u", 0, "late") is not None
    client.close()
    source.close()
    with pytest.raises(RuntimeError, match="already"):
        source.attach(view)


def test_unreachable_redis_retries_quietly() -> None:
    """With Redis down the source keeps retrying in the background and never raises."""
    source = RedisRevocationSource("redis://127.0.0.1:1/0", channel="x")
    source.attach(RevocationView())
    assert not source.subscribed.wait(0.3)
    source.close()
    with pytest.raises(RuntimeError, match="attach"):
        RedisRevocationSource("redis://127.0.0.1:1/0").handle(b"{}")


def test_sources_compose() -> None:
    """RevocationSources attaches and closes each member."""
    feeds = [RevocationFeed("http://127.0.0.1:1/r", service_token="s", interval=60) for _ in "ab"]
    both = RevocationSources(*feeds)
    view = RevocationView()
    both.attach(view)
    assert all(feed._thread is not None and feed._thread.is_alive() for feed in feeds)
    both.close()
    assert not any(feed._thread is not None and feed._thread.is_alive() for feed in feeds)
    with pytest.raises(ValueError, match="at least one"):
        RevocationSources()
