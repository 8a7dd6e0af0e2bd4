"""HardeningSettings: what the operator configures, and what the server refuses to start with."""

from pathlib import Path

import pytest

from jotauth.issuer.security_settings import HardeningSettings, HardeningSettingsError


def test_defaults_are_safe() -> None:
    """With no variables: no CORS, cookies off, Secure names, limits on, metrics on."""
    s = HardeningSettings.from_env({})
    assert s.cors_origins == ()
    assert s.cookie_mode == "off"
    assert s.cookie_secure
    assert s.access_cookie == "__Host-access_token"
    assert s.csrf_cookie == "__Host-csrf_token"
    assert s.ratelimit_enabled
    assert s.account_limit == "5 per 15 minutes"
    assert s.metrics_enabled
    assert s.redis_url is None


def test_reads_every_variable() -> None:
    """Each JOTAUTH_* hardening variable reaches its field."""
    s = HardeningSettings.from_env(
        {
            "JOTAUTH_CORS_ORIGINS": "https://app.example.com/, http://localhost:5173",
            "JOTAUTH_COOKIE_MODE": "ON",
            "JOTAUTH_COOKIE_SAMESITE": "lax",
            "JOTAUTH_RATELIMIT_ACCOUNT": "3 per minute",
            "JOTAUTH_RATELIMIT_IP_BURST": "7",
            "JOTAUTH_RATELIMIT_IP_RATE": "2.5",
            "JOTAUTH_REDIS_URL": "redis://127.0.0.1:6379/2",
            "JOTAUTH_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "JOTAUTH_METRICS_ENABLED": "no",
            "JOTAUTH_METRICS_TOKEN": "m-secret",
            "JOTAUTH_HSTS_SECONDS": "0",
        }
    )
    assert s.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert s.cookie_mode == "on"
    assert s.cookie_samesite == "lax"
    assert s.account_limit == "3 per minute"
    assert (s.ip_burst, s.ip_rate) == (7, 2.5)
    assert s.redis_url == "redis://127.0.0.1:6379/2"
    assert s.alert_webhook_url == "http://127.0.0.1:9/hook"
    assert not s.metrics_enabled
    assert s.metrics_token == "m-secret"
    assert s.hsts_seconds == 0


def test_ratelimit_redis_url_wins_over_shared_one() -> None:
    """JOTAUTH_RATELIMIT_REDIS_URL takes precedence over JOTAUTH_REDIS_URL."""
    s = HardeningSettings.from_env(
        {"JOTAUTH_REDIS_URL": "redis://a:6379/0", "JOTAUTH_RATELIMIT_REDIS_URL": "redis://b:6379/1"}
    )
    assert s.redis_url == "redis://b:6379/1"


def test_wildcard_origin_with_credentials_is_refused() -> None:
    """A wildcard origin with credentials would hand cookies to any site: refuse to start."""
    with pytest.raises(HardeningSettingsError, match="cannot be combined with credentials"):
        HardeningSettings.from_env({"JOTAUTH_CORS_ORIGINS": "*"})


def test_wildcard_origin_without_credentials_is_allowed() -> None:
    """A public, cookie-less API may allow every origin."""
    s = HardeningSettings.from_env(
        {"JOTAUTH_CORS_ORIGINS": "*", "JOTAUTH_CORS_CREDENTIALS": "false"}
    )
    assert s.cors_origins == ("*",)


def test_insecure_dev_drops_secure_prefixes() -> None:
    """Over plain http browsers refuse __Host-/__Secure- cookies, so dev mode uses plain names."""
    s = HardeningSettings.from_env({"JOTAUTH_COOKIE_INSECURE_DEV": "1"})
    assert not s.cookie_secure
    assert (s.access_cookie, s.refresh_cookie, s.csrf_cookie) == (
        "access_token",
        "refresh_token",
        "csrf_token",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JOTAUTH_COOKIE_MODE": "sometimes"}, "JOTAUTH_COOKIE_MODE"),
        ({"JOTAUTH_COOKIE_SAMESITE": "none"}, "JOTAUTH_COOKIE_SAMESITE"),
        ({"JOTAUTH_CORS_ORIGINS": "app.example.com"}, "JOTAUTH_CORS_ORIGINS"),
        ({"JOTAUTH_RATELIMIT_ACCOUNT": "lots"}, "JOTAUTH_RATELIMIT_ACCOUNT"),
        ({"JOTAUTH_RATELIMIT_IP_BURST": "0"}, "JOTAUTH_RATELIMIT_IP_BURST"),
        ({"JOTAUTH_RATELIMIT_IP_RATE": "nan"}, "JOTAUTH_RATELIMIT_IP_RATE"),
        ({"JOTAUTH_METRICS_ENABLED": "maybe"}, "JOTAUTH_METRICS_ENABLED"),
        ({"JOTAUTH_COOKIE_ACCESS_NAME": "access"}, "__Host-"),
        ({"JOTAUTH_ALERT_LOGIN_BURST_IP": "10 per fortnight"}, "JOTAUTH_ALERT_LOGIN_BURST_IP"),
    ],
)
def test_bad_values_stop_the_server_naming_the_variable(env: dict[str, str], message: str) -> None:
    """A bad value raises at start with the variable's name, never at the first request."""
    with pytest.raises(HardeningSettingsError, match=message):
        HardeningSettings.from_env(env)


