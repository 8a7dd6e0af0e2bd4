"""Follow the issuer's revocation feed by polling, into a ``RevocationView``.

``GET <url>?after=<cursor>`` with ``Authorization: Bearer <service token>`` answers
``{"cursor": str, "poll_interval": int, "events": [...], "has_more": bool}``. The first
request sends no cursor and receives every event still relevant; later ones send the last
cursor and receive only what is new. While ``has_more`` is true the same poll asks again
(up to ``max_pages`` pages), and the view counts as ready only once a page says nothing more
is waiting: a guard facing a backlog larger than one page must not report ready with the
newest revocations still unread. When a backlog outlasts ``max_pages`` the next poll starts
at once instead of after the interval. A failed poll changes nothing (the view keeps what it
knew) and is retried on the next tick, so an issuer outage never breaks verification.

Polling runs in one daemon thread (started by the guard on first use), so it serves sync and
async applications alike and never blocks a request.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from jotauth.errors import MissingDependencyError
from jotauth.guard.revocation import RevocationView

try:
    import httpx
except ModuleNotFoundError as exc:
    raise MissingDependencyError("jotauth.guard needs httpx", "guard", exc) from None

__all__ = ["RevocationFeed"]

logger = logging.getLogger("jotauth.guard")

_MIN_INTERVAL: Final = 0.05
_MAX_INTERVAL: Final = 300.0
_MAX_PAGES: Final = 20


class RevocationFeed:
    """A ``RevocationSource`` that polls the issuer's ``/revocations`` endpoint."""

    def __init__(
        self,
        url: str | None = None,
        *,
        service_token: str | Callable[[], str],
        issuer: str | None = None,
        interval: float | None = None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        max_pages: int = _MAX_PAGES,
    ) -> None:
        """``interval`` overrides the server's ``poll_interval`` (else 5 s until it sends one).

        ``max_pages`` bounds the pages read in one poll (a page holds up to 1,000 events), so
        one poll never runs unbounded; a longer backlog continues in the next poll, at once.

        Without ``url``, the feed's address is read on the first poll from the ``issuer``'s
        discovery document (``jotauth_revocations_endpoint``).
        """
        if url is None and issuer is None:
            raise ValueError("RevocationFeed needs url= or issuer= (for discovery)")
        if interval is not None and not _MIN_INTERVAL <= interval <= _MAX_INTERVAL:
            raise ValueError(f"interval must be within [{_MIN_INTERVAL}, {_MAX_INTERVAL}] seconds")
        self.url = url
        self.issuer = issuer
        self.cursor: str | None = None
        self.interval = 5.0 if interval is None else float(interval)
        self._fixed_interval = interval is not None
        self._service_token = service_token
        self._client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self._clock = clock
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self._max_pages = max_pages
        self._behind = False
        self._view: RevocationView | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0
        self.failures = 0

    def attach(self, view: RevocationView) -> None:
        """Start polling into ``view`` in a daemon thread."""
        if self._view is not None:
            raise RuntimeError("this RevocationFeed already feeds a view")
        self._view = view
        self._thread = threading.Thread(target=self._run, name="jotauth-revocations", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling and close the HTTP client."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(0.0 if self._behind else self.interval)

    def poll_once(self, view: RevocationView | None = None) -> bool:
        """One poll and its follow-up pages; True when the view is now up to date.

        False after a failed request, or when ``max_pages`` pages were read and the server
        still says ``has_more`` (the view keeps what it applied; it is not marked ready).
        """
        target = view if view is not None else self._view
        if target is None:
            raise RuntimeError("attach the feed to a view (or pass one) before polling")
        for _ in range(self._max_pages):
            page = self._fetch()
            self.polls += 1
            if page is None:
                self.failures += 1
                self._behind = False
                return False
            events, more = page
            target.apply(events)
            if not more:
                self._behind = False
                target.purge(self._clock())
                target.ready = True
                return True
        self._behind = True
        return False

    def _discover(self) -> str | None:
        """The feed URL from the issuer's discovery document (which must name the issuer)."""
        where = str(self.issuer).rstrip("/") + "/.well-known/openid-configuration"
        try:
            document = self._client.get(where).json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("jotauth.guard: discovery at %s: %s", where, type(exc).__name__)
            return None
        if not isinstance(document, dict):
            document = {}
        url = document.get("jotauth_revocations_endpoint")
        if document.get("issuer") != self.issuer or not isinstance(url, str):
            logger.warning("jotauth.guard: %s names no revocation feed for this issuer", where)
            return None
        self.url = url
        return url

    def _fetch(self) -> tuple[list[Any], bool] | None:
        url = self.url or self._discover()
        if url is None:
            return None
        token = self._service_token() if callable(self._service_token) else self._service_token
        params = {} if self.cursor is None else {"after": self.cursor}
        try:
            response = self._client.get(
                url, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            logger.warning("jotauth.guard: revocation feed %s: %s", self.url, type(exc).__name__)
            return None
        if response.status_code != 200:
            logger.warning(
                "jotauth.guard: revocation feed %s answered HTTP %d%s",
                self.url,
                response.status_code,
                " (check the service token)" if response.status_code in (401, 403) else "",
            )
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("events"), list)
            or not isinstance(body.get("cursor"), str)
        ):
            logger.warning("jotauth.guard: revocation feed %s sent an unexpected body", self.url)
            return None
        self.cursor = body["cursor"]
        interval = body.get("poll_interval")
        if not self._fixed_interval and isinstance(interval, int | float):
            self.interval = min(max(float(interval), 1.0), _MAX_INTERVAL)
        return body["events"], body.get("has_more") is True
