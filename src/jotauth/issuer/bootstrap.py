"""First start: the master key, the key ring and (with ``--demo``) the tutorial's users.

Production refuses to start without ``JOTAUTH_MASTER_KEY``: private signing keys are sealed
with it, and a key stored beside the database would protect nothing. Demo and dev modes keep
one in ``jotauth-master.key`` (mode 0600) next to the SQLite file, created on first start, so
``jotauth serve --demo`` works in an empty folder and survives restarts. Beside it they keep
``jotauth-service.token``: a service token for the revocation feed, so that a guard copied from
the README honours logouts without the newcomer configuring ``JOTAUTH_SERVICE_TOKENS`` first.

A database that ``serve --demo`` created is marked so in the database itself
(``jotauth_meta``): the CLI beside a demo server then manages its users and keys without any
variable (``demo_key_file``). The mark is written only into a database the demo start found
empty, so a production database, whose keys are sealed with a real master key, never gets it.
"""

import base64
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.settings import Settings, decode_master_key
from jotauth.store.sql import SQLStore
from jotauth.store.sql.engine import sqlite_file

__all__ = [
    "DEMO_CLIENT",
    "DEMO_CREATOR",
    "DEMO_PASSWORD",
    "DEMO_USER",
    "MASTER_FILE",
    "DemoAccounts",
    "demo_key_file",
    "is_new_database",
    "mark_demo_database",
    "master_key_file",
    "new_master_key",
    "resolve_master_key",
    "service_token_file",
]

DEMO_USER = "john"
DEMO_PASSWORD = "password123"  # noqa: S105 - the tutorial's demo user, --demo only
DEMO_CLIENT: Final = "demo-app"
MASTER_FILE: Final = "jotauth-master.key"
SERVICE_TOKEN_FILE: Final = "jotauth-service.token"  # noqa: S105 - a file name, not a secret
CREATED_BY: Final = "created_by"
"""The ``jotauth_meta`` entry naming what created the database."""
DEMO_CREATOR: Final = "jotauth serve --demo"


def new_master_key() -> str:
    """32 random bytes, base64url: a value for JOTAUTH_MASTER_KEY."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def master_key_file(settings: Settings) -> Path:
    """Where demo/dev mode keeps its master key: beside the SQLite file, else the cwd."""
    return _local_dir(settings) / MASTER_FILE


def _local_dir(settings: Settings) -> Path:
    database = sqlite_file(settings.database_url)
    return database.parent if database else Path.cwd()


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in ``path`` (owner-only), made by ``make`` on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first: read theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(make() + "\n")
    return path.read_text().strip()


def service_token_file(settings: Settings) -> Path:
    """Where demo/dev mode keeps the revocation feed's service token."""
    return _local_dir(settings) / SERVICE_TOKEN_FILE


def resolve_master_key(settings: Settings) -> Settings:
    """Settings with a master key, or ConfigurationError saying how to make one.

    Outside production the local service token is added to ``service_tokens`` too.
    """
    if not settings.is_production:
        local = _read_or_create(service_token_file(settings), lambda: secrets.token_urlsafe(32))
        if local not in settings.service_tokens:
            settings = settings.replace(service_tokens=(*settings.service_tokens, local))
    if settings.master_key is not None or settings.signing_alg.startswith("HS"):
        return settings
    if settings.is_production:
        raise ConfigurationError(
            "JOTAUTH_MASTER_KEY is not set. It encrypts the signing keys at rest and must be "
            "32 random bytes: run `jotauth keys master`, store the value in your secret "
            "manager and export JOTAUTH_MASTER_KEY=<value> (or use --demo / JOTAUTH_MODE=dev "
            "to try jotauth locally)."
        )
    key = _read_or_create(master_key_file(settings), new_master_key)
    return settings.replace(master_key=decode_master_key(key))


@dataclass(frozen=True)
class DemoAccounts:
    """What ``--demo`` created (None when the account already existed)."""

    john_created: bool
    admin_password: str | None
    client_created: bool = False
    """Whether the public ``demo-app`` client (password + refresh grants) was registered."""


def is_new_database(
    url: str, *, wait: float = 0.0, report: Callable[[str], None] | None = None
) -> bool:
    """Whether ``url`` holds no jotauth schema yet (a SQLite file that does not exist is new).

    ``wait`` seconds are given to a database that does not answer yet (``serve`` passes
    ``JOTAUTH_DB_STARTUP_WAIT``), saying so through ``report``.
    """
    database = sqlite_file(url)
    if database is not None and not database.exists():
        return True
    store = SQLStore.from_url(url, migrate_now=False)
    try:
        if wait > 0:
            store.wait_until_ready(wait, report=report or (lambda _line: None))
        return store.revision() is None
    finally:
        store.close()


def mark_demo_database(store: SQLStore, now: float | None = None) -> None:
    """Record in the database that ``serve --demo`` created it (call only for a new one)."""
    store.set_meta(CREATED_BY, DEMO_CREATOR, now=time.time() if now is None else now)


def demo_key_file(settings: Settings) -> Path | None:
    """The master key file of the demo SQLite database ``settings`` name, else None.

    All three must hold: the database file exists, ``serve --demo`` marked it as created in
    demo mode, and its ``jotauth-master.key`` sits beside it. Nothing is created or migrated:
    a production database or a missing key file gives None, and then the master key is needed.
    """
    database = sqlite_file(settings.database_url)
    if database is None or not database.is_file():
        return None
    key_file = database.parent / MASTER_FILE
    if not key_file.is_file():
        return None
    store = SQLStore.from_url(settings.database_url, migrate_now=False)
    try:
        created_by = store.get_meta(CREATED_BY)
    finally:
        store.close()
    return key_file if created_by == DEMO_CREATOR else None
