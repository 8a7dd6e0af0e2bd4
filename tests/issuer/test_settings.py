"""The one Settings object: every JOTAUTH_* variable, the empty-value rule, refusals, secrets.

Also the OWASP password defaults and the event bus's resilience (issuer basics without a
module of their own).
"""

import base64
import inspect
from pathlib import Path
from typing import Any

import pytest
from argon2 import extract_parameters
from pydantic import ValidationError

from jotauth.guard import RevocationView
from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.events import AuthEvent, EventBus
from jotauth.issuer.services.passwords import PasswordService
from jotauth.issuer.settings import MAX_ACCESS_TTL, Settings, variable_name

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
VARIABLES = [variable_name(name) for name in Settings.model_fields]


def test_defaults() -> None:
    """No variables: SQLite file, EdDSA, 15 min / 30 d / 7 d, grace 10 s, every protection on."""
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///./jotauth.db"
    assert settings.signing_alg == "EdDSA"
    assert (settings.access_ttl, settings.refresh_ttl, settings.refresh_idle_ttl) == (
        900,
        30 * 86400,
        7 * 86400,
    )
    assert settings.refresh_grace == 10
    assert settings.rotation_period == 30 * 86400
    assert settings.registration_open is False
    assert settings.mode == "production"
    assert settings.master_key is None
    assert settings.cors_origins == ()
    assert settings.cookie_mode == "off"
    assert settings.cookie_secure
    assert (settings.access_cookie, settings.csrf_cookie) == (
        "__Host-access_token",
        "__Host-csrf_token",
    )
    assert settings.ratelimit_enabled
    assert (settings.account_limit, settings.account_any_limit) == (
        "5 per 15 minutes",
        "20 per hour",
    )
    assert (settings.register_limit, settings.refresh_limit) == ("5 per 15 minutes",) * 2
    assert settings.metrics_enabled
    assert not settings.metrics_public
    assert settings.audit_log
    assert settings.hsts_seconds == 31_536_000
    assert settings.redis_url is None
    assert settings.ratelimit_redis_url is None
    assert Settings.from_env({}) == Settings()


def test_environment_values() -> None:
    """Every variable is read and typed."""
    settings = Settings.from_env(
        {
            "JOTAUTH_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "JOTAUTH_ISSUER": "https://auth.example.com/",
            "JOTAUTH_AUDIENCE": "api",
            "JOTAUTH_MODE": "Dev",
            "JOTAUTH_MASTER_KEY": KEY,
            "JOTAUTH_SIGNING_ALG": "ES256",
            "JOTAUTH_ACCESS_TTL": "300",
            "JOTAUTH_REFRESH_TTL": "86400",
            "JOTAUTH_REFRESH_IDLE_TTL": "3600",
            "JOTAUTH_REFRESH_GRACE": "0",
            "JOTAUTH_KEY_ROTATION_DAYS": "7",
            "JOTAUTH_REGISTRATION_OPEN": "yes",
            "JOTAUTH_SERVICE_TOKENS": " a-secret , b-secret ,",
            "JOTAUTH_ARGON2_TIME_COST": "3",
            "JOTAUTH_ARGON2_MEMORY_COST": "65536",
            "JOTAUTH_ARGON2_PARALLELISM": "2",
            "JOTAUTH_MAX_BODY_BYTES": "4096",
            "JOTAUTH_POLL_INTERVAL": "30",
            "JOTAUTH_MIGRATE_ON_START": "false",
            "JOTAUTH_CORS_ORIGINS": "https://app.example.com/, http://localhost:5173",
            "JOTAUTH_COOKIE_MODE": "ON",
            "JOTAUTH_COOKIE_SAMESITE": "lax",
            "JOTAUTH_RATELIMIT_ACCOUNT": "3 per minute",
            "JOTAUTH_RATELIMIT_REGISTER": "3 per hour",
            "JOTAUTH_RATELIMIT_REFRESH": "10/minute",
            "JOTAUTH_RATELIMIT_IP_BURST": "7",
            "JOTAUTH_RATELIMIT_IP_RATE": "2.5",
            "JOTAUTH_REDIS_URL": "redis://127.0.0.1:6379/2",
            "JOTAUTH_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "JOTAUTH_ALERT_RETRIES": "2",
            "JOTAUTH_METRICS_ENABLED": "no",
            "JOTAUTH_METRICS_TOKEN": "m-secret",
            "JOTAUTH_HSTS_SECONDS": "0",
        }
    )
    assert settings.issuer == "https://auth.example.com"
    assert settings.mode == "dev"
    assert settings.master_key == bytes(range(32))
    assert settings.signing_alg == "ES256"
    assert settings.refresh_grace == 0
    assert settings.registration_open is True
    assert settings.service_tokens == ("a-secret", "b-secret")
    assert settings.argon2_memory_cost == 65536
    assert settings.migrate_on_start is False
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert (settings.cookie_mode, settings.cookie_samesite) == ("on", "lax")
    assert settings.account_limit == "3 per minute"
    assert (settings.register_limit, settings.refresh_limit) == ("3 per hour", "10/minute")
    assert (settings.ip_burst, settings.ip_rate) == (7, 2.5)
    assert settings.ratelimit_redis_url == "redis://127.0.0.1:6379/2"  # the shared one
    assert settings.alert_webhook_url == "http://127.0.0.1:9/hook"
    assert settings.alert_retries == 2
    assert not settings.metrics_enabled
    assert settings.metrics_token == "m-secret"
    assert settings.hsts_seconds == 0


