"""Every ``JOTAUTH_*`` setting of the auth server, in one frozen pydantic-settings model.

One object, one reader, one rule for every variable:

- ``Settings.from_env()`` is the only place the server reads its environment: ``os.environ``
  over the optional ``JOTAUTH_CONFIG_FILE`` (``KEY=value`` lines; a set variable wins over the
  file). ``Settings(...)`` reads nothing but its arguments, so a test or an embedding program
  gets exactly the configuration it passes and two apps in one process never share one.
- An empty or whitespace-only value means "unset" and takes the default. The defaults are the
  protected settings, so a variable emptied in a deployment template (``JOTAUTH_AUDIT_LOG=``)
  can never switch a protection off; turning one off takes a word (``false``).
- A bad value stops start-up with a ``ConfigurationError`` naming the variable and what it
  takes, never at the first request and never as a pydantic traceback.

Casting is pydantic's (pydantic-settings reads the variables; ``NoDecode`` keeps its JSON
decoding off the comma-separated lists). What is jotauth's own and written here: the rules
between fields (HMAC secret for ``HS*``, CORS wildcard with credentials, ``__Host-`` cookie
names), the master key's encoding, and the dev-on-plain-http cookie adjustment.
"""

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal, Self

import limits
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from jotauth.errors import MissingDependencyError

try:
    from pydantic_settings import (
        BaseSettings,
        EnvSettingsSource,
        NoDecode,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
    )
except ModuleNotFoundError as exc:
    raise MissingDependencyError(
        "the auth server's settings need pydantic-settings", "issuer", exc
    ) from None

from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.services.encryption import parse_targets
from jotauth.store import DEFAULT_DATABASE_URL

__all__ = [
    "MAX_ACCESS_TTL",
    "MODES",
    "Settings",
    "decode_master_key",
    "load_env_file",
    "variable_name",
]

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
_PREFIX: Final = "JOTAUTH_"

CookieMode = Literal["off", "on", "always"]
SameSite = Literal["strict", "lax"]


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
    """``KEY=value`` lines of a config file; blank lines and ``#`` comments are skipped.

    Read by hand rather than by python-dotenv, which skips a malformed line with a log
    warning: a line of this file that is not ``JOTAUTH_NAME=value`` stops start-up instead.
    """
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
        if not sep or not key.strip().startswith(_PREFIX):
            raise ConfigurationError(f"{path}:{number}: expected JOTAUTH_NAME=value")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _env(name: str) -> Any:
    """A field read from ``name`` rather than ``JOTAUTH_<FIELD>``; the field name works in code."""
    return AliasChoices(name)


def _limit_field(default: str, variable: str, meaning: str) -> Any:
    return Field(default, validation_alias=_env(variable), description=meaning)


def _secret(default: Any = None, *, meaning: str) -> Any:
    """A field never shown by ``repr``/``str`` nor echoed in an error (a password, token, key)."""
    return Field(default, repr=False, description=meaning)


def _plain(name: str) -> str:
    for prefix in ("__Host-", "__Secure-"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _split(value: Any) -> Any:
    """A comma-separated variable as a tuple of its non-empty, stripped items."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``.

    Values are stripped, and an empty one is dropped before any field sees it: the one rule
    for empty values (pydantic-settings' ``env_ignore_empty`` drops ``""`` but not ``" "``).
    ``_load_env_vars`` is the source's one hook for where variables come from; the library
    has no public parameter for a mapping, and tests/issuer/test_settings.py reads every
    variable through this class, so a release that moves the hook fails there first.
    """

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = {k: v.strip() for k, v in env.items() if v.strip()}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in self._given.items()}


