"""The security and monitoring ``JOTAUTH_*`` settings (limits, cookies, CORS, alerts, metrics).

Read once and frozen (moved from ``issuer/hardening/settings.py`` unchanged; the one settings
object of issue 11 point 6 replaces it).

They live apart from the issuer's settings so that the policy (who may call from a browser,
how many failures lock an account, where alerts go) can be reviewed in one place, and so that
a bad value stops the server at start with a message naming the variable, never at the first
request.

=====================================  ===============================  =========================
variable                               meaning                          default
=====================================  ===============================  =========================
JOTAUTH_CORS_ORIGINS                   comma-separated browser origins  none (no CORS at all)
JOTAUTH_CORS_CREDENTIALS               allow cookies cross-origin       true
JOTAUTH_COOKIE_MODE                    off | on | always                off
JOTAUTH_COOKIE_INSECURE_DEV            drop Secure (plain-http dev)     false
JOTAUTH_COOKIE_SAMESITE                strict | lax                     strict
JOTAUTH_COOKIE_ACCESS_NAME             access cookie (``__Host-``)      __Host-access_token
JOTAUTH_COOKIE_REFRESH_NAME            refresh cookie                   __Secure-refresh_token
JOTAUTH_CSRF_COOKIE / _HEADER          double-submit pair (as guard)    __Host-csrf_token /
                                                                        X-CSRF-Token
JOTAUTH_RATELIMIT_ENABLED              brute-force limits on            true
JOTAUTH_RATELIMIT_ACCOUNT              failed logins per account and    5 per 15 minutes
                                       client address (that pair is
                                       refused)
JOTAUTH_RATELIMIT_ACCOUNT_ANY          failed logins per account from   20 per hour
                                       every address (slows the rest;
                                       the owner's known addresses
                                       still log in)
JOTAUTH_RATELIMIT_REGISTER             sign-up attempts per username    5 per 15 minutes
JOTAUTH_RATELIMIT_REFRESH              failed refreshes per user and    5 per 15 minutes
                                       per refresh family
JOTAUTH_RATELIMIT_IP_BURST / _RATE     per-IP window: burst attempts    20 / 0.5 per second
                                       in burst / rate seconds          (20 per 40 s)
JOTAUTH_RATELIMIT_REDIS_URL            shared counters (else memory)    JOTAUTH_REDIS_URL
JOTAUTH_ALERT_WEBHOOK_URL              POST alerts here                 none (log only)
JOTAUTH_ALERT_WEBHOOK_SECRET           HMAC-SHA256 signature key        none
JOTAUTH_ALERT_LOGIN_BURST_ACCOUNT/_IP  failed logins that raise alert   4 / 30 per 5 minutes
JOTAUTH_METRICS_ENABLED                serve /metrics                   true
JOTAUTH_METRICS_TOKEN                  bearer secret for /metrics       none
JOTAUTH_METRICS_PUBLIC                 /metrics without a credential    false (a token is needed:
                                                                        the metrics token or an
                                                                        access token granting
                                                                        metrics:read)
JOTAUTH_AUDIT_LOG                      JSON audit lines (jotauth.audit) true
JOTAUTH_HSTS_SECONDS                   Strict-Transport-Security        31536000 (0 = off)
=====================================  ===============================  =========================
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import limits

from jotauth.errors import JotauthError

__all__ = ["HardeningSettings", "HardeningSettingsError", "environment"]

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})

CookieMode = Literal["off", "on", "always"]
SameSite = Literal["strict", "lax"]


class HardeningSettingsError(JotauthError):
    """A JOTAUTH_* hardening variable has a value the server refuses to start with."""

    code = "invalid_settings"


def environment() -> dict[str, str]:
    """``os.environ`` over the optional JOTAUTH_CONFIG_FILE, as the issuer's settings read it."""
    source = dict(os.environ)
    config_file = source.get("JOTAUTH_CONFIG_FILE")
    if not config_file:
        return source
    from jotauth.issuer.settings import load_env_file

    return {**load_env_file(config_file), **source}