def test_ratelimit_redis_url_wins_over_the_shared_one() -> None:
    """JOTAUTH_RATELIMIT_REDIS_URL moves the limits' counters; revocation push keeps its own."""
    settings = Settings.from_env(
        {"JOTAUTH_REDIS_URL": "redis://a:6379/0", "JOTAUTH_RATELIMIT_REDIS_URL": "redis://b:6379/1"}
    )
    assert (settings.redis_url, settings.ratelimit_redis_url) == (
        "redis://a:6379/0",
        "redis://b:6379/1",
    )
    assert settings.replace(redis_url="redis://c/0").ratelimit_redis_url == "redis://b:6379/1"
    shared = Settings(redis_url="redis://a:6379/0")
    assert shared.replace(redis_url="redis://c/0").ratelimit_redis_url == "redis://c/0"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JOTAUTH_ACCESS_TTL": "abc"}, "JOTAUTH_ACCESS_TTL must be an integer >= 1, not 'abc'"),
        ({"JOTAUTH_ACCESS_TTL": "15m"}, "JOTAUTH_ACCESS_TTL must be an integer >= 1, not '15m'"),
        ({"JOTAUTH_ACCESS_TTL": "0"}, "JOTAUTH_ACCESS_TTL must be an integer >= 1, not '0'"),
        ({"JOTAUTH_REFRESH_GRACE": "-1"}, "JOTAUTH_REFRESH_GRACE must be an integer >= 0"),
        ({"JOTAUTH_ARGON2_MEMORY_COST": "4"}, "JOTAUTH_ARGON2_MEMORY_COST must be an integer >= 8"),
        ({"JOTAUTH_MAX_BODY_BYTES": "10"}, "JOTAUTH_MAX_BODY_BYTES must be an integer >= 1024"),
        ({"JOTAUTH_DB_STATEMENT_TIMEOUT": "0"}, "JOTAUTH_DB_STATEMENT_TIMEOUT must be an integer"),
        ({"JOTAUTH_REGISTRATION_OPEN": "maybe"}, "JOTAUTH_REGISTRATION_OPEN must be true or false"),
        ({"JOTAUTH_MODE": "staging"}, "JOTAUTH_MODE must be one of production, dev, demo"),
        ({"JOTAUTH_SIGNING_ALG": "none"}, "JOTAUTH_SIGNING_ALG 'none' is not supported"),
        ({"JOTAUTH_SIGNING_ALG": "HS256"}, "HS256 needs JOTAUTH_HMAC_SECRET of at least 32"),
        (
            {"JOTAUTH_SIGNING_ALG": "HS256", "JOTAUTH_HMAC_SECRET": "short"},
            "HS256 needs JOTAUTH_HMAC_SECRET",
        ),
        ({"JOTAUTH_MASTER_KEY": "c2hvcnQ"}, "JOTAUTH_MASTER_KEY must be 32 random bytes"),
        ({"JOTAUTH_MASTER_KEY": "A" * 43}, "JOTAUTH_MASTER_KEY must be 32 random bytes"),
        ({"JOTAUTH_ENCRYPT_AUDIENCES": "billing"}, "JOTAUTH_ENCRYPT_AUDIENCES is a comma-sep"),
        ({"JOTAUTH_COOKIE_MODE": "sometimes"}, "JOTAUTH_COOKIE_MODE must be one of off, on, al"),
        ({"JOTAUTH_COOKIE_SAMESITE": "none"}, "JOTAUTH_COOKIE_SAMESITE must be one of strict"),
        ({"JOTAUTH_CORS_ORIGINS": "app.example.com"}, "JOTAUTH_CORS_ORIGINS entries are origins"),
        ({"JOTAUTH_CORS_ORIGINS": "*"}, "cannot be combined with credentials"),
        ({"JOTAUTH_RATELIMIT_ACCOUNT": "lots"}, "JOTAUTH_RATELIMIT_ACCOUNT must read like"),
        ({"JOTAUTH_RATELIMIT_REGISTER": "lots"}, "JOTAUTH_RATELIMIT_REGISTER must read like"),
        ({"JOTAUTH_RATELIMIT_REFRESH": "0 per hour"}, "JOTAUTH_RATELIMIT_REFRESH must allow at"),
        ({"JOTAUTH_RATELIMIT_IP_BURST": "0"}, "JOTAUTH_RATELIMIT_IP_BURST must be a number >= 1"),
        ({"JOTAUTH_RATELIMIT_IP_RATE": "nan"}, "JOTAUTH_RATELIMIT_IP_RATE must be a number > 0"),
        ({"JOTAUTH_RATELIMIT_IP_RATE": "0"}, "JOTAUTH_RATELIMIT_IP_RATE must be a number > 0"),
        ({"JOTAUTH_METRICS_ENABLED": "maybe"}, "JOTAUTH_METRICS_ENABLED must be true or false"),
        ({"JOTAUTH_COOKIE_ACCESS_NAME": "access"}, "JOTAUTH_COOKIE_ACCESS_NAME must start with"),
        ({"JOTAUTH_ALERT_LOGIN_BURST_IP": "10 per fortnight"}, "JOTAUTH_ALERT_LOGIN_BURST_IP"),
        ({"JOTAUTH_HSTS_SECONDS": "-1"}, "JOTAUTH_HSTS_SECONDS must be an integer >= 0"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(env: dict[str, str], message: str) -> None:
    """A bad value raises ConfigurationError with the variable and what it takes, in one line."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert "pydantic" not in text
    assert "validation error" not in text
    assert not isinstance(caught.value, ValidationError)


def test_settings_built_in_code_get_the_same_checks() -> None:
    """Settings(...) and replace() refuse what the environment would, as ConfigurationError."""
    with pytest.raises(ConfigurationError, match="JOTAUTH_RATELIMIT_REFRESH must read like"):
        Settings(refresh_limit="whenever")
    with pytest.raises(ConfigurationError, match="JOTAUTH_ACCESS_TTL must be an integer >= 1"):
        Settings().replace(access_ttl=0)
    with pytest.raises(ConfigurationError, match="refresh_ttl_days is no setting"):
        Settings(refresh_ttl_days=3)


def test_settings_are_frozen() -> None:
    """No code can change a setting after start; replace() makes a checked copy."""
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.access_ttl = 60  # type: ignore[misc]
    assert settings.replace(access_ttl=60).access_ttl == 60
    assert settings.access_ttl == 900


def test_settings_in_code_never_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only from_env reads JOTAUTH_*: the config a test passes is the config it gets."""
    monkeypatch.setenv("JOTAUTH_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("JOTAUTH_ACCESS_TTL", "60")
    assert Settings().ratelimit_enabled is True
    assert Settings().access_ttl == 900
    assert Settings.from_env().access_ttl == 60


def test_from_env_records_which_variables_were_set() -> None:
    """model_fields_set says what the operator set (even to the default): the CLI asks it."""
    settings = Settings.from_env({"JOTAUTH_MODE": "production", "JOTAUTH_ISSUER": " "})
    assert "mode" in settings.model_fields_set
    assert "issuer" not in settings.model_fields_set


PROTECTIONS = {
    "JOTAUTH_RATELIMIT_ENABLED": ("ratelimit_enabled", True),
    "JOTAUTH_AUDIT_LOG": ("audit_log", True),
    "JOTAUTH_METRICS_ENABLED": ("metrics_enabled", True),
    "JOTAUTH_METRICS_PUBLIC": ("metrics_public", False),
    "JOTAUTH_COOKIE_MODE": ("cookie_mode", "off"),
    "JOTAUTH_COOKIE_INSECURE_DEV": ("cookie_insecure_dev", False),
    "JOTAUTH_CORS_CREDENTIALS": ("cors_credentials", True),
    "JOTAUTH_HSTS_SECONDS": ("hsts_seconds", 31_536_000),
    "JOTAUTH_RATELIMIT_ACCOUNT": ("account_limit", "5 per 15 minutes"),
}


@pytest.mark.parametrize("variable", PROTECTIONS)
@pytest.mark.parametrize("empty", ["", "  ", "\t"])
def test_an_empty_variable_never_switches_a_protection_off(variable: str, empty: str) -> None:
    """``JOTAUTH_RATELIMIT_ENABLED=`` used to read as false and turn the limits off; an empty
    value means "unset" and takes the protected default."""
    name, protected = PROTECTIONS[variable]
    assert getattr(Settings.from_env({variable: empty}), name) == protected


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_empty_variable_takes_the_default(variable: str) -> None:
    """The one rule, for every variable: empty is unset, never an error, a zero or an off."""
    assert Settings.from_env({variable: ""}) == Settings.from_env({})
    assert Settings.from_env({variable: "   "}) == Settings.from_env({})


def test_empty_arguments_take_the_default_too() -> None:
    """An empty string passed in code follows the same rule as an empty variable."""
    assert Settings(cookie_mode="", audit_log=" ") == Settings()  # type: ignore[arg-type]


@pytest.mark.parametrize("variable", [v for v, (_, d) in PROTECTIONS.items() if d is True])
def test_a_bad_protection_switch_stops_start_up_naming_it(variable: str) -> None:
    """A value that is neither true nor false is refused with the variable and what it takes."""
    with pytest.raises(ConfigurationError, match=f"{variable} must be true or false"):
        Settings.from_env({variable: "maybe"})


def test_wildcard_origin_without_credentials_is_allowed() -> None:
    """A public, cookie-less API may allow every origin."""
    settings = Settings.from_env({"JOTAUTH_CORS_ORIGINS": "*", "JOTAUTH_CORS_CREDENTIALS": "false"})
    assert settings.cors_origins == ("*",)


def test_insecure_dev_drops_secure_prefixes() -> None:
    """Over plain http browsers refuse __Host-/__Secure- cookies, so dev mode uses plain names."""
    settings = Settings.from_env({"JOTAUTH_COOKIE_INSECURE_DEV": "1"})
    assert not settings.cookie_secure
    assert (settings.access_cookie, settings.refresh_cookie, settings.csrf_cookie) == (
        "access_token",
        "refresh_token",
        "csrf_token",
    )


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({"JOTAUTH_MODE": "demo", "JOTAUTH_ISSUER": "http://127.0.0.1:8000"}, False),
        ({"JOTAUTH_MODE": "dev"}, False),  # the default issuer is http://127.0.0.1:8000
        ({"JOTAUTH_MODE": "production", "JOTAUTH_ISSUER": "http://127.0.0.1:8000"}, True),
        ({"JOTAUTH_MODE": "dev", "JOTAUTH_ISSUER": "https://auth.example"}, True),
        ({"JOTAUTH_MODE": "demo", "JOTAUTH_COOKIE_INSECURE_DEV": "false"}, True),
        ({"JOTAUTH_MODE": "production", "JOTAUTH_COOKIE_INSECURE_DEV": "true"}, False),
    ],
)
def test_dev_server_on_plain_http_gets_cookies_browsers_keep(
    env: dict[str, str], secure: bool
) -> None:
    """A dev/demo issuer on http:// drops Secure; production never does unless told to, and
    an explicit JOTAUTH_COOKIE_INSECURE_DEV always wins."""
    settings = Settings.from_env(env)
    assert settings.cookie_secure is secure
    assert settings.access_cookie.startswith("__Host-") is secure


