"""The auth server's settings, read once from ``JOTAUTH_*`` variables (and a file), frozen.

A frozen dataclass rather than module globals, so tests build one per case and two apps in one
process never share configuration. ``JOTAUTH_CONFIG_FILE`` names a file of ``KEY=value`` lines
(the same names as the environment); real environment variables win over the file.
"""

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.services.encryption import parse_targets
from jotauth.store import DEFAULT_DATABASE_URL

__all__ = ["MAX_ACCESS_TTL", "MODES", "Settings", "decode_master_key", "load_env_file"]

MODES: Final = ("production", "dev", "demo")
MAX_ACCESS_TTL: Final = 86400
"""The longest access token lifetime, seconds. Guards keep a user's not-before (logout
everywhere, password change, disabling) 24 h (``jotauth.guard.RevocationView``): a token
living longer and issued before it would be accepted again once the entry is dropped."""
_ASYMMETRIC: Final = (
    "EdDSA", "Ed25519", "Ed448",  # one signature; "Ed25519"/"Ed448" are RFC 9864's names
    "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
)  # fmt: skip
_HMAC: Final = ("HS256", "HS384", "HS512")


def decode_master_key(value: str) -> bytes:
    """The 32-byte AES-256 key encoded in ``value`` (base64url or base64), or ConfigurationError."""
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32 or len(set(raw)) < 8:
        raise ConfigurationError(
            "JOTAUTH_MASTER_KEY must be 32 random bytes in base64url; make one with "
            "`jotauth keys master`"
        )
    return raw


