"""Settings from JOTAUTH_* variables and a config file; the OWASP password defaults."""

import base64
import inspect
from pathlib import Path
from typing import Any

import pytest
from argon2 import extract_parameters

from jotauth.guard import RevocationView
from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.events import AuthEvent, EventBus
from jotauth.issuer.services.passwords import PasswordService
from jotauth.issuer.settings import MAX_ACCESS_TTL, Settings

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")


def test_defaults() -> None:
    """No variables: SQLite file, EdDSA, 15 min / 30 d / 7 d, grace 10 s, registration closed."""
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
    assert "a-secret" not in repr(settings)
    assert repr(bytes(range(32))) not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JOTAUTH_ACCESS_TTL", "15m", "integer"),
        ("JOTAUTH_ACCESS_TTL", "0", ">= 1"),
        ("JOTAUTH_REFRESH_GRACE", "-1", ">= 0"),
        ("JOTAUTH_REGISTRATION_OPEN", "maybe", "true or false"),
        ("JOTAUTH_MODE", "staging", "JOTAUTH_MODE"),
        ("JOTAUTH_SIGNING_ALG", "none", "not supported"),
        ("JOTAUTH_SIGNING_ALG", "HS256", "HMAC_SECRET"),
        ("JOTAUTH_MASTER_KEY", "c2hvcnQ", "32 random bytes"),
        ("JOTAUTH_MASTER_KEY", "A" * 43, "32 random bytes"),
    ],
)
def test_bad_values_are_refused(name: str, value: str, message: str) -> None:
    """A bad value names the variable or the rule it breaks."""
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({name: value})


def test_config_file(tmp_path: Path) -> None:
    """JOTAUTH_CONFIG_FILE supplies values; the environment wins over it."""
    config = tmp_path / "jotauth.env"
    config.write_text(
        "# comment\nJOTAUTH_AUDIENCE=from-file\nJOTAUTH_ACCESS_TTL=60\n\nJOTAUTH_ISSUER='https://f'\n"
    )
    settings = Settings.from_env({"JOTAUTH_CONFIG_FILE": str(config), "JOTAUTH_ACCESS_TTL": "120"})
    assert settings.audience == "from-file"
    assert settings.issuer == "https://f"
    assert settings.access_ttl == 120


def test_config_file_errors(tmp_path: Path) -> None:
    """A missing file or a line that is not JOTAUTH_NAME=value is refused with its place."""
    with pytest.raises(ConfigurationError, match="cannot read"):
        Settings.from_env({"JOTAUTH_CONFIG_FILE": str(tmp_path / "missing")})
    bad = tmp_path / "bad.env"
    bad.write_text("JOTAUTH_AUDIENCE=x\nPATH=/evil\n")
    with pytest.raises(ConfigurationError, match=r"bad\.env:2"):
        Settings.from_env({"JOTAUTH_CONFIG_FILE": str(bad)})


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
    with pytest.raises(ConfigurationError, match="JOTAUTH_DB_STATEMENT_TIMEOUT must be >= 1"):
        Settings.from_env({"JOTAUTH_DB_STATEMENT_TIMEOUT": "0"})
