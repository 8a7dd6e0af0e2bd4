"""First start: the master key, the key ring and (with ``--demo``) the tutorial's users.

Production refuses to start without ``JOTAUTH_MASTER_KEY``: private signing keys are sealed
with it, and a key stored beside the database would protect nothing. Demo and dev modes keep
one in ``jotauth-master.key`` (mode 0600) next to the SQLite file, created on first start, so
``jotauth serve --demo`` works in an empty folder and survives restarts.
"""

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.settings import Settings, decode_master_key
from jotauth.store.sql.engine import sqlite_file

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USER",
    "DemoAccounts",
    "master_key_file",
    "new_master_key",
    "resolve_master_key",
]

DEMO_USER = "john"
DEMO_PASSWORD = "password123"  # noqa: S105 - the tutorial's demo user, --demo only
MASTER_FILE = "jotauth-master.key"


def new_master_key() -> str:
    """32 random bytes, base64url: a value for JOTAUTH_MASTER_KEY."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def master_key_file(settings: Settings) -> Path:
    """Where demo/dev mode keeps its master key: beside the SQLite file, else the cwd."""
    database = sqlite_file(settings.database_url)
    return (database.parent if database else Path.cwd()) / MASTER_FILE


def resolve_master_key(settings: Settings) -> Settings:
    """Settings with a master key, or ConfigurationError saying how to make one."""
    if settings.master_key is not None or settings.signing_alg.startswith("HS"):
        return settings
    if settings.is_production:
        raise ConfigurationError(
            "JOTAUTH_MASTER_KEY is not set. It encrypts the signing keys at rest and must be "
            "32 random bytes: run `jotauth keys master`, store the value in your secret "
            "manager and export JOTAUTH_MASTER_KEY=<value> (or use --demo / JOTAUTH_MODE=dev "
            "to try jotauth locally)."
        )
    path = master_key_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_master_key() + "\n")
    return settings.replace(master_key=decode_master_key(path.read_text().strip()))


@dataclass(frozen=True)
class DemoAccounts:
    """What ``--demo`` created (None when the account already existed)."""

    john_created: bool
    admin_password: str | None
