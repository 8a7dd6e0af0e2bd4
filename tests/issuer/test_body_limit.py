"""``BodyLimitMiddleware``: a body is refused once too big or too slow, and the app never waits.

Pure ASGI, driven with hand-made ``receive``/``send`` callables: the byte counts and the
deadline are exact, and time is a ``ManualClock`` (the one real wait is a 0.1 s stall).
The same rules over a real socket are in ``test_body_limit_serve.py``.
"""

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from jotauth.guard.testing import ManualClock
from jotauth.issuer.http.body_limit import BodyLimitMiddleware

pytestmark = pytest.mark.anyio

Message = dict[str, Any]
LIMIT = 4096


def _scope(*headers: tuple[bytes, bytes], kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "method": "POST", "path": "/login", "headers": list(headers)}


class App:
    """An app that reads its whole body, then answers 200 with the byte count."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""
        self.last: Message | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        while True:
            message = await receive()
            self.last = message
            if message["type"] != "http.request":
                break
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(self.body)).encode()})


class Sent:
    """What the middleware sent to the server."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def starts(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "http.response.start"]

    def error(self) -> tuple[int, dict[bytes, bytes], dict[str, Any]]:
        start = self.starts[0]
        body = b"".join(m.get("body", b"") for m in self.messages if "body" in m)
        return start["status"], dict(start["headers"]), json.loads(body)


def chunks(*parts: bytes, then: Callable[[], Any] | None = None) -> Callable[[], Any]:
    """A receive handing out ``parts`` (more_body until the last), then calling ``then``."""
    queue = list(parts)
    calls = {"n": 0}

    async def receive() -> Message:
        calls["n"] += 1
        if queue:
            body = queue.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(queue) or bool(then)}
        if then is not None:
            result: Message = await then()
            return result
        return {"type": "http.disconnect"}

    receive.calls = calls  # type: ignore[attr-defined]
    return receive


def limited(app: Any, clock: ManualClock | None = None, timeout: float = 10) -> BodyLimitMiddleware:
    if clock is None:
        return BodyLimitMiddleware(app, max_bytes=LIMIT, timeout=timeout)
    return BodyLimitMiddleware(app, max_bytes=LIMIT, timeout=timeout, clock=clock)


def _assert_refused(sent: Sent, status: int) -> dict[str, Any]:
    code, headers, body = sent.error()
    assert code == status
    assert headers[b"connection"] == b"close"
    assert headers[b"content-type"] == b"application/json"
    assert body["error"] == "invalid_request"
    assert body["error_description"]
    assert len(sent.starts) == 1  # the app's own answer never follows
    return body


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    """``Content-Length: 1000000000``: 413 at once; the app is not called, no byte is read."""
    app, sent = App(), Sent()

    async def receive() -> Message:
        raise AssertionError("no byte of the body may be read")

    await limited(app)(_scope((b"content-length", b"1000000000")), receive, sent)
    assert not app.called
    body = _assert_refused(sent, 413)
    assert str(LIMIT) in body["error_description"]


async def test_a_declared_length_at_the_limit_passes() -> None:
    """A body of exactly the limit, declared as such, reaches the app whole."""
    app, sent = App(), Sent()
    receive = chunks(b"x" * 1000, b"x" * (LIMIT - 1000))
    await limited(app)(_scope((b"content-length", str(LIMIT).encode())), receive, sent)
    assert app.body == b"x" * LIMIT
    assert [m["status"] for m in sent.starts] == [200]


async def test_a_streamed_body_is_cut_as_soon_as_it_passes_the_limit() -> None:
    """Chunked, no length: 413 on the chunk that crosses the limit, and nothing more is read."""
    app, sent = App(), Sent()
    receive = chunks(*[b"y" * 1000] * 50)
    await limited(app)(_scope(), receive, sent)
    _assert_refused(sent, 413)
    assert receive.calls["n"] == 5  # type: ignore[attr-defined]
    assert app.last == {"type": "http.disconnect"}  # the app is told the client went away


async def test_a_body_longer_than_its_malformed_length_is_still_counted() -> None:
    """An unparsable Content-Length (which uvicorn refuses, an ASGI client may not) is no pass."""
    app, sent = App(), Sent()
    receive = chunks(*[b"y" * 1000] * 10)
    await limited(app)(_scope((b"content-length", b"12abc")), receive, sent)
    _assert_refused(sent, 413)


async def test_a_stalled_body_answers_408() -> None:
    """Half a body, then silence: 408 after the timeout (0.1 s here), and the app is let go."""
    app, sent = App(), Sent()
    never = anyio.Event()

    async def stall() -> Message:
        await never.wait()
        raise AssertionError("unreachable")

    with anyio.fail_after(1):
        await limited(app, timeout=0.1)(_scope(), chunks(b'{"username": ', then=stall), sent)
    body = _assert_refused(sent, 408)
    assert "0.1 s" in body["error_description"]
    assert app.last == {"type": "http.disconnect"}


