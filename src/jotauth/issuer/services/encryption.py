"""Encrypted access tokens: the published encryption keys of the audiences that want them.

``JOTAUTH_ENCRYPT_AUDIENCES`` maps an audience to where its service publishes its public
``use: enc`` key: a JWKS URL (fetched, cached after its Cache-Control, refetched when stale; a
failed refetch keeps the cached set) or a file holding a JWK or a JWK Set (read once, at start).
An access token whose ``aud`` is listed is then a nested JWT: signed by the key ring, encrypted
to that key, so only the service reads its claims. It fails closed: when no usable key can be
had, no token is issued for the audience (503), rather than one in the clear.
"""

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from jotauth import jose
from jotauth.guard.errors import KeySourceError
from jotauth.issuer.errors import ConfigurationError, IssuerError

__all__ = [
    "ENCRYPTION_ALGORITHMS",
    "AudienceEncryption",
    "EncryptionKeyUnavailableError",
    "parse_targets",
]

logger = logging.getLogger("jotauth.issuer")

ENCRYPTION_ALGORITHMS: Final = (
    "ECDH-ES+A256KW", "ECDH-ES+A192KW", "ECDH-ES+A128KW", "ECDH-ES", "RSA-OAEP-256", "RSA-OAEP",
)  # fmt: skip
"""Key management the issuer encrypts with: public-key only (a secret never sits in a JWKS),
never RSA1_5 (RFC 8725 3.2)."""
_DEFAULT_ALG: Final = {"EC": "ECDH-ES+A256KW", "OKP": "ECDH-ES+A256KW", "RSA": "RSA-OAEP-256"}
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class EncryptionKeyUnavailableError(IssuerError):
    """No usable encryption key for a listed audience: no token rather than a clear one."""

    code = "temporarily_unavailable"
    status = 503


def parse_targets(value: str) -> tuple[tuple[str, str], ...]:
    """``aud=source`` pairs of ``JOTAUTH_ENCRYPT_AUDIENCES`` (comma-separated), checked.

    A source is an ``https://`` JWKS URL (``http://`` only to this machine), or a file path.
    """
    pairs: dict[str, str] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        audience, sep, source = (part.strip() for part in item.partition("="))
        if not sep or not audience or not source:
            raise ConfigurationError(
                "JOTAUTH_ENCRYPT_AUDIENCES is a comma-separated list of audience=JWKS-URL or "
                f"audience=/path/to/jwk.json, not {item[:80]!r}"
            )
        if audience in pairs:
            raise ConfigurationError(f"JOTAUTH_ENCRYPT_AUDIENCES lists {audience!r} twice")
        if "://" in source:
            url = urlsplit(source)
            local = url.scheme == "http" and url.hostname in _LOCAL_HOSTS
            if url.scheme != "https" and not local:
                raise ConfigurationError(
                    f"JOTAUTH_ENCRYPT_AUDIENCES: the JWKS URL of {audience!r} must be https "
                    "(an attacker on the path could substitute its own key)"
                )
        pairs[audience] = source
    return tuple(pairs.items())


def _encryption_keys(document: Any, where: str) -> jose.KeySet:
    """The public encryption keys of a JWK or JWK Set, bound to an algorithm we encrypt with.

    Keys published without ``alg`` (RFC 7517 makes it optional) take RSA-OAEP-256 (RSA) or
    ECDH-ES+A256KW (EC, OKP). Signature keys, symmetric keys, RSA1_5 and PBES2 are left out.
    """
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if isinstance(document, Mapping) and "kty" in document:
        entries = [document]
    if not isinstance(entries, list):
        raise KeySourceError(f'{where} is neither a JWK nor a JWK Set (a "keys" array)')
    keys = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("use", "enc") != "enc":
            continue
        alg = entry.get("alg") or _DEFAULT_ALG.get(str(entry.get("kty")))
        if alg not in ENCRYPTION_ALGORITHMS:
            continue
        try:
            key = jose.Key.from_jwk({**entry, "use": "enc"}, alg=str(alg))
        except jose.JoseError as exc:
            logger.warning("jotauth.issuer: skipping an encryption key from %s: %s", where, exc)
            continue
        keys.append(key.public() if key.is_private else key)
    if not keys:
        raise KeySourceError(
            f"{where} has no usable encryption key (use enc; {', '.join(ENCRYPTION_ALGORITHMS)})"
        )
    return jose.KeySet(keys)


def _jwks_client() -> type[Any]:
    from jotauth.guard.jwks_client import JWKSClient  # httpx only when a URL is configured

    class EncryptionJWKSClient(JWKSClient):
        """The guard's cached JWKS client, keeping the encryption keys instead."""

        def _parse(self, document: Any, url: str) -> jose.KeySet:
            return _encryption_keys(document, f"the JWK Set at {url}")

    return EncryptionJWKSClient


class AudienceEncryption:
    """Which key an access token for an audience is encrypted to (None: not encrypted)."""

    def __init__(
        self,
        targets: tuple[tuple[str, str], ...],
        *,
        clock: Callable[[], float],
        transport: Any = None,
    ) -> None:
        self._clock = clock
        self._static: dict[str, jose.KeySet] = {}
        self._remote: dict[str, Any] = {}
        for audience, source in targets:
            if "://" in source:
                self._remote[audience] = _jwks_client()(source, transport=transport, clock=clock)
            else:
                self._static[audience] = self._load_file(audience, source)

    def __bool__(self) -> bool:
        return bool(self._static or self._remote)

    @staticmethod
    def _load_file(audience: str, source: str) -> jose.KeySet:
        try:
            document = json.loads(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(
                f"JOTAUTH_ENCRYPT_AUDIENCES: cannot read the key file of {audience!r}: "
                f"{exc.strerror}"
            ) from None
        except ValueError:
            raise ConfigurationError(
                f"JOTAUTH_ENCRYPT_AUDIENCES: the key file of {audience!r} is not JSON"
            ) from None
        try:
            return _encryption_keys(document, f"the key file of {audience!r}")
        except KeySourceError as exc:
            raise ConfigurationError(f"JOTAUTH_ENCRYPT_AUDIENCES: {exc}") from None

    def key_for(self, audience: Any) -> jose.Key | None:
        """The recipient key for a token's ``aud``, None when the audience is not listed.

        The first usable key of the set is used: a service rotating its key publishes the
        new one first and keeps the old one (to decrypt tokens still alive) after it.
        """
        names = [audience] if isinstance(audience, str) else list(audience or ())
        listed = [name for name in names if name in self._static or name in self._remote]
        if not listed:
            return None
        if len(listed) > 1:
            raise ConfigurationError(
                "a token can be encrypted to one audience only; it names "
                f"{', '.join(map(repr, listed))}"
            )
        name = listed[0]
        keys = self._static.get(name)
        if keys is None:
            try:
                keys = self._remote[name].load(self._clock())
            except KeySourceError as exc:
                logger.warning("jotauth.issuer: no encryption key for %r: %s", name, exc)
                raise EncryptionKeyUnavailableError(
                    f"the encryption key of audience {name!r} is unavailable; retry shortly"
                ) from None
        return next(iter(keys))

    def close(self) -> None:
        """Close the HTTP clients."""
        for client in self._remote.values():
            client.close()