def test_dev_server_on_plain_http_gets_cookies_browsers_keep(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A dev/demo issuer on http:// drops Secure (explicit dev); production never does."""
    from jotauth.issuer.app import create_app
    from jotauth.issuer.settings import Settings

    def secure(mode: str, issuer: str) -> bool:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
            issuer=issuer,
            mode=mode,
            master_key=bytes(range(32)),
        )
        app = create_app(settings)
        try:
            return bool(app.state.hardening_settings.cookie_secure)
        finally:
            app.state.store.close()

    monkeypatch.delenv("JOTAUTH_COOKIE_INSECURE_DEV", raising=False)
    assert not secure("demo", "http://127.0.0.1:8000")
    assert secure("production", "http://127.0.0.1:8000")
    assert secure("dev", "https://auth.example")
    monkeypatch.setenv("JOTAUTH_COOKIE_INSECURE_DEV", "false")
    assert secure("demo", "http://127.0.0.1:8000")


def test_config_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JOTAUTH_CONFIG_FILE feeds the hardening settings too; a set variable overrides it."""
    config = tmp_path / "jotauth.env"
    config.write_text(
        "JOTAUTH_CORS_ORIGINS=https://from-file.example\nJOTAUTH_COOKIE_MODE=always\n"
    )
    monkeypatch.setenv("JOTAUTH_CONFIG_FILE", str(config))
    monkeypatch.setenv("JOTAUTH_COOKIE_MODE", "on")
    s = HardeningSettings.from_env()
    assert s.cors_origins == ("https://from-file.example",)
    assert s.cookie_mode == "on"


def test_repr_never_shows_secrets() -> None:
    """Logging the settings cannot leak the webhook secret, metrics token or Redis password."""
    s = HardeningSettings(
        redis_url="redis://:redis-pass@127.0.0.1:6379/0",
        alert_webhook_url="https://hooks.example/T0/secret-path",
        alert_webhook_secret="hook-secret",
        metrics_token="metrics-secret",
    )
    text = repr(s)
    for secret in ("redis-pass", "secret-path", "hook-secret", "metrics-secret"):
        assert secret not in text


def test_registration_and_refresh_limits_default_and_read() -> None:
    """5 per 15 minutes each by default; JOTAUTH_RATELIMIT_REGISTER / _REFRESH change them."""
    default = HardeningSettings.from_env({})
    assert (default.register_limit, default.refresh_limit) == ("5 per 15 minutes",) * 2
    s = HardeningSettings.from_env(
        {"JOTAUTH_RATELIMIT_REGISTER": "3 per hour", "JOTAUTH_RATELIMIT_REFRESH": "10/minute"}
    )
    assert (s.register_limit, s.refresh_limit) == ("3 per hour", "10/minute")


@pytest.mark.parametrize("name", ["JOTAUTH_RATELIMIT_REGISTER", "JOTAUTH_RATELIMIT_REFRESH"])
@pytest.mark.parametrize(
    ("value", "says"), [("lots", "must read like"), ("0 per hour", "must allow at least 1")]
)
def test_bad_account_limits_stop_the_server(name: str, value: str, says: str) -> None:
    """A limit that does not parse, or allows nothing, is refused at start, naming the variable."""
    with pytest.raises(HardeningSettingsError, match=f"{name} {says}"):
        HardeningSettings.from_env({name: value})


def test_direct_construction_checks_limits_too() -> None:
    """Settings built in code get the same check as the environment's."""
    with pytest.raises(HardeningSettingsError, match="JOTAUTH_RATELIMIT_REFRESH"):
        HardeningSettings(refresh_limit="whenever")


PROTECTIONS = {
    "JOTAUTH_RATELIMIT_ENABLED": "ratelimit_enabled",
    "JOTAUTH_AUDIT_LOG": "audit_log",
    "JOTAUTH_METRICS_ENABLED": "metrics_enabled",
}


@pytest.mark.parametrize("variable", PROTECTIONS)
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_variable_never_switches_a_protection_off(variable: str, empty: str) -> None:
    """``JOTAUTH_RATELIMIT_ENABLED=`` used to read as false and turn the limits off; an empty
    value now means "unset" (the issuer's rule too) and takes the protected default."""
    settings = HardeningSettings.from_env({variable: empty})
    assert getattr(settings, PROTECTIONS[variable]) is True


@pytest.mark.parametrize(
    "variable",
    [
        "JOTAUTH_RATELIMIT_ACCOUNT",
        "JOTAUTH_RATELIMIT_IP_BURST",
        "JOTAUTH_HSTS_SECONDS",
        "JOTAUTH_COOKIE_MODE",
        "JOTAUTH_COOKIE_SAMESITE",
        "JOTAUTH_CSRF_HEADER",
    ],
)
def test_empty_values_take_the_default(variable: str) -> None:
    """Every variable follows the one rule: empty is unset, never an error or a zero."""
    assert HardeningSettings.from_env({variable: ""}) == HardeningSettings.from_env({})


@pytest.mark.parametrize("variable", list(PROTECTIONS))
def test_a_bad_protection_switch_stops_start_up_naming_it(variable: str) -> None:
    """A value that is neither true nor false is refused with the variable and what it takes."""
    with pytest.raises(HardeningSettingsError, match=f"{variable} must be true or false"):
        HardeningSettings.from_env({variable: "maybe"})
