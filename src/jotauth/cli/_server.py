"""Shared by the server-side commands: settings from the environment, errors as exit 1."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from jotauth.errors import JotauthError
from jotauth.issuer.bootstrap import resolve_master_key
from jotauth.issuer.runtime import Runtime, build_runtime
from jotauth.issuer.settings import Settings

__all__ = ["fail_cleanly", "load_settings", "open_runtime"]


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """Turn jotauth errors into ``Error: <message>`` and exit status 1."""
    try:
        yield
    except JotauthError as exc:
        raise click.ClickException(str(exc)) from exc


def load_settings(**overrides: Any) -> Settings:
    """Settings from JOTAUTH_* (and JOTAUTH_CONFIG_FILE), with the master key resolved."""
    with fail_cleanly():
        return resolve_master_key(Settings.from_env(None, **overrides))


@contextmanager
def open_runtime(**overrides: Any) -> Iterator[Runtime]:
    """The configured database and services; closed on exit."""
    settings = load_settings(**overrides)
    with fail_cleanly():
        runtime = build_runtime(settings)
        try:
            yield runtime
        finally:
            runtime.store.close()
