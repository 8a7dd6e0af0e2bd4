"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 2.3).

The api layer parses what the request carries into ``ClientCredentials`` (one parse); the
rules are here: the method used must be the one the client registered, a confidential client
must authenticate, a public one cannot pose as confidential, and every failure is the same
``InvalidClientError`` (unknown client, wrong secret, bad assertion, disabled client), after
the same work (a digest is computed for an unknown client too), so answers and timing do not
tell which client ids exist.

``private_key_jwt`` (RFC 7523 2.2 and 3, OIDC Core 9): the assertion is verified with
``jotauth.jose`` against the client's registered JWKS or its ``jwks_uri`` (fetched by the
guard's ``JWKSClient``: bounded timeout, cached, one refetch per cooldown for an unknown
``kid``). ``iss`` = ``sub`` = client_id, ``aud`` the token endpoint URL or the issuer,
asymmetric algorithms only, ``exp`` required and at most an hour away, ``jti`` single use
(recorded in the database until ``exp``, so a replay to another instance fails too).
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jotauth import jose
from jotauth.guard import JWKSClient, KeySourceError
from jotauth.issuer.errors import InvalidClientError
from jotauth.issuer.services.client_cache import ClientCache
from jotauth.issuer.services.clients import ASSERTION_ALGORITHMS, SECRET_METHODS, check_secret
from jotauth.issuer.services.turns import in_thread
from jotauth.issuer.settings import Settings
from jotauth.store.records import ClientRecord
from jotauth.store.sql import SQLStore

__all__ = ["ASSERTION_TYPE", "ClientAuthenticator", "ClientCredentials"]

logger = logging.getLogger("jotauth.issuer")

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME: Final = 3600
"""Seconds an assertion may still be valid for. It is made for one request, so shorter would
do, but common client libraries sign for an hour by default (Authlib) and large providers
accept up to that (Okta); replay is stopped by the ``jti`` record, kept until ``exp``."""
_LEEWAY: Final = 30
_JWKS_TIMEOUT: Final = 3.0


@dataclass(frozen=True)
class ClientCredentials:
    """What a request presented to authenticate its client, as the api layer parsed it.

    ``method`` is what was used: ``client_secret_basic`` (the Authorization header),
    ``client_secret_post`` (``client_secret`` in the form), ``private_key_jwt``
    (``client_assertion``), or ``none`` (only ``client_id``); None when nothing named a client.
    """

    method: str | None
    client_id: str | None
    secret: str | None = None
    assertion: str | None = None

    @property
    def basic(self) -> bool:
        """Whether the Authorization header carried them (the 401 then challenges Basic)."""
        return self.method == "client_secret_basic"


class ClientAuthenticator:
    """Decides which registered client a request speaks for."""

    def __init__(
        self,
        store: SQLStore,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        transport: Any = None,
        clients: ClientCache | None = None,
    ) -> None:
        """``clients``: where client rows are read (default: the database, every time)."""
        self.clients = ClientCache(store, seconds=0) if clients is None else clients
        self.store = store
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.audiences = (f"{settings.issuer}/oauth/token", settings.issuer)
        self._jwks_clients: dict[str, JWKSClient] = {}
        self._lock = threading.Lock()

    async def authenticate(self, credentials: ClientCredentials) -> ClientRecord:
        """The client ``credentials`` prove, or InvalidClientError (uniform)."""
        refused = InvalidClientError(basic=credentials.basic)
        client_id = credentials.client_id
        if credentials.method is None or not client_id:
            raise InvalidClientError(
                "client authentication is required: send client_id (public clients) or the "
                "client's credentials"
            )
        client = None
        if len(client_id) <= 64 and "\x00" not in client_id:
            hit, client = self.clients.cached(client_id)  # no thread hop for a cached client
            if not hit:
                client = await in_thread(self.clients.get, client_id)
        method = credentials.method
        if method in SECRET_METHODS:
            valid = check_secret(credentials.secret or "", None if client is None else
                                 client.secret_hash)  # fmt: skip
            if not valid:
                raise refused
        elif method == "private_key_jwt":
            if client is None or client.token_endpoint_auth_method != method:
                raise refused
            await self._check_assertion(client, credentials.assertion or "")
        if client is None or client.disabled or client.token_endpoint_auth_method != method:
            raise refused
        return client

    # -- private_key_jwt ---------------------------------------------------------------------

    async def _check_assertion(self, client: ClientRecord, assertion: str) -> None:
        keys = await self._keys(client, assertion)
        verifier = jose.Verifier(
            keys,
            algorithms=ASSERTION_ALGORITHMS,
            issuer=client.client_id,
            subject=client.client_id,
            audience=self.audiences,
            leeway=_LEEWAY,
            require=("exp", "jti", "iss", "sub", "aud"),
        )
        now = self.clock()
        try:
            claims = verifier.verify(assertion, now=now)
        except jose.JoseError:
            raise InvalidClientError() from None
        exp, jti = claims["exp"], claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 256:
            raise InvalidClientError()
        if exp > now + MAX_ASSERTION_LIFETIME + _LEEWAY:
            raise InvalidClientError(
                f"client authentication failed: the assertion's exp is more than "
                f"{MAX_ASSERTION_LIFETIME} s away"
            )
        key = hashlib.sha256(f"{client.client_id}\x00{jti}".encode()).hexdigest()
        if not await in_thread(self.store.use_assertion, key, float(exp) + _LEEWAY, now=now):
            raise InvalidClientError("client authentication failed: the assertion was used")

    async def _keys(self, client: ClientRecord, assertion: str) -> jose.KeySet:
        if client.jwks is not None:
            try:
                return jose.KeySet.from_jwks(client.jwks, algorithms=ASSERTION_ALGORITHMS)
            except jose.JoseError:
                raise InvalidClientError() from None
        assert client.jwks_uri is not None  # noqa: S101 - validate_spec requires one of them
        source = self._jwks_client(client.jwks_uri)
        now = self.clock()
        try:
            cached = source.cached(now)
            keys = cached if cached is not None else await in_thread(source.load, now)
            kid = jose.peek_header(assertion).get("kid")
            if isinstance(kid, str) and not any(key.kid == kid for key in keys):
                keys = await in_thread(source.load_unknown, kid, now)
        except (KeySourceError, jose.JoseError) as exc:
            # Uniform to the caller (no signature was checked yet: it may not hold the key);
            # the operator learns why from the log.
            logger.warning("client %s: its jwks_uri gave no usable key: %s", client.client_id, exc)
            raise InvalidClientError() from None
        return keys

    def _jwks_client(self, url: str) -> JWKSClient:
        with self._lock:
            found = self._jwks_clients.get(url)
            if found is None:
                found = JWKSClient(
                    url,
                    algorithms=ASSERTION_ALGORITHMS,
                    timeout=_JWKS_TIMEOUT,
                    transport=self.transport,
                    clock=self.clock,
                )
                if len(self._jwks_clients) >= 1024:
                    self._jwks_clients.clear()
                self._jwks_clients[url] = found
            return found

    def close(self) -> None:
        """Close the JWKS clients' connections."""
        with self._lock:
            for source in self._jwks_clients.values():
                source.close()
            self._jwks_clients.clear()