def test_the_cookie_adjustment_follows_a_changed_mode() -> None:
    """replace(mode=...) (the CLI's demo database) derives the cookie security again."""
    production = Settings()
    assert production.cookie_secure
    assert not production.replace(mode="demo").cookie_secure
    assert production.replace(mode="demo").replace(mode="production").cookie_secure


def test_config_file(tmp_path: Path) -> None:
    """JOTAUTH_CONFIG_FILE supplies values for every setting; the environment wins over it."""
    config = tmp_path / "jotauth.env"
    config.write_text(
        "# comment\nJOTAUTH_AUDIENCE=from-file\nJOTAUTH_ACCESS_TTL=60\n\nJOTAUTH_ISSUER='https://f'\n"
        "JOTAUTH_CORS_ORIGINS=https://from-file.example\nJOTAUTH_COOKIE_MODE=always\n"
    )
    settings = Settings.from_env(
        {
            "JOTAUTH_CONFIG_FILE": str(config),
            "JOTAUTH_ACCESS_TTL": "120",
            "JOTAUTH_COOKIE_MODE": "on",
        }
    )
    assert settings.audience == "from-file"
    assert settings.issuer == "https://f"
    assert settings.access_ttl == 120
    assert settings.cors_origins == ("https://from-file.example",)
    assert settings.cookie_mode == "on"


