"""The ``jotauth`` command group.

Subcommands load lazily so that ``jotauth token decode`` starts without importing the server
stack, and so a verify-only install (core + cli) still runs the token tools. A subcommand whose
dependencies are not installed stays listed, and running it prints one line naming the extra
to install instead of a traceback.
"""

import importlib
import importlib.util
import sys
from typing import Any, NoReturn

from jotauth.errors import MissingDependencyError

try:
    import click
except ModuleNotFoundError:  # the console script exists even without the [cli] extra
    sys.stderr.write("Error: the jotauth command needs click: pip install 'jotauth[cli]'\n")
    raise SystemExit(1) from None

__all__ = ["main"]

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "serve": "jotauth.cli.serve:serve",
    "db": "jotauth.cli.db:db",
    "user": "jotauth.cli.users:user",
    "client": "jotauth.cli.clients:client",
    "keys": "jotauth.cli.keys:keys",
    "token": "jotauth.cli.tokens:token",
    "keygen": "jotauth.cli.tokens:keygen",
    "audit": "jotauth.cli.audit:audit",
}

# The extra each command needs beyond click (the server stack: SQLAlchemy, Alembic, pwdlib...).
EXTRAS: dict[str, str] = {
    name: "issuer" for name in ("serve", "db", "user", "client", "keys", "audit")
}


def _available(name: str) -> bool:
    module = COMMANDS[name].partition(":")[0]
    return importlib.util.find_spec(module) is not None


def _unavailable(name: str, problem: MissingDependencyError) -> click.Command:
    """A stand-in for a command that cannot load: listed, and failing with one line."""

    def fail(**_: Any) -> NoReturn:
        raise click.ClickException(str(problem))

    return click.Command(
        name,
        callback=fail,
        help=f"Not installed: {problem}",
        short_help=f"(not installed: pip install 'jotauth[{problem.extra}]')",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def _missing(name: str | None, exc: ModuleNotFoundError) -> MissingDependencyError | None:
    """The extra to install for a module a command could not import (None: not a dependency)."""
    if isinstance(exc, MissingDependencyError):
        return exc
    if exc.name is None or exc.name.split(".")[0] == "jotauth" or name is None:
        return None  # a jotauth module missing is a broken install, not a missing extra
    return MissingDependencyError(
        f"jotauth {name} needs {exc.name.split('.')[0]}", EXTRAS.get(name, "cli"), exc
    )


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked or listed.

    A dependency missing when the command's module loads gives a stand-in command; one that a
    command imports later (``jotauth audit`` loads the server's audit code when it runs) is
    turned into the same one-line error here.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            problem = _missing(ctx.invoked_subcommand, exc)
            if problem is None:
                raise
            raise click.ClickException(str(problem)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module_name, _, attribute = COMMANDS[cmd_name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            problem = _missing(cmd_name, exc)
            if problem is None:
                raise
            return _unavailable(cmd_name, problem)
        command: Any = getattr(module, attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - programming error
            raise TypeError(f"{COMMANDS[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="jotauth")
def main() -> None:
    """jotauth: JWT authentication server, key management and token tools."""
