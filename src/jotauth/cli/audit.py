"""``jotauth audit``: read the audit trail from the configured database, with filters.

    jotauth audit --type login_failed --since 2026-11-29T00:00:00Z --limit 50
    jotauth audit --user 42 --outcome failure --json

The same events and filters as ``GET /admin/audit``, for an operator on the server itself
(no token needed: access to the database is the authority). Output is a table for people or
JSON lines for scripts; details are scrubbed of secrets either way.
"""

import inspect
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from jotauth.issuer.events import EVENT_TYPES

__all__ = ["audit"]


def _open_store() -> Any:
    """The issuer's store for the configured database (JOTAUTH_DATABASE_URL), not migrated."""
    from jotauth.errors import JotauthError
    from jotauth.issuer.settings import Settings
    from jotauth.store import open_store

    try:
        url = Settings.from_env().database_url
    except JotauthError as exc:
        raise click.ClickException(str(exc)) from None
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise click.ClickException(
                f"no database at {path} (set JOTAUTH_DATABASE_URL, or start the server once)"
            )
    return open_store(url, migrate=False)


def _time(value: str | None, name: str) -> float | None:
    from jotauth.issuer.observability.audit_api import parse_time

    try:
        return parse_time(value, name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{name}") from None


def _table(events: Iterable[dict[str, Any]]) -> str:
    rows = [
        (
            e.get("at") or "",
            e.get("type") or "",
            e.get("outcome") or "",
            str(e.get("user_id") or "-"),
            str(e.get("username") or "-"),
            str(e.get("ip") or "-"),
            json.dumps(e.get("detail") or {}, sort_keys=True, ensure_ascii=False),
        )
        for e in events
    ]
    header = ("time (UTC)", "event", "outcome", "user_id", "username", "ip", "detail")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(6)]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:6], widths, strict=True)]
        lines.append("  ".join([*cells, row[6]]).rstrip())
    return "\n".join(lines)


@click.command()
@click.option("--type", "type_", type=click.Choice(EVENT_TYPES), help="Only this event type.")
@click.option("--user", "user_id", help="Only events of this user id.")
@click.option("--outcome", type=click.Choice(("success", "failure")), help="Only this outcome.")
@click.option("--since", help="From this time (ISO 8601, e.g. 2026-11-29T00:00:00Z, or Unix s).")
@click.option("--until", help="Up to this time (ISO 8601 or Unix seconds).")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="At most N."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit(
    type_: str | None,
    user_id: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show auth events (logins, refreshes, reuse, logouts, key and admin actions), newest first."""
    from jotauth.issuer.observability.audit_api import serialize_event

    start, end = _time(since, "since"), _time(until, "until")
    if start is not None and end is not None and start > end:
        raise click.BadParameter("--since is after --until", param_hint="--since")
    store = _open_store()
    try:
        result = store.list_audit_events(
            type=type_, user_id=user_id, outcome=outcome, since=start, until=end, limit=limit
        )
        if inspect.isawaitable(result):
            import asyncio

            result = asyncio.run(_await(result))
        events = [serialize_event(item) for item in result]
    except Exception as exc:  # noqa: BLE001 - any database failure becomes a clear message
        raise click.ClickException(
            f"cannot read the audit trail ({type(exc).__name__}); is the database migrated? "
            "run: jotauth db upgrade"
        ) from None
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    if as_json:
        for event in events:
            click.echo(json.dumps(event, sort_keys=True, ensure_ascii=False))
        return
    if not events:
        click.echo("no audit events match", err=True)
        return
    click.echo(_table(events))


async def _await(value: Any) -> Any:
    return await value