def test_an_empty_variable_does_not_hide_the_file(tmp_path: Path) -> None:
    """An empty variable is unset, so the file's value (not the default) applies."""
    config = tmp_path / "jotauth.env"
    config.write_text("JOTAUTH_RATELIMIT_ACCOUNT=3 per minute\n")
    settings = Settings.from_env(
        {"JOTAUTH_CONFIG_FILE": str(config), "JOTAUTH_RATELIMIT_ACCOUNT": ""}
    )
    assert settings.account_limit == "3 per minute"


def test_config_file_errors(tmp_path: Path) -> None:
    """A missing file or a line that is not JOTAUTH_NAME=value is refused with its place."""
    with pytest.raises(ConfigurationError, match="cannot read"):
        Settings.from_env({"JOTAUTH_CONFIG_FILE": str(tmp_path / "missing")})
    bad = tmp_path / "bad.env"
    bad.write_text("JOTAUTH_AUDIENCE=x\nPATH=/evil\n")
    with pytest.raises(ConfigurationError, match=r"bad\.env:2"):
        Settings.from_env({"JOTAUTH_CONFIG_FILE": str(bad)})


SECRETS = {
    "JOTAUTH_DATABASE_URL": "postgresql+psycopg://app:db-pass@127.0.0.1/jotauth",
    "JOTAUTH_MASTER_KEY": KEY,
    "JOTAUTH_HMAC_SECRET": "hmac-secret-hmac-secret-hmac-secret",
    "JOTAUTH_SERVICE_TOKENS": "feed-secret",
    "JOTAUTH_REDIS_URL": "redis://:redis-pass@127.0.0.1:6379/0",
    "JOTAUTH_RATELIMIT_REDIS_URL": "redis://:limits-pass@127.0.0.1:6379/1",
    "JOTAUTH_ALERT_WEBHOOK_URL": "https://hooks.example/T0/secret-path",
    "JOTAUTH_ALERT_WEBHOOK_SECRET": "hook-secret",
    "JOTAUTH_METRICS_TOKEN": "metrics-secret",
}
SECRET_WORDS = (
    "db-pass", KEY, "hmac-secret", "feed-secret", "redis-pass", "limits-pass", "secret-path",
    "hook-secret", "metrics-secret", repr(bytes(range(32))),
)  # fmt: skip


