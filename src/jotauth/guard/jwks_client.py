"""A JWKS client: the issuer's public keys, fetched once and kept fresh without hammering it.

* The JWK Set URL comes from ``jwks_url=`` or from the issuer's
  ``/.well-known/openid-configuration`` (whose ``issuer`` must match, OIDC Discovery 4.3).
* The set is cached for the response's ``Cache-Control: max-age`` clamped to
  ``[min_ttl, max_ttl]`` (``no-store``/``no-cache`` count as ``min_ttl``), else ``default_ttl``.
* A token with an unknown ``kid`` triggers one refetch, then none for ``cooldown`` seconds, so a
  flood of made-up kids costs the issuer at most one request per cooldown.
* When a refetch fails the known keys keep serving; only with no keys at all does the client
  raise ``KeySourceError`` (which the adapters answer with 503, never 500).

All network I/O is a blocking ``httpx.Client`` call under one lock (async callers run it in a
worker thread), so concurrent requests for a cold cache cause one fetch, not a stampede.
"""

import logging
import re
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any, Final

from jotauth import jose
from jotauth.errors import MissingDependencyError
from jotauth.guard.errors import KeySourceError

try:
    import httpx
except ModuleNotFoundError as exc:
    raise MissingDependencyError("jotauth.guard needs httpx", "guard", exc) from None

__all__ = ["JWKSClient", "cache_ttl"]

logger = logging.getLogger("jotauth.guard")

_MAX_AGE: Final = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE: Final = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$|=)", re.IGNORECASE)
_MAX_BODY: Final = 1 << 20
_PRIVATE: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})  # a guard verifies only


def cache_ttl(cache_control: str | None, *, default: float, low: float, high: float) -> float:
    """How long to keep a JWK Set, from its Cache-Control header, within ``[low, high]``."""
    if not cache_control:
        return default
    if _NO_CACHE.search(cache_control):
        return low
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return default
    return min(max(float(match.group(1)), low), high)


