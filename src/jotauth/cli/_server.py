"""Shared by the server-side commands: settings from the environment, errors as exit 1."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from jotauth.errors import JotauthError
from jotauth.issuer.bootstrap import demo_key_file, resolve_master_key
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


def _beside_demo_server(settings: Settings) -> Settings:
    """Demo mode for a database ``serve --demo`` created, when nothing else is configured.

    Only where production mode would refuse for want of a master key; an explicit
    JOTAUTH_MODE (production included) or JOTAUTH_MASTER_KEY always wins. One line on stderr
    says what happened, so nobody mistakes a demo database for a protected one.
    """
    if (
        not settings.is_production
        or settings.master_key is not None
        or settings.signing_alg.startswith("HS")
        or "mode" in settings.model_fields_set  # JOTAUTH_MODE set, even to production
    ):
        return settings
    key_file = demo_key_file(settings)
    if key_file is None:
        return settings
    click.echo(
        f"jotauth: demo mode: this database was created by `jotauth serve --demo`; using "
        f"{key_file.name} beside it (set JOTAUTH_MASTER_KEY or JOTAUTH_MODE to override)",
        err=True,
    )
    return settings.replace(mode="demo")


def load_settings(*, beside_demo_server: bool = True, **overrides: Any) -> Settings:
    """Settings from JOTAUTH_* (and JOTAUTH_CONFIG_FILE), with the master key resolved.

    ``beside_demo_server``: a database created by ``serve --demo`` needs no variable (the
    management commands); ``serve`` itself passes False and asks for ``--demo``.
    """
    with fail_cleanly():
        settings = Settings.from_env(None, **overrides)
        if beside_demo_server and "mode" not in overrides:
            settings = _beside_demo_server(settings)
        return resolve_master_key(settings)


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
