"""Delivering back-channel logout tokens (OIDC Back-Channel Logout 1.0) to clients.

Sent after the logout answered (the browser never waits for a client's server): each POST
is bounded by ``timeout`` seconds, retried ``attempts`` times with a growing pause on a
network error or a 5xx, and given up with a warning after that. A 4xx is the client saying
no; it is not retried. Delivery is best effort and lives in this process: a restart drops
what was still pending, and the tokens' revocation (the part that matters for security)
has been published before any of this starts.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import httpx

__all__ = ["BackchannelSender"]

logger = logging.getLogger("jotauth.backchannel")
_ATTEMPTS: Final = 3
_TIMEOUT: Final = 5.0


class BackchannelSender:
    """POSTs ``logout_token=<jwt>`` form bodies to clients' back-channel logout URIs."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        attempts: int = _ATTEMPTS,
        timeout: float = _TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.transport = transport
        self.attempts = attempts
        self.timeout = timeout
        self.sleep = sleep

    async def send(self, uri: str, logout_token: str) -> bool:
        """Deliver one token; True once the client answered 2xx."""
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout, follow_redirects=False
        ) as http:
            for attempt in range(self.attempts):
                try:
                    response = await http.post(uri, data={"logout_token": logout_token})
                except httpx.HTTPError as exc:
                    reason = type(exc).__name__
                else:
                    if response.is_success:
                        return True
                    if response.status_code < 500:
                        logger.warning(
                            "back-channel logout refused by %s: %s", uri, response.status_code
                        )
                        return False
                    reason = f"HTTP {response.status_code}"
                if attempt + 1 < self.attempts:
                    await self.sleep(0.5 * 2**attempt)
        logger.warning(
            "back-channel logout to %s failed after %d tries: %s", uri, self.attempts, reason
        )
        return False

    async def send_all(self, deliveries: list[tuple[str, str]]) -> None:
        """Deliver ``(uri, token)`` pairs concurrently."""
        async with anyio.create_task_group() as group:
            for uri, token in deliveries:
                group.start_soon(self.send, uri, token)
