"""The client registry's rules: registration, secret rotation, disabling (RFC 6749 section 2).

A client is public (a browser or native app that cannot keep a secret: ``none``) or
confidential (``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``).
What a client may ask for is fixed here, at registration, so the token endpoint only compares:
its grant types, scopes, audiences, and redirect URIs (matched exactly, character for
character, RFC 9700 2.1; the authorization endpoint built on this registry relies on that).

Secrets are 256 random bits (``secrets.token_urlsafe(32)``), shown once at creation and at
rotation, and stored as ``sha256:`` + their SHA-256. A slow password hash (Argon2) exists to
make guessing a *low-entropy* secret expensive; a 256-bit random secret cannot be guessed or
brute-forced from its SHA-256 at any cost, so a slow hash would only add ~50 ms and a memory
spike to every client_credentials request (and a denial-of-service lever) for no gain. The
comparison is ``hmac.compare_digest`` of the digests (constant time), and an unknown client
costs the same digest as a known one.
"""

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from jotauth import jose
from jotauth.issuer.errors import ConflictError, InvalidRequestError, NotFoundError
from jotauth.issuer.services.id_tokens import ID_TOKEN_ALG, ID_TOKEN_ALGORITHMS
from jotauth.issuer.services.turns import in_thread
from jotauth.issuer.settings import MAX_ACCESS_TTL
from jotauth.store.errors import DuplicateError
from jotauth.store.records import ClientRecord
from jotauth.store.sql import SQLStore

__all__ = [
    "AUTH_METHODS",
    "GRANT_TYPES",
    "SECRET_METHODS",
    "ClientService",
    "ClientSpec",
    "check_secret",
    "hash_secret",
    "new_client_id",
    "new_secret",
    "validate_spec",
]

AUTH_METHODS: Final = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_METHODS: Final = ("client_secret_basic", "client_secret_post")
GRANT_TYPES: Final = ("authorization_code", "client_credentials", "password", "refresh_token")
ASSERTION_ALGORITHMS: Final = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448",
)  # fmt: skip
"""``private_key_jwt`` takes public-key signatures only: a shared secret would be
``client_secret_jwt``, which this server does not offer (the secret would sit on both sides)."""
_SCOPE_TOKEN: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")  # RFC 6749 3.3
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_DUMMY_HASH: Final = "sha256:" + "0" * 64
_MAX_LIST: Final = 64


@dataclass(frozen=True)
class ClientSpec:
    """What an administrator registers; validated by ``validate_spec``."""

    name: str
    type: str = "confidential"
    token_endpoint_auth_method: str | None = None
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("client_credentials",)
    scopes: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    first_party: bool = False
    access_ttl: int | None = None
    id_token_signed_response_alg: str | None = None
    """RS256 (the default, which OIDC requires every provider to offer), ES256 or EdDSA."""
    tier: str | None = None
    rate_limit: int | None = None
    rate_window: int | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    backchannel_logout_uri: str | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    """Where RP-initiated logout may send the browser afterwards (matched exactly)."""
    dpop_bound_access_tokens: bool = False
    """RFC 9449 5.2: every token request must carry a DPoP proof (sender-constrained only)."""


def new_client_id() -> str:
    """A client identifier: 128 random bits (unguessable, so ids are not a list), in hex: an id
    is typed as a command's argument, and a URL-safe one may start with ``-`` and be read as an
    option (``jotauth client show -Xy...``)."""
    return secrets.token_hex(16)