def test_repr_and_str_never_show_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """Logging the settings cannot leak a password, key, token or webhook URL."""
    settings = Settings.from_env({**SECRETS, "JOTAUTH_SIGNING_ALG": "HS256"})
    assert settings.metrics_token == "metrics-secret"  # read, just not shown
    import logging

    logging.getLogger("tests").warning("settings: %s / %r", settings, settings)
    for text in (repr(settings), str(settings), caplog.text):
        for word in SECRET_WORDS:
            assert word not in text


def test_a_refused_secret_is_not_echoed() -> None:
    """The error for a bad secret names the variable, never the value."""
    with pytest.raises(ConfigurationError) as caught:
        Settings(metrics_token=["metrics-secret"])  # type: ignore[arg-type]
    assert "JOTAUTH_METRICS_TOKEN" in str(caught.value)
    assert "metrics-secret" not in str(caught.value)
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"JOTAUTH_MASTER_KEY": "not-a-key-but-secret"})
    assert "not-a-key-but-secret" not in str(caught.value)


def test_default_password_hash_uses_owasp_parameters() -> None:
    """Argon2id with m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet) by default."""
    settings = Settings()
    service = PasswordService(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
    )
    hashed = service.hash_sync("correct horse")
    params = extract_parameters(hashed)
    assert hashed.startswith("$argon2id$")
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)
    assert service.verify_sync("correct horse", hashed) == (True, None)
    assert service.verify_sync("wrong", hashed) == (False, None)
    assert service.verify_sync("x", "not-a-hash") == (False, None)