class Settings(BaseSettings):
    """Every knob of the auth server. Build with ``from_env`` (the server) or directly (tests).

    ``docs/issuer.md`` has one row per field (``tests/issuer/test_settings_docs.py``).
    """

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX,
        case_sensitive=False,
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=False,
    )

    refresh_path: ClassVar[str] = "/refresh"
    """The refresh route, where the refresh cookie is sent: a fact of the API, not a setting."""

    # --- the issuer -------------------------------------------------------------------------
    database_url: str = _secret(
        DEFAULT_DATABASE_URL, meaning="SQLAlchemy URL (may hold the database password)"
    )
    issuer: str = Field("http://127.0.0.1:8000", description="the iss claim, base of URLs")
    audience: str = Field("jotauth", description="the aud claim of access tokens")
    mode: Literal["production", "dev", "demo"] = "production"
    master_key: bytes | None = _secret(meaning="32 random bytes sealing private keys")
    signing_alg: str = "EdDSA"
    hmac_secret: bytes | None = _secret(meaning="the shared secret of HS*")
    access_ttl: int = Field(900, ge=1)
    refresh_ttl: int = Field(30 * 86400, ge=1)
    refresh_idle_ttl: int = Field(7 * 86400, ge=1)
    refresh_grace: int = Field(10, ge=0)
    key_rotation_days: int = Field(30, ge=1)
    registration_open: bool = False
    service_tokens: Annotated[tuple[str, ...], NoDecode] = _secret(
        (), meaning="comma-separated static secrets for the revocation feed"
    )
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_cost: int = Field(19456, ge=8)
    argon2_parallelism: int = Field(1, ge=1)
    max_body_bytes: int = Field(65536, ge=1024)
    body_timeout: int = Field(10, ge=1)
    """Seconds a request body may take to arrive in full; a stalled body answers 408."""
    poll_interval: int = Field(5, ge=1)
    migrate_on_start: bool = True
    redis_url: str | None = _secret(meaning="Redis for revocation push and shared counters")
    db_connect_timeout: int = Field(5, ge=1)
    """Seconds to set up one database connection (libpq ``connect_timeout``)."""
    db_statement_timeout: int = Field(10, ge=1)
    """Seconds one statement may take: PostgreSQL's ``statement_timeout``, and a client-side
    deadline that also holds when the server is frozen (``jotauth.store.sql.deadline``)."""
    db_pool_timeout: int = Field(5, ge=1)
    """Seconds a request waits for a free pooled connection before answering 503."""
    db_startup_wait: int = Field(30, ge=0)
    """Seconds ``jotauth serve`` waits for the database to answer before giving up."""
    health_timeout: int = Field(3, ge=1)
    """Seconds ``/healthz`` waits for the database before answering 503."""
    password_grant: bool | None = None
    """Whether ``/oauth/token`` takes ``grant_type=password`` (``JOTAUTH_PASSWORD_GRANT``).
    None (the default): on in demo mode only. RFC 9700 2.4 says the grant MUST NOT be used:
    it hands the user's password to the client. ``/login`` (first-party JSON) is not this."""
    encrypt_audiences: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()
    """``(audience, JWKS URL or JWK file)`` pairs: access tokens for these audiences are nested
    JWTs encrypted to the audience's published ``use: enc`` key. Empty (the default): none."""
    dpop_nonce: bool = False
    """RFC 9449 8: DPoP proofs at the token endpoint, ``/login`` and ``/refresh`` must carry a
    nonce this server handed out (``DPoP-Nonce``), which bounds how far ahead a stolen key's
    holder can make proofs. Off by default: one more round trip for every client."""
    dpop_nonce_interval: int = Field(300, ge=10, le=86400)
    """Seconds one DPoP nonce is current; the previous one is still accepted (stateless: an
    HMAC of the time slot under a key derived from the master key, the same on every
    instance that shares ``JOTAUTH_MASTER_KEY``)."""
    default_client_id: ClassVar[str] = "jotauth"
    """The OAuth client of the first-party login: a fact of the API, not a setting."""
    audit_retention_days: int = Field(90, ge=0)
    """Days audit events are kept; 0 keeps them forever (an explicit opt-out)."""
    retention_interval: int = Field(600, ge=0)
    """Seconds between the server's retention runs (``jotauth.issuer.retention``); 0: none
    in the server, only ``jotauth db purge``."""
    retention_batch: int = Field(500, ge=1)
    """Rows one retention batch deletes at most (one short transaction each)."""
    client_cache_seconds: float = Field(5.0, ge=0, le=60, allow_inf_nan=False)
    """Seconds a worker keeps a client's row for authenticating it (``ClientCache``): a
    client disabled or a secret rotated by another process still works here that long; in
    this process at once. 0: every request reads the database."""
    revocation_cache_seconds: float = Field(2.0, ge=0, le=60, allow_inf_nan=False)
    """Seconds introspection's in-memory view of the revocation feed may lag another
    process's revocation (``FeedView``); this process's own revocations count at once. 0:
    every introspected service token is checked in the database."""

    # --- browser origins and cookies -------------------------------------------------------
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    cors_credentials: bool = True
    cookie_mode: CookieMode = "off"
    cookie_insecure_dev: bool = False
    """Drop Secure and the ``__Host-``/``__Secure-`` prefixes (plain-http development only).
    Unset, it is true for a dev or demo server on an ``http://`` issuer and false otherwise."""
    cookie_samesite: SameSite = "strict"
    access_cookie: str = Field(
        "__Host-access_token", validation_alias=_env("JOTAUTH_COOKIE_ACCESS_NAME")
    )
    refresh_cookie: str = Field(
        "__Secure-refresh_token", validation_alias=_env("JOTAUTH_COOKIE_REFRESH_NAME")
    )
    csrf_cookie: str = "__Host-csrf_token"
    csrf_header: str = "X-CSRF-Token"

    # --- brute-force limits ----------------------------------------------------------------
    ratelimit_enabled: bool = True
    account_limit: str = _limit_field(
        "5 per 15 minutes", "JOTAUTH_RATELIMIT_ACCOUNT", "failed logins per account and address"
    )
    account_any_limit: str = _limit_field(
        "20 per hour", "JOTAUTH_RATELIMIT_ACCOUNT_ANY", "failed logins per account"
    )
    register_limit: str = _limit_field(
        "5 per 15 minutes", "JOTAUTH_RATELIMIT_REGISTER", "sign-up attempts per username"
    )
    refresh_limit: str = _limit_field(
        "5 per 15 minutes", "JOTAUTH_RATELIMIT_REFRESH", "failed refreshes per user and family"
    )
    ip_burst: float = Field(
        20, ge=1, allow_inf_nan=False, validation_alias=_env("JOTAUTH_RATELIMIT_IP_BURST")
    )
    ip_rate: float = Field(
        0.5, gt=0, allow_inf_nan=False, validation_alias=_env("JOTAUTH_RATELIMIT_IP_RATE")
    )
    ratelimit_redis_url: str | None = _secret(meaning="shared counters; unset: JOTAUTH_REDIS_URL")
    """Unset, the limits share ``redis_url`` (memory when that is unset too)."""

    # --- alerts, metrics, audit, headers ---------------------------------------------------
    alert_webhook_url: str | None = _secret(meaning="POST alerts here (may hold a token)")
    alert_webhook_secret: str | None = _secret(meaning="HMAC-SHA256 key of the alert POSTs")
    alert_burst_account: str = _limit_field(
        "4 per 5 minutes", "JOTAUTH_ALERT_LOGIN_BURST_ACCOUNT", "failed logins per account"
    )
    alert_burst_ip: str = _limit_field(
        "30 per 5 minutes", "JOTAUTH_ALERT_LOGIN_BURST_IP", "failed logins per address"
    )
    alert_retries: int = Field(5, ge=0)
    alert_backoff: float = Field(0.5, ge=0, allow_inf_nan=False)
    alert_timeout: float = Field(5.0, gt=0, allow_inf_nan=False)
    metrics_enabled: bool = True
    metrics_token: str | None = _secret(meaning="bearer secret for /metrics")
    metrics_public: bool = False
    audit_log: bool = True
    hsts_seconds: int = Field(31_536_000, ge=0)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _configuration_error(exc) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: ``from_env`` is the one reader of the environment."""
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Settings from ``env`` (default ``os.environ``) over ``JOTAUTH_CONFIG_FILE``.

        ``overrides`` (field names) win over both: what a command line decided.
        """
        # Empty values are dropped before the merge: an emptied variable is unset, so it
        # neither hides the file's value nor reaches a field.
        source = {k: v for k, v in (os.environ if env is None else env).items() if v.strip()}
        config_file = source.get("JOTAUTH_CONFIG_FILE", "").strip()
        merged = {**load_env_file(config_file), **source} if config_file else source
        values = _MappingSource(cls, merged)()
        return cls(**{**values, **overrides})

    # --- one field at a time ---------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        """The one rule for empty values, for arguments as for variables."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("mode", "cookie_mode", "cookie_samesite", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("issuer", mode="after")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("master_key", mode="before")
    @classmethod
    def _master_key(cls, value: Any) -> Any:
        return decode_master_key(value) if isinstance(value, str) else value

    @field_validator("hmac_secret", mode="before")
    @classmethod
    def _hmac_secret(cls, value: Any) -> Any:
        return value.encode() if isinstance(value, str) else value

    @field_validator("signing_alg", mode="after")
    @classmethod
    def _signing_alg(cls, value: str) -> str:
        if value not in _ASYMMETRIC + _HMAC:
            raise ConfigurationError(f"JOTAUTH_SIGNING_ALG {value!r} is not supported")
        return value

    @field_validator("service_tokens", mode="before")
    @classmethod
    def _service_tokens(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("encrypt_audiences", mode="before")
    @classmethod
    def _encrypt_audiences(cls, value: Any) -> Any:
        return parse_targets(value) if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: Any) -> Any:
        origins = _split(value)
        if not isinstance(origins, tuple):
            return origins
        origins = tuple(str(o).rstrip("/") for o in origins)
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ConfigurationError(
                    "JOTAUTH_CORS_ORIGINS entries are origins like https://app.example.com, "
                    f"not {origin!r}"
                )
        return origins

    @field_validator(
        "account_limit",
        "account_any_limit",
        "register_limit",
        "refresh_limit",
        "alert_burst_account",
        "alert_burst_ip",
        mode="after",
    )
    @classmethod
    def _limit(cls, value: str, info: Any) -> str:
        variable = variable_name(info.field_name)
        try:
            parsed = limits.parse(value)
        except ValueError:
            raise ConfigurationError(
                f'{variable} must read like "5 per 15 minutes", not {value!r}'
            ) from None
        if parsed.amount < 1:
            raise ConfigurationError(f"{variable} must allow at least 1, not {value!r}")
        return value.strip()

    # --- the rules between fields ----------------------------------------------------------

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.signing_alg in _HMAC and (self.hmac_secret is None or len(self.hmac_secret) < 32):
            raise ConfigurationError(
                f"{self.signing_alg} needs JOTAUTH_HMAC_SECRET of at least 32 bytes; "
                "asymmetric EdDSA (the default) needs no shared secret"
            )
        if self.access_ttl > MAX_ACCESS_TTL:
            raise ConfigurationError(
                f"JOTAUTH_ACCESS_TTL must be at most {MAX_ACCESS_TTL} (24 h), not "
                f"{self.access_ttl}: guards forget a user's logout-everywhere after 24 h, so a "
                "longer-lived access token would come back to life; keep access tokens short "
                "and let refresh tokens (JOTAUTH_REFRESH_TTL) carry long sessions"
            )
        if "*" in self.cors_origins and self.cors_credentials:
            raise ConfigurationError(
                'JOTAUTH_CORS_ORIGINS="*" cannot be combined with credentials: browsers refuse '
                "a wildcard origin on credentialed requests. List the origins explicitly, or "
                "set JOTAUTH_CORS_CREDENTIALS=false for a public, cookie-less API."
            )
        # Derived values are set past the frozen guard (object.__setattr__) and stay out of
        # model_fields_set, so ``replace`` derives them again from the new values.
        if "cookie_insecure_dev" not in self.model_fields_set:
            # A dev or demo server on a plain-http issuer is the one case where cookies cannot
            # be Secure (browsers would drop them); an explicit JOTAUTH_COOKIE_INSECURE_DEV wins.
            dev_on_http = self.mode in ("dev", "demo") and self.issuer.startswith("http://")
            object.__setattr__(self, "cookie_insecure_dev", dev_on_http)
        if self.cookie_secure and not self.access_cookie.startswith("__Host-"):
            raise ConfigurationError(
                "JOTAUTH_COOKIE_ACCESS_NAME must start with __Host- (a cookie no subdomain "
                "can set or overwrite)"
            )
        if not self.cookie_secure:
            # Browsers drop __Host-/__Secure- cookies that are not Secure: use plain names.
            for name in ("access_cookie", "refresh_cookie", "csrf_cookie"):
                object.__setattr__(self, name, _plain(getattr(self, name)))
        if self.ratelimit_redis_url is None:
            object.__setattr__(self, "ratelimit_redis_url", self.redis_url)
        return self

    # --- derived views ---------------------------------------------------------------------

    @property
    def cookie_secure(self) -> bool:
        """Cookies carry Secure unless the server runs dev over plain http."""
        return not self.cookie_insecure_dev

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
    def password_grant_enabled(self) -> bool:
        """Whether the token endpoint takes the password grant (see ``password_grant``)."""
        return self.mode == "demo" if self.password_grant is None else self.password_grant

    @property
    def is_production(self) -> bool:
        """Whether the strict start-up checks (a real master key) apply."""
        return self.mode == "production"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied, checked again (the model is frozen)."""
        given = {name: getattr(self, name) for name in self.model_fields_set}
        return type(self)(**{**given, **changes})


def variable_name(field: str) -> str:
    """The ``JOTAUTH_*`` variable that sets ``field``."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        if isinstance(first, str):
            return first
    return _PREFIX + field.upper()