class JWKSClient:
    """Fetches and caches a JWK Set for a guard (a ``KeySource``)."""

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        issuer: str | None = None,
        algorithms: Collection[str] | None = None,
        timeout: float = 3.0,
        cooldown: float = 30.0,
        default_ttl: float = 300.0,
        min_ttl: float = 30.0,
        max_ttl: float = 86400.0,
        transport: httpx.BaseTransport | None = None,
        clock: Any = time.time,
    ) -> None:
        if jwks_url is None and issuer is None:
            raise ValueError("JWKSClient needs jwks_url= or issuer= (for discovery)")
        if not 0 < min_ttl <= default_ttl <= max_ttl:
            raise ValueError("need 0 < min_ttl <= default_ttl <= max_ttl")
        if cooldown < 0 or timeout <= 0:
            raise ValueError("cooldown must be >= 0 and timeout > 0")
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.metadata: dict[str, Any] | None = None
        self._algorithms = None if algorithms is None else frozenset(algorithms)
        self._timeout = timeout
        self._cooldown = cooldown
        self._ttl = (default_ttl, min_ttl, max_ttl)
        self._transport = transport
        self._clock = clock
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._keys: jose.KeySet | None = None
        self._expires_at = 0.0
        self._last_attempt = float("-inf")
        self.fetches = 0
        """Requests made to the issuer for the JWK Set (for tests and metrics)."""

    # -- KeySource ---------------------------------------------------------------------------

    def cached(self, now: float) -> jose.KeySet | None:
        """Fresh keys, or stale ones while a failed refetch is cooling down; else None."""
        keys = self._keys
        if keys is not None and (
            now < self._expires_at or now - self._last_attempt < self._cooldown
        ):
            return keys
        return None

    def load(self, now: float) -> jose.KeySet:
        """The keys, fetching them when there are none or they are stale."""
        with self._lock:
            keys = self.cached(now)
            if keys is not None:
                return keys
            return self._refresh(now)

    def load_unknown(self, kid: str | None, now: float) -> jose.KeySet:
        """Refetch for a kid we do not know, at most once per cooldown."""
        with self._lock:
            keys = self._keys
            if keys is not None and kid is not None and kid in keys:
                return keys  # another request fetched it meanwhile
            if now - self._last_attempt < self._cooldown:
                if keys is None:
                    raise KeySourceError(
                        "the signing keys are unavailable (the last fetch failed); retrying "
                        f"after the {self._cooldown:g}s cooldown"
                    )
                return keys
            return self._refresh(now)

    # -- fetching ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _refresh(self, now: float) -> jose.KeySet:
        self._last_attempt = now
        try:
            keys, ttl = self._fetch()
        except KeySourceError as exc:
            if self._keys is None:
                logger.warning("jotauth.guard: no signing keys: %s", exc)
                raise
            logger.warning("jotauth.guard: keeping the cached JWK Set: %s", exc)
            return self._keys
        self._keys = keys
        self._expires_at = now + ttl
        return keys

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                transport=self._transport,
                timeout=self._timeout,
                follow_redirects=False,
                headers={"Accept": "application/json", "User-Agent": "jotauth-guard"},
            )
        return self._client

    def _get_json(self, url: str, what: str) -> tuple[Any, httpx.Response]:
        try:
            response = self._http().get(url)
        except httpx.TimeoutException:
            raise KeySourceError(
                f"timed out after {self._timeout:g}s fetching the {what} from {url}"
            ) from None
        except httpx.HTTPError as exc:
            raise KeySourceError(
                f"could not fetch the {what} from {url}: {type(exc).__name__}"
            ) from None
        self.fetches += what == "JWK Set"
        if response.status_code != 200:
            raise KeySourceError(
                f"the {what} at {url} answered HTTP {response.status_code}, expected 200"
            )
        if len(response.content) > _MAX_BODY:
            raise KeySourceError(f"the {what} at {url} is larger than {_MAX_BODY} bytes")
        try:
            return response.json(), response
        except ValueError:
            raise KeySourceError(f"the {what} at {url} is not JSON") from None

    def _discover(self) -> str:
        if self.jwks_url is not None:
            return self.jwks_url
        url = str(self.issuer).rstrip("/") + "/.well-known/openid-configuration"
        document, _ = self._get_json(url, "discovery document")
        if not isinstance(document, dict):
            raise KeySourceError(f"the discovery document at {url} is not a JSON object")
        if document.get("issuer") != self.issuer:
            raise KeySourceError(
                f"the discovery document at {url} names issuer {document.get('issuer')!r}, "
                f"not {self.issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise KeySourceError(f"the discovery document at {url} has no usable jwks_uri")
        self.metadata = document
        self.jwks_url = jwks_uri
        return jwks_uri

    def _fetch(self) -> tuple[jose.KeySet, float]:
        url = self._discover()
        document, response = self._get_json(url, "JWK Set")
        keys = self._parse(document, url)
        default, low, high = self._ttl
        ttl = cache_ttl(response.headers.get("cache-control"), default=default, low=low, high=high)
        return keys, ttl

    def _parse(self, document: Any, url: str) -> jose.KeySet:
        """The set's public signing keys, bound with this client's ``algorithms``.

        ``jose.KeySet.from_jwks`` binds keys published without ``alg`` where ``algorithms``
        decides it (RFC 7517 makes ``alg`` optional; Entra ID, Cognito and Ping omit it) and
        remembers why any key was left out, so a token signed by such a key is refused with
        that reason instead of a bare "no key with kid". Only a set with no key at all, not
        even a left-out one, is a KeySourceError (503).
        """
        entries = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(entries, list):
            raise KeySourceError(f'the JWK Set at {url} has no "keys" array')
        public: list[Any] = []
        for entry in entries:
            if not isinstance(entry, Mapping) or entry.get("use") == "enc":
                continue
            if entry.get("kty") == "oct":
                logger.warning("jotauth.guard: skipping a symmetric key published at %s", url)
                continue
            public.append({name: value for name, value in entry.items() if name not in _PRIVATE})
        try:
            keys = jose.KeySet.from_jwks({"keys": public}, algorithms=self._algorithms)
        except jose.JoseError as exc:
            raise KeySourceError(f"the JWK Set at {url} is unusable: {exc}") from None
        for kid, reason in keys.skipped.items():
            logger.warning("jotauth.guard: skipping key %r from %s: %s", kid, url, reason)
        if not len(keys) and not keys.skipped:
            raise KeySourceError(f"the JWK Set at {url} has no usable signing key")
        return keys
