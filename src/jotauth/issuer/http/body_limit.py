"""A request body may be so big and take so long, checked while it streams in.

``BodyLimitMiddleware`` is pure ASGI and sits outside every other middleware, so nothing
buffers a byte before it has counted it:

* a declared ``Content-Length`` over the limit answers 413 at once: the app never runs and no
  byte is read (a client announcing a gigabyte holds nothing open);
* a body without a length (chunked) or longer than it said is counted as it arrives, and 413
  is answered as soon as the count passes the limit;
* the whole body must arrive within ``timeout`` seconds of the app first asking for it; a
  body that stalls, or trickles in a byte at a time, answers 408.

Each refusal is the one error shape (``{"error": "invalid_request", "error_description"}``)
with ``Connection: close``: the server drops the connection instead of waiting for the rest.
The app is then told the client went away (``http.disconnect``), which every reader of a body
already handles, and whatever it still tries to answer is dropped.

Why not FastAPI's own ``max_body_size`` (Starlette's ``RequestBodyLimitMiddleware``): it has
no time limit, so a stalled body holds its connection for as long as the client likes; it
refuses a declared length only once the app has run up to reading the body (``/logout``
authenticates against the database first); and outside FastAPI's exception middleware it
answers ``text/plain``. Counting bytes is three lines; the deadline is what is our own.
"""

import json
import time
from collections.abc import Callable

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """At most ``max_bytes`` of request body, all of it within ``timeout`` seconds.

    ``clock`` (monotonic seconds) measures the deadline; tests hand in a manual one.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, 413, _too_large(self.max_bytes))
            return
        body = _Body(self, receive, send)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.refused:
                raise
            # The app failed because its body was cut off; the client has its answer.


class _Body:
    """One request's body as the app reads it: counted, timed, cut off when it breaks a rule."""

    def __init__(self, limit: BodyLimitMiddleware, receive: Receive, send: Send) -> None:
        self.limit = limit
        self._receive = receive
        self._send = send
        self.size = 0
        self.deadline: float | None = None
        self.complete = False
        self.refused = False
        self.started = False

    async def receive(self) -> Message:
        if self.complete:  # later reads wait for a disconnect, which has no deadline
            return await self._receive()
        if self.refused:
            return {"type": "http.disconnect"}
        now = self.limit.clock()
        if self.deadline is None:
            self.deadline = now + self.limit.timeout
        remaining = self.deadline - now
        message: Message | None = None
        if remaining > 0:
            with anyio.move_on_after(remaining):
                message = await self._receive()
        if message is None:
            return await self._cut(408, f"the body did not arrive within {self.limit.timeout:g} s")
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit.max_bytes:
                return await self._cut(413, _too_large(self.limit.max_bytes))
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True  # the client went away: nothing more will come
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _cut(self, status: int, description: str) -> Message:
        self.refused = True
        if not self.started:  # once the app has begun its answer, only the close is left
            await _refuse(self._send, status, description)
        return {"type": "http.disconnect"}  # what every reader of a body already handles


def _too_large(max_bytes: int) -> str:
    return f"the body is over the {max_bytes}-byte limit (JOTAUTH_MAX_BODY_BYTES)"


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not (value.isascii() and value.isdigit()):
        return None  # the server refuses a malformed length; an ASGI test may not
    return int(value)


async def _refuse(send: Send, status: int, description: str) -> None:
    payload = json.dumps({"error": "invalid_request", "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