def _raw(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, None when unset *or empty*: the one rule for empty values.

    ``JOTAUTH_AUDIT_LOG=`` (a variable emptied in a deployment template) means "not set",
    as it does for the issuer's variables: it takes the default, which is the protected
    setting, and can never silently turn a protection off. Turning one off takes a word
    (``false``).
    """
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return raw


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _raw(env, name)
    return default if raw is None else raw.strip()


def _optional(env: Mapping[str, str], name: str) -> str | None:
    raw = _raw(env, name)
    return None if raw is None else raw.strip()


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _raw(env, name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise HardeningSettingsError(f"{name} must be true or false, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HardeningSettingsError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise HardeningSettingsError(f"{name} must be a number >= {minimum}, not {raw!r}")
    return value


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _text(env, name, default)
    try:
        limits.parse(raw)
    except ValueError:
        raise HardeningSettingsError(
            f'{name} must read like "5 per 15 minutes", not {raw!r}'
        ) from None
    return raw


def _plain(name: str) -> str:
    for prefix in ("__Host-", "__Secure-"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise HardeningSettingsError(
                f"JOTAUTH_CORS_ORIGINS entries are origins like https://app.example.com, "
                f"not {origin!r}"
            )
    return origins


@dataclass(frozen=True)
class HardeningSettings:
    """Every knob of the hardening layer; build with ``from_env`` or directly in tests."""

    cors_origins: tuple[str, ...] = ()
    cors_credentials: bool = True
    cookie_mode: CookieMode = "off"
    cookie_insecure_dev: bool = False
    cookie_samesite: SameSite = "strict"
    access_cookie: str = "__Host-access_token"
    refresh_cookie: str = "__Secure-refresh_token"
    csrf_cookie: str = "__Host-csrf_token"
    csrf_header: str = "X-CSRF-Token"
    refresh_path: str = "/refresh"
    ratelimit_enabled: bool = True
    account_limit: str = "5 per 15 minutes"
    account_any_limit: str = "20 per hour"
    register_limit: str = "5 per 15 minutes"
    refresh_limit: str = "5 per 15 minutes"
    ip_burst: float = 20
    ip_rate: float = 0.5
    redis_url: str | None = field(default=None, repr=False)  # may hold a password
    alert_webhook_url: str | None = field(default=None, repr=False)  # may hold a token
    alert_webhook_secret: str | None = field(default=None, repr=False)
    alert_burst_account: str = "4 per 5 minutes"
    alert_burst_ip: str = "30 per 5 minutes"
    alert_retries: int = 5
    alert_backoff: float = 0.5
    alert_timeout: float = 5.0
    metrics_enabled: bool = True
    metrics_token: str | None = field(default=None, repr=False)
    metrics_public: bool = False
    audit_log: bool = True
    hsts_seconds: int = 31_536_000

    def __post_init__(self) -> None:
        if "*" in self.cors_origins and self.cors_credentials:
            raise HardeningSettingsError(
                'JOTAUTH_CORS_ORIGINS="*" cannot be combined with credentials: browsers refuse '
                "a wildcard origin on credentialed requests. List the origins explicitly, or "
                "set JOTAUTH_CORS_CREDENTIALS=false for a public, cookie-less API."
            )
        if self.cookie_mode not in ("off", "on", "always"):
            raise HardeningSettingsError(
                f"JOTAUTH_COOKIE_MODE must be off, on or always, not {self.cookie_mode!r}"
            )
        if self.cookie_samesite not in ("strict", "lax"):
            raise HardeningSettingsError(
                f"JOTAUTH_COOKIE_SAMESITE must be strict or lax, not {self.cookie_samesite!r}"
            )
        if self.cookie_secure and not self.access_cookie.startswith("__Host-"):
            raise HardeningSettingsError(
                "JOTAUTH_COOKIE_ACCESS_NAME must start with __Host- (a cookie no subdomain "
                "can set or overwrite)"
            )
        if not self.cookie_secure:
            # Browsers drop __Host-/__Secure- cookies that are not Secure: use plain names.
            for name in ("access_cookie", "refresh_cookie", "csrf_cookie"):
                object.__setattr__(self, name, _plain(getattr(self, name)))
        for name, variable in (
            ("account_limit", "JOTAUTH_RATELIMIT_ACCOUNT"),
            ("account_any_limit", "JOTAUTH_RATELIMIT_ACCOUNT_ANY"),
            ("register_limit", "JOTAUTH_RATELIMIT_REGISTER"),
            ("refresh_limit", "JOTAUTH_RATELIMIT_REFRESH"),
        ):
            raw = _limit({variable: getattr(self, name)}, variable, "")
            if limits.parse(raw).amount < 1:
                raise HardeningSettingsError(f"{variable} must allow at least 1, not {raw!r}")
        if self.ip_burst < 1 or self.ip_rate <= 0:
            raise HardeningSettingsError(
                "JOTAUTH_RATELIMIT_IP_BURST must be >= 1 and JOTAUTH_RATELIMIT_IP_RATE > 0"
            )

    @property
    def cookie_secure(self) -> bool:
        """Cookies carry Secure unless the operator explicitly runs dev over plain http."""
        return not self.cookie_insecure_dev

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "HardeningSettings":
        """Read the JOTAUTH_* variables (default: the environment plus JOTAUTH_CONFIG_FILE)."""
        env = environment() if env is None else env
        mode = _text(env, "JOTAUTH_COOKIE_MODE", "off").lower()
        samesite = _text(env, "JOTAUTH_COOKIE_SAMESITE", "strict").lower()
        redis_url = _optional(env, "JOTAUTH_RATELIMIT_REDIS_URL") or _optional(
            env, "JOTAUTH_REDIS_URL"
        )
        return cls(
            cors_origins=_origins(_text(env, "JOTAUTH_CORS_ORIGINS", "")),
            cors_credentials=_bool(env, "JOTAUTH_CORS_CREDENTIALS", True),
            cookie_mode=mode,  # type: ignore[arg-type]  # checked in __post_init__
            cookie_insecure_dev=_bool(env, "JOTAUTH_COOKIE_INSECURE_DEV", False),
            cookie_samesite=samesite,  # type: ignore[arg-type]  # checked in __post_init__
            access_cookie=_text(env, "JOTAUTH_COOKIE_ACCESS_NAME", "__Host-access_token"),
            refresh_cookie=_text(env, "JOTAUTH_COOKIE_REFRESH_NAME", "__Secure-refresh_token"),
            csrf_cookie=_text(env, "JOTAUTH_CSRF_COOKIE", "__Host-csrf_token"),
            csrf_header=_text(env, "JOTAUTH_CSRF_HEADER", "X-CSRF-Token"),
            ratelimit_enabled=_bool(env, "JOTAUTH_RATELIMIT_ENABLED", True),
            account_limit=_limit(env, "JOTAUTH_RATELIMIT_ACCOUNT", "5 per 15 minutes"),
            account_any_limit=_limit(env, "JOTAUTH_RATELIMIT_ACCOUNT_ANY", "20 per hour"),
            register_limit=_limit(env, "JOTAUTH_RATELIMIT_REGISTER", "5 per 15 minutes"),
            refresh_limit=_limit(env, "JOTAUTH_RATELIMIT_REFRESH", "5 per 15 minutes"),
            ip_burst=_number(env, "JOTAUTH_RATELIMIT_IP_BURST", 20, minimum=1),
            ip_rate=_number(env, "JOTAUTH_RATELIMIT_IP_RATE", 0.5, minimum=0.001),
            redis_url=redis_url or None,
            alert_webhook_url=_optional(env, "JOTAUTH_ALERT_WEBHOOK_URL"),
            alert_webhook_secret=_optional(env, "JOTAUTH_ALERT_WEBHOOK_SECRET"),
            alert_burst_account=_limit(env, "JOTAUTH_ALERT_LOGIN_BURST_ACCOUNT", "4 per 5 minutes"),
            alert_burst_ip=_limit(env, "JOTAUTH_ALERT_LOGIN_BURST_IP", "30 per 5 minutes"),
            metrics_enabled=_bool(env, "JOTAUTH_METRICS_ENABLED", True),
            metrics_token=_optional(env, "JOTAUTH_METRICS_TOKEN"),
            metrics_public=_bool(env, "JOTAUTH_METRICS_PUBLIC", False),
            audit_log=_bool(env, "JOTAUTH_AUDIT_LOG", True),
            hsts_seconds=int(_number(env, "JOTAUTH_HSTS_SECONDS", 31_536_000, minimum=0)),
        )
