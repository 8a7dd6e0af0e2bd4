"""``jotauth db upgrade|downgrade|current|purge``: schema migrations and database housekeeping."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from alembic.util.exc import CommandError
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from jotauth.cli._server import fail_cleanly
from jotauth.issuer.retention import retention_policy
from jotauth.issuer.settings import Settings
from jotauth.store.errors import StoreUnavailableError
from jotauth.store.sql import SQLStore
from jotauth.store.sql.engine import make_engine
from jotauth.store.sql.migrate import (
    current_revision,
    downgrade,
    downgrade_plan,
    head_revision,
    upgrade,
)

__all__ = ["db"]


@contextmanager
def _database(what: str) -> Iterator[tuple[str, Engine]]:
    """The configured database's URL (password hidden) and engine; failures as one line.

    ``what`` starts the message of a database error ("migration failed: ...").
    """
    with fail_cleanly():
        url = Settings.from_env().database_url
        engine = make_engine(url)
    try:
        yield make_url(url).render_as_string(hide_password=True), engine
    except StoreUnavailableError as exc:  # the engine's one mapping of "database not there"
        raise click.ClickException(f"{what}: {exc}") from exc
    except (SQLAlchemyError, CommandError) as exc:
        cause = getattr(exc, "orig", None) or exc
        detail = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        raise click.ClickException(f"{what}: {type(cause).__name__}: {detail}") from exc
    finally:
        engine.dispose()


@click.group()
def db() -> None:
    """Database schema (Alembic migrations shipped with jotauth)."""


@db.command("upgrade")
def upgrade_command() -> None:
    """Apply pending migrations to JOTAUTH_DATABASE_URL."""
    with _database("migration failed") as (_, engine):
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    if before == after:
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


@db.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision", default="-1")
@click.option("--yes", is_flag=True, help="Do not ask before dropping tables.")
def downgrade_command(revision: str, yes: bool) -> None:
    """Undo migrations: one step (-1) by default, -N steps, down to REVISION, or to base.

    The tables those migrations created are dropped with their data, so take a backup first;
    `base` leaves no jotauth table at all. The server migrates up again when it starts.
    """
    with _database("downgrade failed") as (shown, engine):
        current = current_revision(engine)
        with fail_cleanly():
            target, steps = downgrade_plan(current, revision)
        click.echo(f"{shown} is at revision {current}; going to {target} undoes:")
        for step in steps:
            click.echo(f"  {step.revision}  {step.summary}")
        if not yes:
            click.confirm(
                "The tables of these migrations and their data are dropped. Continue?",
                abort=True,
            )
        downgrade(engine, target)
    click.echo(f"database downgraded from {current} to {target}")


@db.command("current")
def current_command() -> None:
    """Show the database's revision and the newest one shipped."""
    with _database("cannot read the revision") as (_, engine):
        current = current_revision(engine)
    click.echo(f"current: {current or 'empty'}; newest: {head_revision()}")


@db.command("purge")
def purge_command() -> None:
    """Remove what retention removes, now: rotated and dead refresh tokens, dead sessions,
    expired denylist and feed events, expired authorization codes, ended SSO sessions, and
    audit events past JOTAUTH_AUDIT_RETENTION_DAYS.

    The server does this by itself every JOTAUTH_RETENTION_INTERVAL seconds; this runs the
    same rules once, to the end. Safe at any time: only rows that can no longer affect a
    decision are removed (docs/issuer.md, "Retention").
    """
    with fail_cleanly():
        settings = Settings.from_env()
        store = SQLStore.from_url(settings.database_url)
        try:
            report = store.purge(
                retention_policy(settings), now=time.time(), batch=settings.retention_batch
            )
        finally:
            store.close()
    click.echo(f"removed {report.total} expired row(s)")
    for rule, count in report.removed.items():
        click.echo(f"  {rule.replace('_', ' ')}: {count}")
