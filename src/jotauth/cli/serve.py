"""``jotauth serve``: run the auth server with uvicorn.

In an empty folder it creates and migrates ``jotauth.db`` and a key ring, then says what to do
next. ``--demo`` also creates the tutorial's john / password123 and an admin, keeps a master
key file beside the database and marks a database it created as a demo one, so that the
``jotauth user`` and ``jotauth keys`` commands work beside it without any variable; without
``--demo``, production mode needs JOTAUTH_MASTER_KEY.
"""

import importlib
import os
import secrets

import click
from sqlalchemy import make_url

from jotauth.cli._server import fail_cleanly, load_settings
from jotauth.errors import MissingDependencyError
from jotauth.issuer.bootstrap import (
    DEMO_CLIENT,
    DEMO_PASSWORD,
    DEMO_USER,
    is_new_database,
    mark_demo_database,
    service_token_file,
)
from jotauth.issuer.runtime import build_runtime, create_demo_accounts
from jotauth.store.records import KeyRecord

__all__ = ["serve"]

_BANNER = "=" * 72


def _base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{shown}:{port}"


def _require_server_stack() -> None:
    """FastAPI and uvicorn, checked before anything starts (workers import them later)."""
    for module, what in (("fastapi", "FastAPI"), ("uvicorn", "uvicorn")):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(f"jotauth serve needs {what}", "issuer", exc) from None


@click.command()
@click.option("--demo", is_flag=True, help="Create john/password123 and an admin (demo only).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(demo: bool, host: str, port: int, workers: int) -> None:
    """Run the auth server (SQLite file by default; JOTAUTH_DATABASE_URL for PostgreSQL)."""
    with fail_cleanly():
        _require_server_stack()
    overrides: dict[str, object] = {}
    if demo:
        overrides["mode"] = "demo"
    settings = load_settings(beside_demo_server=False, **overrides)
    if "issuer" not in settings.model_fields_set:  # no JOTAUTH_ISSUER: where we listen
        with fail_cleanly():
            settings = settings.replace(issuer=_base_url(host, port))
    per_worker = [
        what
        for what, shared in (
            ("brute-force counters", settings.ratelimit_redis_url),
            ("DPoP replay cache", settings.redis_url),
        )
        if not shared
    ]
    if workers > 1 and per_worker:
        click.secho(
            f"warning: {workers} workers and no JOTAUTH_REDIS_URL: each worker keeps its own "
            f"{' and '.join(per_worker)} (limits counted per worker; a DPoP proof replayable "
            "once at each worker). Set JOTAUTH_REDIS_URL to share them across workers.",
            fg="yellow",
            err=True,
        )
    with fail_cleanly():

        def report(line: str) -> None:
            click.echo(line, err=True)

        new_database = demo and is_new_database(
            settings.database_url, wait=settings.db_startup_wait, report=report
        )
        runtime = build_runtime(settings, report=report)
        if new_database:
            mark_demo_database(runtime.store)
    base = settings.issuer
    active: list[KeyRecord] = [k for k in runtime.ring.list() if k.state == "active"]
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    click.echo(f"jotauth: database {shown} is migrated")
    if active:
        click.echo(f"jotauth: signing with {active[-1].alg} key {active[-1].kid}")
    if demo:
        accounts = create_demo_accounts(runtime, secrets.token_urlsafe(12))
        click.secho(_BANNER, fg="yellow", err=True)
        click.secho(
            "DEMO MODE: not for production. Demo accounts and a local master key file.",
            fg="yellow", bold=True, err=True,
        )  # fmt: skip
        if accounts.john_created:
            click.secho(f"  created user {DEMO_USER} / {DEMO_PASSWORD}", fg="yellow", err=True)
        else:
            click.secho(f"  user {DEMO_USER} exists (password {DEMO_PASSWORD})", err=True)
        if accounts.admin_password:
            click.secho(
                f"  created user admin / {accounts.admin_password} (admin permission; shown "
                "once: `jotauth user set-password admin` sets a new one)",
                fg="yellow", err=True,
            )  # fmt: skip
        if accounts.client_created:
            click.secho(
                f"  registered the public client {DEMO_CLIENT} (password and refresh grants)",
                fg="yellow", err=True,
            )  # fmt: skip
        click.secho(
            f"  service token for guards' revocation feed: {service_token_file(settings)}",
            err=True,
        )
        click.secho(_BANNER, fg="yellow", err=True)
    runtime.store.close()
    click.echo("Next:")
    click.echo(
        f'  curl -X POST {base}/login -H "Content-Type: application/json" '
        f'-d \'{{"username": "{DEMO_USER}", "password": "{DEMO_PASSWORD}"}}\''
    )
    click.echo(f'  curl {base}/profile -H "Authorization: Bearer <access_token>"')
    click.echo(f"  API docs: {base}/docs   JWKS: {base}/.well-known/jwks.json")
    if not demo:
        click.echo("  add a user: jotauth user add <name>")

    import uvicorn

    # Workers re-read the settings from the environment: pass on what this command decided.
    os.environ["JOTAUTH_MODE"] = settings.mode
    os.environ["JOTAUTH_ISSUER"] = settings.issuer
    if settings.master_key is not None:
        import base64

        os.environ["JOTAUTH_MASTER_KEY"] = base64.urlsafe_b64encode(settings.master_key).decode()
    uvicorn.run(
        "jotauth.issuer.app:create_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
    )
