"""``jotauth db upgrade|current|purge``: schema migrations and housekeeping of the database."""

import time

import click

from jotauth.cli._server import fail_cleanly
from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore
from jotauth.store.sql.engine import make_engine
from jotauth.store.sql.migrate import current_revision, head_revision, upgrade

__all__ = ["db"]


@click.group()
def db() -> None:
    """Database schema (Alembic migrations shipped with jotauth)."""


@db.command("upgrade")
def upgrade_command() -> None:
    """Apply pending migrations to JOTAUTH_DATABASE_URL."""
    with fail_cleanly():
        settings = Settings.from_env()
        engine = make_engine(settings.database_url)
        try:
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
        except Exception as exc:
            raise click.ClickException(f"migration failed: {type(exc).__name__}: {exc}") from exc
        finally:
            engine.dispose()
    if before == after:
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


@db.command("current")
def current_command() -> None:
    """Show the database's revision and the newest one shipped."""
    with fail_cleanly():
        engine = make_engine(Settings.from_env().database_url)
        try:
            current = current_revision(engine)
        finally:
            engine.dispose()
    click.echo(f"current: {current or 'empty'}; newest: {head_revision()}")


@db.command("purge")
def purge_command() -> None:
    """Delete expired denylist entries and the refresh tokens of long-dead sessions.

    Safe at any time (run it daily from cron): only rows that can no longer affect a
    decision are removed.
    """
    with fail_cleanly():
        store = SQLStore.from_url(Settings.from_env().database_url)
        try:
            removed = store.purge(now=time.time())
        finally:
            store.close()
    click.echo(f"removed {removed} expired row(s)")