def test_unknown_user_check_never_hashes_at_request_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dummy hash exists from the start, so the first unknown user costs one verify, not two."""
    service = PasswordService(time_cost=1, memory_cost=8, parallelism=1)

    def no_hashing(password: str) -> str:
        raise AssertionError("hashed during a login check")

    monkeypatch.setattr(service._hash, "hash", no_hashing)
    assert service.verify_sync("anything", None) == (False, None)
    assert service.verify_sync("x", "not-a-hash") == (False, None)


@pytest.mark.anyio
async def test_event_bus_survives_a_failing_subscriber(caplog: pytest.LogCaptureFixture) -> None:
    """A subscriber that raises is logged; later subscribers still get the event."""
    bus = EventBus()
    seen: list[str] = []

    def broken(event: AuthEvent) -> None:
        raise RuntimeError("boom")

    async def good(event: AuthEvent) -> None:
        seen.append(event.type)

    bus.subscribe(broken)
    bus.subscribe(good)
    event = AuthEvent("logout", "success", "1", "john", "127.0.0.1", "ua", {}, 1.0)
    await bus.emit(event)
    assert seen == ["logout"]
    assert "event subscriber failed on logout" in caplog.text


@pytest.fixture
def anyio_backend() -> Any:
    return "asyncio"


def test_access_ttl_is_capped_at_a_day() -> None:
    """JOTAUTH_ACCESS_TTL above 24 h is refused, naming the variable and the limit.

    Guards keep a user's not-before (logout everywhere, password change, disabling) for 24 h
    only; a longer-lived access token issued before it would be accepted again afterwards.
    """
    assert Settings.from_env({"JOTAUTH_ACCESS_TTL": "86400"}).access_ttl == 86400
    with pytest.raises(ConfigurationError, match=r"JOTAUTH_ACCESS_TTL.*86400"):
        Settings.from_env({"JOTAUTH_ACCESS_TTL": "86401"})
    with pytest.raises(ConfigurationError, match=r"JOTAUTH_ACCESS_TTL.*86400"):
        Settings(access_ttl=7 * 86400)


def test_access_ttl_cap_fits_the_guards_retention() -> None:
    """The cap is no longer than a guard keeps a user's not-before by default."""
    retention = inspect.signature(RevocationView).parameters["user_retention"].default
    assert retention >= MAX_ACCESS_TTL


