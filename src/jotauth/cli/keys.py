"""``jotauth keys list|rotate|revoke|master``: the signing key ring."""

import anyio
import click

from jotauth.cli._server import fail_cleanly, open_runtime
from jotauth.issuer.bootstrap import new_master_key
from jotauth.issuer.services.auth import Client

__all__ = ["keys"]

_CLI = Client(ip=None, user_agent="jotauth-cli")


@click.group()
def keys() -> None:
    """Signing keys: list the ring, rotate, revoke in an emergency, make a master key."""


@keys.command("list")
def list_keys() -> None:
    """Every key with its state (next, active, retiring, retired, revoked)."""
    with open_runtime() as runtime, fail_cleanly():
        records = runtime.ring.list()
    click.echo(f"{'KID':<46} {'ALG':<6} STATE")
    for record in records:
        click.echo(f"{record.kid:<46} {record.alg:<6} {record.state}")


@keys.command("rotate")
def rotate() -> None:
    """Promote the published next key to signing now; the old one retires."""
    with open_runtime() as runtime, fail_cleanly():
        kid = runtime.ring.rotate()
        anyio.run(lambda: runtime.auth.emit("key_rotated", _CLI, kid=kid, by="cli"))
    click.echo(f"active key is now {kid}; the previous key stays published until its tokens expire")


@keys.command("revoke")
@click.argument("kid")
@click.confirmation_option(prompt="Every token signed with this key stops working. Continue?")
def revoke(kid: str) -> None:
    """Emergency: unpublish KID at once and reject every token it signed.

    A kid may start with "-": write `jotauth keys revoke -- KID`.
    """
    with open_runtime() as runtime, fail_cleanly():
        record = runtime.ring.revoke(kid)
        anyio.run(lambda: runtime.auth.emit("key_revoked", _CLI, kid=record.kid, by="cli"))
    click.echo(f"revoked {record.kid} (was {record.state}); it is in the revocation feed")


@keys.command("master")
def master() -> None:
    """Print a new random master key for JOTAUTH_MASTER_KEY."""
    click.echo(new_master_key())
    click.echo(
        "# export JOTAUTH_MASTER_KEY=<the line above>; keep it in a secret manager. Changing it "
        "later makes existing sealed keys unreadable.",
        err=True,
    )