def _field_of(location: object) -> str | None:
    """The field an error location names (a field name or its variable)."""
    if not isinstance(location, str):
        return None
    if location in Settings.model_fields:
        return location
    for name in Settings.model_fields:
        if variable_name(name).lower() == location.lower():
            return name
    return None


def _takes(info: FieldInfo) -> str:
    """What a field accepts, in an operator's words."""
    annotation = info.annotation
    bounds = ""
    for meta in info.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                bounds = f" {sign} {bound:g}" if isinstance(bound, float) else f" {sign} {bound}"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an integer" + bounds
    if annotation is float:
        return "a number" + bounds
    args = getattr(annotation, "__args__", ())
    if args and all(isinstance(a, str) for a in args):
        return "one of " + ", ".join(args)
    return "a valid value"


def _describe(error: ErrorDetails) -> str:
    field = _field_of(error["loc"][0]) if error["loc"] else None
    if error["type"] == "extra_forbidden":
        return f"{error['loc'][0]!s} is no setting of the auth server"
    if field is None:
        return error["msg"]
    info = Settings.model_fields[field]
    message = f"{variable_name(field)} must be {_takes(info)}"
    if info.repr and "input" in error:  # secrets are never echoed
        message += f", not {error['input']!r}"
    return message


def _configuration_error(exc: ValidationError) -> ConfigurationError:
    """One line per bad variable, naming it and what it takes (no pydantic dump)."""
    return ConfigurationError("; ".join(_describe(e) for e in exc.errors(include_url=False)))