def test_database_timeouts_are_read_and_bounded() -> None:
    """JOTAUTH_DB_* and JOTAUTH_HEALTH_TIMEOUT set every database wait; zero is refused."""
    settings = Settings.from_env(
        {
            "JOTAUTH_DB_CONNECT_TIMEOUT": "3",
            "JOTAUTH_DB_STATEMENT_TIMEOUT": "4",
            "JOTAUTH_DB_POOL_TIMEOUT": "6",
            "JOTAUTH_DB_STARTUP_WAIT": "0",
            "JOTAUTH_HEALTH_TIMEOUT": "2",
        }
    )
    assert settings.engine_options == {
        "connect_timeout": 3,
        "statement_timeout": 4,
        "pool_timeout": 6,
    }
    assert (settings.db_startup_wait, settings.health_timeout) == (0, 2)
    defaults = Settings.from_env({})
    assert defaults.engine_options == {
        "connect_timeout": 5,
        "statement_timeout": 10,
        "pool_timeout": 5,
    }
    assert defaults.db_startup_wait == 30
    with pytest.raises(
        ConfigurationError, match="JOTAUTH_DB_STATEMENT_TIMEOUT must be an integer >= 1"
    ):
        Settings.from_env({"JOTAUTH_DB_STATEMENT_TIMEOUT": "0"})


def test_create_app_takes_only_the_settings_it_is_given(
    tmp_path: Path, kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create_app reads no environment: not even a broken JOTAUTH_CONFIG_FILE is looked at."""
    from jotauth.issuer.app import create_app

    monkeypatch.setenv("JOTAUTH_CONFIG_FILE", str(tmp_path / "missing.env"))
    monkeypatch.setenv("JOTAUTH_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("JOTAUTH_METRICS_ENABLED", "false")
    monkeypatch.setenv("JOTAUTH_COOKIE_MODE", "always")
    settings = kit.make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", ratelimit_enabled=True)
    app = create_app(settings)
    try:
        assert app.state.settings is settings
        assert app.state.hardening.settings is settings
        assert app.state.hardening.limiter is not None
        assert app.state.hardening.metrics is not None
    finally:
        app.state.store.close()


def test_the_uvicorn_factory_reads_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create_from_env (what each `jotauth serve` worker runs) builds from JOTAUTH_*."""
    from jotauth.issuer.app import create_from_env

    config = tmp_path / "jotauth.env"
    config.write_text("JOTAUTH_AUDIENCE=from-file\nJOTAUTH_COOKIE_MODE=on\n")
    for name, value in {
        "JOTAUTH_CONFIG_FILE": str(config),
        "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "JOTAUTH_MASTER_KEY": KEY,
        "JOTAUTH_ARGON2_MEMORY_COST": "64",
        "JOTAUTH_ARGON2_TIME_COST": "1",
        "JOTAUTH_RATELIMIT_ENABLED": "",
    }.items():
        monkeypatch.setenv(name, value)
    app = create_from_env()
    try:
        settings = app.state.settings
        assert (settings.audience, settings.cookie_mode) == ("from-file", "on")
        assert app.state.hardening.limiter is not None  # empty: the protected default
    finally:
        app.state.store.close()