async def test_a_trickling_body_times_out_on_the_whole_body_deadline() -> None:
    """A byte every second never stalls, but the whole body must be in within the timeout."""
    clock = ManualClock(100.0)
    app, sent = App(), Sent()
    calls = 0

    async def trickle() -> Message:
        nonlocal calls
        calls += 1
        clock.advance(1)
        return {"type": "http.request", "body": b"x", "more_body": True}

    with anyio.fail_after(1):  # no real waiting: the clock is the test's
        await limited(app, clock=clock, timeout=10)(_scope(), trickle, sent)
    _assert_refused(sent, 408)
    assert calls == 10  # the eleventh read is past the deadline: refused without waiting
    assert app.body == b"x" * 10


async def test_reads_after_the_whole_body_have_no_deadline() -> None:
    """Once the body is in, the app may wait for a disconnect as long as it likes."""
    clock = ManualClock(0.0)
    received: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(await receive())
        clock.advance(3600)
        received.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent = Sent()
    await limited(app, clock=clock, timeout=1)(_scope(), chunks(b"{}"), sent)
    assert received == [
        {"type": "http.request", "body": b"{}", "more_body": False},
        {"type": "http.disconnect"},
    ]
    assert [m["status"] for m in sent.starts] == [200]


async def test_an_app_failing_on_its_cut_body_is_no_error() -> None:
    """The app raising after the cut (as Starlette's ClientDisconnect does) is swallowed."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive())["type"] == "http.request":
            pass
        raise RuntimeError("client disconnected")

    sent = Sent()
    await limited(app)(_scope(), chunks(*[b"z" * 3000] * 3), sent)
    _assert_refused(sent, 413)


async def test_an_app_failing_for_its_own_reasons_still_fails() -> None:
    """Without a cut, an app's exception propagates to the server's error handling."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("a real bug")

    with pytest.raises(RuntimeError, match="a real bug"):
        await limited(app)(_scope(), chunks(b"{}"), Sent())


async def test_a_cut_after_the_app_began_answering_sends_nothing_more() -> None:
    """An app that answered before reading keeps its status; the rest of its answer is dropped."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive())["type"] == "http.request":
            pass
        await send({"type": "http.response.body", "body": b"late"})

    sent = Sent()
    await limited(app)(_scope(), chunks(*[b"z" * 3000] * 3), sent)
    assert [m["type"] for m in sent.messages] == ["http.response.start"]
    assert sent.starts[0]["status"] == 200


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_other_scopes_pass_through(kind: str) -> None:
    """WebSocket and lifespan messages are not bodies: the app gets the server's receive."""
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(receive)

    async def receive() -> Message:
        return {"type": f"{kind}.connect"}

    await limited(app)(_scope((b"content-length", b"99999999"), kind=kind), receive, Sent())
    assert seen == [receive]


def test_the_timeout_is_read_from_jotauth_body_timeout() -> None:
    """``JOTAUTH_BODY_TIMEOUT`` gives the seconds; under one second stops the start."""
    from jotauth.issuer.errors import ConfigurationError
    from jotauth.issuer.settings import Settings

    assert Settings.from_env({}).body_timeout == 10
    assert Settings.from_env({"JOTAUTH_BODY_TIMEOUT": "3"}).body_timeout == 3
    with pytest.raises(ConfigurationError, match="JOTAUTH_BODY_TIMEOUT"):
        Settings.from_env({"JOTAUTH_BODY_TIMEOUT": "0"})


async def test_the_app_applies_its_settings_outside_every_other_middleware(
    kit: Any, sqlite_url: str, clock: Any
) -> None:
    """create_app installs the limit with JOTAUTH_MAX_BODY_BYTES and JOTAUTH_BODY_TIMEOUT,
    outermost: a /logout without a token is 413 before it is 401."""
    from jotauth.issuer.app import create_app

    app = create_app(
        kit.make_settings(sqlite_url, max_body_bytes=2048, body_timeout=1),
        clock=clock,
        sleep=clock.advance,
    )
    try:
        assert app.user_middleware[0].cls is BodyLimitMiddleware
        assert app.user_middleware[0].kwargs == {"max_bytes": 2048, "timeout": 1}
        sent = Sent()
        scope = {
            **_scope((b"content-length", b"2049"), (b"content-type", b"application/json")),
            "path": "/logout", "raw_path": b"/logout", "query_string": b"", "root_path": "",
            "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
            "http_version": "1.1", "asgi": {"version": "3.0"},
        }  # fmt: skip

        async def receive() -> Message:
            raise AssertionError("no byte of the body may be read")

        with anyio.fail_after(5):
            await app(scope, receive, sent)
        body = _assert_refused(sent, 413)
        assert "2048" in body["error_description"]
    finally:
        app.state.store.close()
