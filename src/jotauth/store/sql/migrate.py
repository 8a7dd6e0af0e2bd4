"""Alembic migrations shipped inside the package, run on start and by ``jotauth db``.

``upgrade`` and ``downgrade`` hand Alembic an open connection (``config.attributes``), so the
server and the CLI migrate on the engine they configured; ``migrations/env.py`` builds its own
engine only when the plain ``alembic`` command runs it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine

from jotauth.store.errors import StoreError

__all__ = [
    "MIGRATION_LOCK",
    "SCRIPT_LOCATION",
    "Step",
    "current_revision",
    "downgrade",
    "downgrade_plan",
    "head_revision",
    "upgrade",
]

_SCRIPTS = Path(__file__).with_name("migrations")
SCRIPT_LOCATION: Final = "jotauth.store.sql:migrations"
"""``script_location`` for a plain ``alembic.ini``: the scripts inside the installed package."""
MIGRATION_LOCK: Final = 74051
"""The PostgreSQL advisory lock held while migrating, so one of many starting workers does it."""


@dataclass(frozen=True)
class Step:
    """One migration a downgrade would undo: its revision and the first line of its docstring."""

    revision: str
    summary: str


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def _run(engine: Engine, action: Callable[[Config], None]) -> None:
    config = _config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Several workers starting at once: one migrates, the others wait for it.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        action(config)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there."""
    _run(engine, lambda config: command.upgrade(config, revision))


def _summary(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


def downgrade_plan(current: str | None, target: str = "-1") -> tuple[str, list[Step]]:
    """The revision ``target`` names and the migrations undone to reach it, newest first.

    ``target`` is ``-N`` (N steps down), ``base`` (no table left) or a revision older than
    ``current``. StoreError says why a target cannot be reached.
    """
    if current is None:
        raise StoreError("the database has no jotauth schema: there is nothing to downgrade")
    scripts = ScriptDirectory.from_config(_config())
    chain = []
    revision: str | None = current
    while revision is not None:
        try:
            script = scripts.get_revision(revision)
        except CommandError:
            script = None
        if script is None:
            raise StoreError(
                f"the database is at revision {revision}, which this version of jotauth does "
                "not ship: downgrade it with the version that migrated it"
            )
        chain.append(script)
        down = script.down_revision
        revision = down if isinstance(down, str) or down is None else down[0]
    if target == "base":
        undone = chain
    elif target.startswith("-") and target[1:].isdigit() and int(target[1:]) > 0:
        steps = int(target[1:])
        if steps > len(chain):
            raise StoreError(
                f"the database is only {len(chain)} revision(s) above base; use `base` to "
                "remove every table"
            )
        undone = chain[:steps]
    else:
        ids = [script.revision for script in chain]
        if target not in ids:
            raise StoreError(
                f"{target!r} is not a revision below {current}; choose one of "
                f"{', '.join([*ids[1:], 'base'])} or -N"
            )
        undone = chain[: ids.index(target)]
    if not undone:
        raise StoreError(f"the database is already at revision {current}")
    below = undone[-1].down_revision
    resolved = "base" if below is None else str(below)
    return resolved, [Step(script.revision, _summary(script.doc)) for script in undone]


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` (a revision id or ``base``): their tables go."""
    _run(engine, lambda config: command.downgrade(config, revision))


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of jotauth."""
    return ScriptDirectory.from_config(_config()).get_current_head()