def new_secret() -> str:
    """A client secret: 256 random bits."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a client secret (see the module docstring for why SHA-256)."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_secret(secret: str, stored: str | None) -> bool:
    """Whether ``secret`` hashes to ``stored``, in constant time; a None ``stored`` (unknown
    client, or one without a secret) costs the same and is False."""
    expected = stored if stored is not None else _DUMMY_HASH
    match = hmac.compare_digest(hash_secret(secret).encode(), expected.encode())
    return match and stored is not None


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidRequestError(f"{what} must be a list of strings")
    items = tuple(value)
    if len(items) > _MAX_LIST or not all(isinstance(item, str) and item for item in items):
        raise InvalidRequestError(f"{what} must be at most {_MAX_LIST} non-empty strings")
    return tuple(dict.fromkeys(items))


def check_uri(uri: str, what: str, *, native: bool = False) -> str:
    """An absolute URI without fragment: ``https``, ``http`` only to this machine, or (for a
    native app's redirect, RFC 8252 7.1) a private-use scheme in reverse-domain form."""
    if len(uri) > 2048 or not uri.isascii() or any(c <= " " or c == "\x7f" for c in uri):
        raise InvalidRequestError(f"{what} must be a URI of at most 2048 printable characters")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise InvalidRequestError(f"{what} {uri!r} is not a valid URI") from None
    if "#" in uri:
        raise InvalidRequestError(f"{what} {uri!r} must not have a fragment (RFC 6749 3.1.2)")
    if parts.scheme == "https" and host:
        return uri
    if parts.scheme == "http" and host in _LOOPBACK:
        return uri
    if native and "." in parts.scheme and parts.scheme not in ("http", "https"):
        return uri
    raise InvalidRequestError(
        f"{what} {uri!r} must be an absolute https URI (http only to 127.0.0.1/localhost"
        + (", or a reverse-domain private-use scheme for native apps)" if native else ")")
    )


def _check_jwks(jwks: Any) -> dict[str, Any]:
    if not isinstance(jwks, dict):
        raise InvalidRequestError("jwks must be a JWK Set object")
    try:
        keys = jose.KeySet.from_jwks(jwks, algorithms=ASSERTION_ALGORITHMS, strict=True)
    except jose.JoseError as exc:
        raise InvalidRequestError(f"jwks is not usable: {exc}") from None
    if not len(keys) or any(key.is_private for key in keys):
        raise InvalidRequestError("jwks must hold the client's public signing keys only")
    return {"keys": [key.to_jwk() for key in keys]}


def _bounded(value: Any, what: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidRequestError(f"{what} must be an integer from {low} to {high}")
    return value


def validate_spec(spec: ClientSpec) -> dict[str, Any]:
    """The columns of a new client for ``spec``, or InvalidRequestError saying what is wrong.

    Rules: a public client authenticates with ``none`` and may not use client_credentials
    (it has no credentials); a confidential one needs a secret method or ``private_key_jwt``
    with exactly one of ``jwks``/``jwks_uri``; ``authorization_code`` needs a redirect URI;
    ``refresh_token`` only comes with a grant that starts a user's session.
    """
    if not 0 < len(spec.name.strip()) <= 128:
        raise InvalidRequestError("name must be 1 to 128 characters")
    if spec.type not in ("public", "confidential"):
        raise InvalidRequestError("type must be public or confidential")
    method = spec.token_endpoint_auth_method or (
        "none" if spec.type == "public" else "client_secret_basic"
    )
    if method not in AUTH_METHODS:
        raise InvalidRequestError(f"token_endpoint_auth_method must be one of {AUTH_METHODS}")
    if (spec.type == "public") != (method == "none"):
        raise InvalidRequestError(
            "a public client authenticates with none; a confidential one with "
            "client_secret_basic, client_secret_post or private_key_jwt"
        )
    grants = _strings(spec.grant_types, "grant_types")
    if not grants or not set(grants) <= set(GRANT_TYPES):
        raise InvalidRequestError(f"grant_types must be some of {GRANT_TYPES}")
    if spec.type == "public" and "client_credentials" in grants:
        raise InvalidRequestError("a public client cannot use client_credentials")
    if "refresh_token" in grants and not {"authorization_code", "password"} & set(grants):
        raise InvalidRequestError("refresh_token needs authorization_code or password")
    redirects = tuple(
        check_uri(uri, "redirect_uri", native=True)
        for uri in _strings(spec.redirect_uris, "redirect_uris")
    )
    if "authorization_code" in grants and not redirects:
        raise InvalidRequestError("authorization_code needs at least one redirect_uri")
    scopes = _strings(spec.scopes, "scopes")
    for scope in scopes:
        if not _SCOPE_TOKEN.match(scope):
            raise InvalidRequestError(f"scope {scope[:40]!r} is not an RFC 6749 scope token")
    audiences = _strings(spec.audiences, "audiences")
    if any(len(audience) > 256 for audience in audiences):
        raise InvalidRequestError("an audience is at most 256 characters")
    if "client_credentials" in grants and not audiences:
        raise InvalidRequestError("client_credentials needs at least one audience")
    if spec.tier is not None and not _NAME.match(spec.tier):
        raise InvalidRequestError("tier must be a name of letters, digits, '.', '_', '-'")
    rate_limit = _bounded(spec.rate_limit, "rate_limit", 1, 10**9)
    rate_window = _bounded(spec.rate_window, "rate_window", 1, 86400)
    if rate_limit is not None and spec.tier is None:
        raise InvalidRequestError("rate_limit belongs to a tier: give tier too")
    if rate_limit is None and rate_window is not None:
        raise InvalidRequestError("rate_window needs rate_limit")
    jwks, jwks_uri = spec.jwks, spec.jwks_uri
    if method == "private_key_jwt":
        if (jwks is None) == (jwks_uri is None):
            raise InvalidRequestError("private_key_jwt needs exactly one of jwks and jwks_uri")
    elif jwks is not None or jwks_uri is not None:
        raise InvalidRequestError("jwks and jwks_uri are for private_key_jwt clients only")
    id_alg = spec.id_token_signed_response_alg
    if id_alg is not None and id_alg not in ID_TOKEN_ALGORITHMS:
        raise InvalidRequestError(
            f"id_token_signed_response_alg must be one of {', '.join(ID_TOKEN_ALGORITHMS)}, "
            f"not {str(id_alg)[:40]!r}"
        )
    logout = spec.backchannel_logout_uri
    after_logout = tuple(
        check_uri(uri, "post_logout_redirect_uri", native=True)
        for uri in _strings(spec.post_logout_redirect_uris, "post_logout_redirect_uris")
    )
    return {
        "name": spec.name.strip(),
        "type": spec.type,
        "token_endpoint_auth_method": method,
        "redirect_uris": list(redirects),
        "grant_types": list(grants),
        "scopes": list(scopes),
        "audiences": list(audiences),
        "first_party": bool(spec.first_party),
        "access_ttl": _bounded(spec.access_ttl, "access_ttl", 1, MAX_ACCESS_TTL),
        "id_token_signed_response_alg": None if id_alg == ID_TOKEN_ALG else id_alg,
        "tier": spec.tier,
        "rate_limit": rate_limit,
        "rate_window": (rate_window or 60) if rate_limit is not None else None,
        "jwks": None if jwks is None else _check_jwks(jwks),
        "jwks_uri": None if jwks_uri is None else check_uri(jwks_uri, "jwks_uri"),
        "backchannel_logout_uri": None
        if logout is None
        else check_uri(logout, "backchannel_logout_uri"),
        "post_logout_redirect_uris": list(after_logout),
        "dpop_bound_access_tokens": bool(spec.dpop_bound_access_tokens),
    }


class ClientService:
    """Register, list, rotate and disable clients (the admin API and the CLI call these)."""

    def __init__(
        self,
        store: SQLStore,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 0.0,
    ) -> None:
        """``cache_seconds``: how long the servers' workers may keep a client's row
        (``JOTAUTH_CLIENT_CACHE_SECONDS``); a disabling revokes the tokens issued that long
        after it too, so no worker's older copy issues a token that outlives it."""
        self.store = store
        self.clock = clock
        self.cache_seconds = cache_seconds

    async def register(
        self, spec: ClientSpec, *, client_id: str | None = None
    ) -> tuple[ClientRecord, str | None]:
        """A new client and its secret (None unless it uses a secret method), shown once.

        ``client_id``: a chosen identifier (the demo's, a migration's); by default a random one.
        """
        values = validate_spec(spec)
        if client_id is not None and not _NAME.match(client_id):
            raise InvalidRequestError("client_id must be letters, digits, '.', '_', '-'")
        secret = new_secret() if values["token_endpoint_auth_method"] in SECRET_METHODS else None
        now = self.clock()
        record = ClientRecord(
            client_id=client_id or new_client_id(),
            secret_hash=None if secret is None else hash_secret(secret),
            created_at=now,
            secret_rotated_at=None if secret is None else now,
            **values,
        )
        try:
            await in_thread(self.store.create_client, record)
        except DuplicateError:
            raise ConflictError(f"a client {record.client_id!r} exists already") from None
        return record, secret

    async def advertised_scopes(self) -> list[str]:  # above ``list``, which shadows the builtin
        """Every scope an enabled client may ask for: what discovery lists as supported."""
        clients = await self.list(limit=1000)
        return sorted({scope for c in clients if not c.disabled for scope in c.scopes})

    async def get(self, client_id: str) -> ClientRecord:
        """The client, or NotFoundError."""
        found = await in_thread(self.store.get_client, client_id[:64])
        if found is None:
            raise NotFoundError(f"no client {client_id[:64]!r}")
        return found

    async def list(self, *, limit: int = 1000, after: str = "") -> list[ClientRecord]:
        """Clients in client_id order."""
        return await in_thread(self.store.list_clients, limit=limit, after=after)

    async def rotate_secret(self, client_id: str) -> tuple[ClientRecord, str]:
        """A new secret for a secret-using client (the old one stops working now), shown once."""
        client = await self.get(client_id)
        if client.token_endpoint_auth_method not in SECRET_METHODS:
            raise ConflictError(
                f"client {client_id!r} authenticates with {client.token_endpoint_auth_method}, "
                "not a secret"
            )
        secret = new_secret()
        updated = await in_thread(
            self.store.update_client,
            client.client_id,
            secret_hash=hash_secret(secret),
            secret_rotated_at=self.clock(),
        )
        if updated is None:  # deleted meanwhile
            raise NotFoundError(f"no client {client_id!r}")
        return updated, secret

    async def set_disabled(self, client_id: str, disabled: bool) -> ClientRecord:
        """Disable (no authentication succeeds, no token is issued) or re-enable a client."""
        client = await self.get(client_id)
        updated = await in_thread(
            self.store.set_client_disabled,
            client.client_id,
            disabled,
            now=self.clock(),
            ahead=self.cache_seconds,
        )
        if updated is None:
            raise NotFoundError(f"no client {client_id!r}")
        return updated

    async def update(self, client_id: str, spec: ClientSpec) -> ClientRecord:
        """Replace what a client may do; its id, secret and type stay."""
        client = await self.get(client_id)
        if spec.type != client.type:
            raise InvalidRequestError("a client's type cannot change; register a new client")
        values = validate_spec(spec)
        if (values["token_endpoint_auth_method"] in SECRET_METHODS) != (
            client.token_endpoint_auth_method in SECRET_METHODS
        ):
            raise InvalidRequestError("moving between a secret and a key method needs a new client")
        updated = await in_thread(self.store.update_client, client.client_id, **values)
        if updated is None:
            raise NotFoundError(f"no client {client_id!r}")
        return updated