def load_env_file(path: str | Path) -> dict[str, str]:
    """``KEY=value`` lines of a config file; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read JOTAUTH_CONFIG_FILE {path}: {exc.strerror}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().startswith("JOTAUTH_"):
            raise ConfigurationError(f"{path}:{number}: expected JOTAUTH_NAME=value")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be >= {minimum}, not {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob of the auth server. Build with ``from_env`` or directly (tests)."""

    database_url: str = DEFAULT_DATABASE_URL
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "jotauth"
    mode: str = "production"
    master_key: bytes | None = dataclasses.field(default=None, repr=False)
    signing_alg: str = "EdDSA"
    hmac_secret: bytes | None = dataclasses.field(default=None, repr=False)
    access_ttl: int = 900
    refresh_ttl: int = 30 * 86400
    refresh_idle_ttl: int = 7 * 86400
    refresh_grace: int = 10
    key_rotation_days: int = 30
    registration_open: bool = False
    service_tokens: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    argon2_time_cost: int = 2
    argon2_memory_cost: int = 19456
    argon2_parallelism: int = 1
    max_body_bytes: int = 65536
    body_timeout: int = 10
    """Seconds a request body may take to arrive in full; a stalled body answers 408."""
    poll_interval: int = 5
    default_client_id: str = "jotauth"
    migrate_on_start: bool = True
    redis_url: str | None = None
    db_connect_timeout: int = 5
    """Seconds to set up one database connection (libpq ``connect_timeout``)."""
    db_statement_timeout: int = 10
    """Seconds one statement may take: PostgreSQL's ``statement_timeout``, and a client-side
    deadline that also holds when the server is frozen (``jotauth.store.sql.deadline``)."""
    db_pool_timeout: int = 5
    """Seconds a request waits for a free pooled connection before answering 503."""
    db_startup_wait: int = 30
    """Seconds ``jotauth serve`` waits for the database to answer before giving up."""
    health_timeout: int = 3
    """Seconds ``/healthz`` waits for the database before answering 503."""
    encrypt_audiences: tuple[tuple[str, str], ...] = ()
    """``(audience, JWKS URL or JWK file)`` pairs: access tokens for these audiences are nested
    JWTs encrypted to the audience's published ``use: enc`` key. Empty (the default): none."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigurationError(f"JOTAUTH_MODE must be one of {', '.join(MODES)}")
        if self.signing_alg not in _ASYMMETRIC + _HMAC:
            raise ConfigurationError(f"JOTAUTH_SIGNING_ALG {self.signing_alg!r} is not supported")
        if self.signing_alg in _HMAC and (self.hmac_secret is None or len(self.hmac_secret) < 32):
            raise ConfigurationError(
                f"{self.signing_alg} needs JOTAUTH_HMAC_SECRET of at least 32 bytes; "
                "asymmetric EdDSA (the default) needs no shared secret"
            )
        if self.access_ttl < 1 or self.refresh_ttl < 1 or self.refresh_idle_ttl < 1:
            raise ConfigurationError("token lifetimes must be at least one second")
        if self.access_ttl > MAX_ACCESS_TTL:
            raise ConfigurationError(
                f"JOTAUTH_ACCESS_TTL must be at most {MAX_ACCESS_TTL} (24 h), not "
                f"{self.access_ttl}: guards forget a user's logout-everywhere after 24 h, so a "
                "longer-lived access token would come back to life; keep access tokens short "
                "and let refresh tokens (JOTAUTH_REFRESH_TTL) carry long sessions"
            )
        if self.argon2_memory_cost < 8 or self.argon2_time_cost < 1 or self.argon2_parallelism < 1:
            raise ConfigurationError("Argon2 parameters are too small")

    @property
    def engine_options(self) -> dict[str, float]:
        """The database timeouts, as ``SQLStore.from_url`` / ``make_engine`` take them."""
        return {
            "connect_timeout": self.db_connect_timeout,
            "statement_timeout": self.db_statement_timeout,
            "pool_timeout": self.db_pool_timeout,
        }

    @property
    def rotation_period(self) -> int:
        """Seconds an active key signs before the scheduled rotation."""
        return self.key_rotation_days * 86400

    @property
    def is_production(self) -> bool:
        """Whether the strict start-up checks (a real master key) apply."""
        return self.mode == "production"

    def replace(self, **changes: Any) -> "Settings":
        """A copy with ``changes`` applied (the dataclass is frozen)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Settings from ``env`` (default ``os.environ``) plus ``JOTAUTH_CONFIG_FILE``."""
        source = dict(os.environ if env is None else env)
        config_file = source.get("JOTAUTH_CONFIG_FILE")
        merged = {**load_env_file(config_file), **source} if config_file else source
        master = merged.get("JOTAUTH_MASTER_KEY")
        secret = merged.get("JOTAUTH_HMAC_SECRET")
        tokens = merged.get("JOTAUTH_SERVICE_TOKENS", "")
        values: dict[str, Any] = {
            "database_url": merged.get("JOTAUTH_DATABASE_URL") or cls.database_url,
            "issuer": (merged.get("JOTAUTH_ISSUER") or cls.issuer).rstrip("/"),
            "audience": merged.get("JOTAUTH_AUDIENCE") or cls.audience,
            "mode": (merged.get("JOTAUTH_MODE") or cls.mode).strip().lower(),
            "master_key": decode_master_key(master) if master else None,
            "signing_alg": merged.get("JOTAUTH_SIGNING_ALG") or cls.signing_alg,
            "hmac_secret": secret.encode() if secret else None,
            "access_ttl": _int(merged, "JOTAUTH_ACCESS_TTL", cls.access_ttl, 1),
            "refresh_ttl": _int(merged, "JOTAUTH_REFRESH_TTL", cls.refresh_ttl, 1),
            "refresh_idle_ttl": _int(merged, "JOTAUTH_REFRESH_IDLE_TTL", cls.refresh_idle_ttl, 1),
            "refresh_grace": _int(merged, "JOTAUTH_REFRESH_GRACE", cls.refresh_grace),
            "key_rotation_days": _int(
                merged, "JOTAUTH_KEY_ROTATION_DAYS", cls.key_rotation_days, 1
            ),
            "registration_open": _bool(merged, "JOTAUTH_REGISTRATION_OPEN", False),
            "service_tokens": tuple(t.strip() for t in tokens.split(",") if t.strip()),
            "argon2_time_cost": _int(merged, "JOTAUTH_ARGON2_TIME_COST", cls.argon2_time_cost, 1),
            "argon2_memory_cost": _int(
                merged, "JOTAUTH_ARGON2_MEMORY_COST", cls.argon2_memory_cost, 8
            ),
            "argon2_parallelism": _int(
                merged, "JOTAUTH_ARGON2_PARALLELISM", cls.argon2_parallelism, 1
            ),
            "max_body_bytes": _int(merged, "JOTAUTH_MAX_BODY_BYTES", cls.max_body_bytes, 1024),
            "body_timeout": _int(merged, "JOTAUTH_BODY_TIMEOUT", cls.body_timeout, 1),
            "poll_interval": _int(merged, "JOTAUTH_POLL_INTERVAL", cls.poll_interval, 1),
            "migrate_on_start": _bool(merged, "JOTAUTH_MIGRATE_ON_START", True),
            "redis_url": merged.get("JOTAUTH_REDIS_URL") or None,
            "db_connect_timeout": _int(
                merged, "JOTAUTH_DB_CONNECT_TIMEOUT", cls.db_connect_timeout, 1
            ),
            "db_statement_timeout": _int(
                merged, "JOTAUTH_DB_STATEMENT_TIMEOUT", cls.db_statement_timeout, 1
            ),
            "db_pool_timeout": _int(merged, "JOTAUTH_DB_POOL_TIMEOUT", cls.db_pool_timeout, 1),
            "db_startup_wait": _int(merged, "JOTAUTH_DB_STARTUP_WAIT", cls.db_startup_wait),
            "health_timeout": _int(merged, "JOTAUTH_HEALTH_TIMEOUT", cls.health_timeout, 1),
            "encrypt_audiences": parse_targets(merged.get("JOTAUTH_ENCRYPT_AUDIENCES") or ""),
        }
        values.update(overrides)
        return cls(**values)
