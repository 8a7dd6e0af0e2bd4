"""The ``jotauth`` command group.

Subcommands load lazily so that ``jotauth token decode`` starts without importing the server
stack, and so a verify-only install (core + cli) still runs the token tools.
"""

import importlib
import importlib.util
from typing import Any

import click

__all__ = ["main"]

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "serve": "jotauth.cli.serve:serve",
    "db": "jotauth.cli.db:db",
    "user": "jotauth.cli.users:user",
    "keys": "jotauth.cli.keys:keys",
    "token": "jotauth.cli.tokens:token",
    "keygen": "jotauth.cli.tokens:keygen",
    "audit": "jotauth.cli.audit:audit",
}


def _available(name: str) -> bool:
    module = COMMANDS[name].partition(":")[0]
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module_name, _, attribute = COMMANDS[cmd_name].partition(":")
        command: Any = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - programming error
            raise TypeError(f"{COMMANDS[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="jotauth")
def main() -> None:
    """jotauth: JWT authentication server, key management and token tools."""
