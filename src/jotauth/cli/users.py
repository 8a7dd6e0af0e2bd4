"""``jotauth user add|list|set-password|disable|enable|import``: accounts in the database."""

import csv
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import click

from jotauth.cli._server import fail_cleanly, open_runtime
from jotauth.issuer.errors import IssuerError
from jotauth.issuer.services.auth import Client
from jotauth.issuer.services.users import username_keys

__all__ = ["user"]

_CLI = Client(ip=None, user_agent="jotauth-cli")


def _permissions(values: tuple[str, ...]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for value in values:
        resource, sep, action = value.partition(":")
        if not sep or not resource or not action:
            raise click.BadParameter(f"{value!r} is not resource:action", param_hint="--permission")
        table.setdefault(resource, []).append(action)
    return table


@click.group()
def user() -> None:
    """User accounts."""


@user.command("add")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, help="A role (repeatable).")
@click.option(
    "--permission", "permissions", multiple=True, help="resource:action, e.g. articles:read."
)
def add(username: str, password: str, roles: tuple[str, ...], permissions: tuple[str, ...]) -> None:
    """Create USERNAME."""
    grants = _permissions(permissions)
    with open_runtime() as runtime, fail_cleanly():
        created = anyio.run(
            lambda: runtime.auth.create_user(
                username, password, roles=list(roles), permissions=grants
            )
        )
    click.echo(f"created user {created.username} (id {created.id})")


@user.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option(
    "--after", type=click.IntRange(0), default=None, help="Start after this user id (paging)."
)
def list_users(limit: int, after: int | None) -> None:
    """Users with their roles and state, by id; a full page says how to get the next."""
    with open_runtime() as runtime, fail_cleanly():
        users = runtime.store.list_users(limit=limit + 1, after=after)
    more, users = len(users) > limit, users[:limit]
    click.echo(f"{'ID':>6}  {'USERNAME':<24} {'STATE':<9} ROLES")
    for record in users:
        state = "disabled" if record.disabled else "active"
        click.echo(f"{record.id:>6}  {record.username:<24} {state:<9} {','.join(record.roles)}")
    if more:
        click.echo(f"more: jotauth user list --limit {limit} --after {users[-1].id}")


def _set_disabled(username: str, disabled: bool) -> None:
    with open_runtime() as runtime, fail_cleanly():
        found = runtime.store.find_user_any(username_keys(username))
        if found is None:
            raise click.ClickException(f"no user named {username!r}")
        anyio.run(lambda: runtime.auth.set_disabled(found.id, disabled, _CLI, "cli"))


@user.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable USERNAME: every token of theirs stops working now."""
    _set_disabled(username, True)
    click.echo(f"disabled {username}; every session and token of theirs is revoked")


@user.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Let a disabled USERNAME log in again."""
    _set_disabled(username, False)
    click.echo(f"enabled {username}")


def _new_password(from_stdin: bool) -> str:
    if not from_stdin:
        password: str = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise click.ClickException("no password on standard input (one line is read)")
    return password


@user.command("set-password")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of asking.",
)
def set_password(username: str, password_stdin: bool) -> None:
    """Set the password of USERNAME (any user, the demo admin too); their sessions end.

    The password is asked twice with hidden input, or read with --password-stdin; it is never
    a command-line argument, which other users could see in `ps` and shell history. The same
    rules as the server apply, every session and token of the user is revoked, and the change
    is in the audit trail.
    """
    with open_runtime() as runtime, fail_cleanly():
        found = runtime.store.find_user_any(username_keys(username))
        if found is None:
            raise click.ClickException(f"no user named {username!r}")
        password = _new_password(password_stdin)
        anyio.run(lambda: runtime.auth.set_password(found.id, password, _CLI, "cli"))
    click.echo(f"password of {found.username} set; every session and token of theirs is revoked")


def _rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return [dict(row) for row in csv.DictReader(text.splitlines())]
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError("a JSON file holds a list of users")
        return [dict(item) for item in data]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@user.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_users(file: Path) -> None:
    """Load users with existing password hashes (Argon2 or bcrypt such as $2b$10$...).

    FILE is JSON (a list), JSON lines, or CSV with the columns username, password_hash and
    optional roles (space separated) and permissions (resource:action, space separated).
    bcrypt hashes are upgraded to Argon2id at each user's next login.
    """
    try:
        rows = _rows(file)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from exc
    created, failed = 0, 0
    with open_runtime() as runtime:
        for number, row in enumerate(rows, 1):
            try:
                roles = row.get("roles") or []
                perms = row.get("permissions") or {}
                if isinstance(roles, str):
                    roles = roles.split()
                if isinstance(perms, str):
                    perms = _permissions(tuple(perms.split()))
                password_hash = row.get("password_hash")
                if not isinstance(password_hash, str) or not password_hash:
                    raise IssuerError("password_hash is missing")
                anyio.run(
                    partial(
                        runtime.auth.create_user,
                        row.get("username"),
                        None,
                        roles=roles,
                        permissions=perms,
                        password_hash=password_hash,
                    )
                )
                created += 1
            except (IssuerError, click.BadParameter) as exc:
                failed += 1
                click.echo(f"row {number}: skipped: {exc}", err=True)
    click.echo(f"imported {created} user(s), skipped {failed}")
    if failed:
        raise SystemExit(1)
