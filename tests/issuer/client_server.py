"""A real ``jotauth serve`` for the OAuth client interop tests, and clients and users
registered on it with the ``jotauth client add`` and ``jotauth user add`` commands, as an
operator would."""

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.serve_process import CHEAP_ARGON2, ServeProcess, free_port, running_serve

from jotauth.cli.main import main

# ``jotauth client add`` options of a first-party app that signs users in (code + PKCE, refresh)
# and may introspect its own user tokens (their ``aud`` is the server's default audience).
SIGN_IN = ("--grant", "authorization_code", "--grant", "refresh_token", "--first-party",
           "--scope", "openid", "--scope", "profile", "--audience", "jotauth")  # fmt: skip


@contextmanager
def client_server(folder: Path, **settings: str) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    """The server on a free port of 127.0.0.1, with its environment (for the CLI); ``settings``
    adds ``JOTAUTH_*`` variables."""
    port = free_port()
    env = {
        "JOTAUTH_DATABASE_URL": f"sqlite:///{folder / 'jotauth.db'}",
        "JOTAUTH_MASTER_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
        "JOTAUTH_ISSUER": f"http://127.0.0.1:{port}",
        "JOTAUTH_RATELIMIT_ENABLED": "false",
        **CHEAP_ARGON2,
        **settings,
    }
    with running_serve(folder, env=env, port=port) as served:
        yield served, env


def add_client(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``jotauth client add ARGS`` for the reports API; the client as the command prints it."""
    result = CliRunner().invoke(
        main, ["client", "add", *args, "--scope", "reports:read", "--audience", "reports",
               "--json"], env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.output)
    return body


def add_user(env: dict[str, str], username: str, password: str, *permissions: str) -> str:
    """``jotauth user add USERNAME`` with ``resource:action`` permissions; the ``sub`` of the
    user's tokens (their id)."""
    grants = [arg for permission in permissions for arg in ("--permission", permission)]
    result = CliRunner().invoke(
        main, ["user", "add", username, "--password", password, *grants], env=env
    )
    assert result.exit_code == 0, result.output
    return result.output.rsplit("(id ", 1)[1].split(")")[0]
