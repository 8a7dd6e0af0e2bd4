"""``jotauth db upgrade|current``: schema migrations of the configured database."""

import click

from jotauth.cli._server import fail_cleanly
from jotauth.issuer.settings import Settings
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
