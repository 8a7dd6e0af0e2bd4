"""``jotauth client add|list|show|rotate-secret|disable|enable``: the OAuth client registry.

A secret is printed once, by ``add`` and ``rotate-secret``, on its own line (``--json``: in
the JSON object) so that a script can capture it; nothing shows it again.
"""

import json
from pathlib import Path
from typing import Any

import anyio
import click

from jotauth.cli._server import fail_cleanly, open_runtime
from jotauth.issuer.services.clients import AUTH_METHODS, GRANT_TYPES, ClientSpec
from jotauth.issuer.services.id_tokens import ID_TOKEN_ALG, ID_TOKEN_ALGORITHMS
from jotauth.store.records import ClientRecord

__all__ = ["client"]


def _view(record: ClientRecord, secret: str | None = None, *, shown: bool = False) -> Any:
    body: dict[str, Any] = {
        name: getattr(record, name)
        for name in ("client_id", "name", "type", "token_endpoint_auth_method", "grant_types",
                     "scopes", "audiences", "redirect_uris", "first_party", "access_ttl", "tier",
                     "rate_limit", "rate_window", "jwks_uri", "backchannel_logout_uri",
                     "post_logout_redirect_uris", "dpop_bound_access_tokens", "disabled")
    }  # fmt: skip
    body["jwks"] = record.jwks
    body["id_token_signed_response_alg"] = record.id_token_signed_response_alg or ID_TOKEN_ALG
    if shown:
        body["client_secret"] = secret
    return body


def _print(record: ClientRecord, secret: str | None, as_json: bool, *, shown: bool) -> None:
    if as_json:
        click.echo(json.dumps(_view(record, secret, shown=shown), indent=2))
        return
    click.echo(f"client_id: {record.client_id}")
    if shown and secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("(shown once: store it now; `jotauth client rotate-secret` makes a new one)")


@click.group()
def client() -> None:
    """OAuth clients: services and applications that ask for tokens."""


@client.command("add")
@click.argument("name")
@click.option("--public", "public", is_flag=True, help="A public client (no secret).")
@click.option("--auth-method", type=click.Choice(AUTH_METHODS), help="Token endpoint method.")
@click.option("--grant", "grants", multiple=True, type=click.Choice(GRANT_TYPES),
              help="An allowed grant (repeatable; default client_credentials).")  # fmt: skip
@click.option("--scope", "scopes", multiple=True, help="A scope it may ask for (repeatable).")
@click.option("--audience", "audiences", multiple=True, help="An audience (repeatable).")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI.")
@click.option("--first-party", is_flag=True, help="A first-party application (no consent).")
@click.option("--access-ttl", type=click.IntRange(1, 86400), help="Access token seconds.")
@click.option("--id-token-alg", type=click.Choice(ID_TOKEN_ALGORITHMS),
              help="Its ID tokens' algorithm (default RS256).")  # fmt: skip
@click.option("--tier", help="Subscription tier (into its tokens).")
@click.option("--rate-limit", type=click.IntRange(1), help="Requests per --rate-window.")
@click.option("--rate-window", type=click.IntRange(1, 86400), help="Seconds (default 60).")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The client's public JWK Set (private_key_jwt).")  # fmt: skip
@click.option("--jwks-uri", help="Where the client publishes its JWK Set (private_key_jwt).")
@click.option("--backchannel-logout-uri", help="Where logout tokens are sent.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Where logout may return the browser (exact; repeatable).")  # fmt: skip
@click.option("--require-dpop", is_flag=True,
              help="Refuse its token requests without a DPoP proof (RFC 9449 5.2).")  # fmt: skip
@click.option("--client-id", help="A chosen client_id (default: random).")
@click.option("--json", "as_json", is_flag=True, help="Print the client as JSON.")
def add(
    name: str, public: bool, auth_method: str | None, grants: tuple[str, ...],
    scopes: tuple[str, ...], audiences: tuple[str, ...], redirect_uris: tuple[str, ...],
    first_party: bool, access_ttl: int | None, id_token_alg: str | None, tier: str | None,
    rate_limit: int | None,
    rate_window: int | None, jwks_file: Path | None, jwks_uri: str | None,
    backchannel_logout_uri: str | None, post_logout_redirect_uris: tuple[str, ...],
    require_dpop: bool, client_id: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Register a client called NAME; a secret-using client's secret is printed once."""
    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(
                f"not a JSON JWK Set: {exc}", param_hint="--jwks-file"
            ) from None
    spec = ClientSpec(
        name, type="public" if public else "confidential", token_endpoint_auth_method=auth_method,
        redirect_uris=redirect_uris, grant_types=grants or ("client_credentials",),
        scopes=scopes, audiences=audiences, first_party=first_party, access_ttl=access_ttl,
        id_token_signed_response_alg=id_token_alg, tier=tier, rate_limit=rate_limit,
        rate_window=rate_window, jwks=jwks,
        jwks_uri=jwks_uri, backchannel_logout_uri=backchannel_logout_uri,
        post_logout_redirect_uris=post_logout_redirect_uris,
        dpop_bound_access_tokens=require_dpop,
    )  # fmt: skip
    with open_runtime() as runtime, fail_cleanly():
        record, secret = anyio.run(lambda: runtime.clients.register(spec, client_id=client_id))
    _print(record, secret, as_json, shown=True)


@client.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
def list_clients(limit: int) -> None:
    """Clients with their type, method, grants and state."""
    with open_runtime() as runtime, fail_cleanly():
        records = anyio.run(lambda: runtime.clients.list(limit=limit))
    click.echo(f"{'CLIENT_ID':<24} {'NAME':<20} {'METHOD':<20} {'STATE':<9} GRANTS")
    for record in records:
        state = "disabled" if record.disabled else "active"
        click.echo(
            f"{record.client_id:<24} {record.name[:20]:<20} "
            f"{record.token_endpoint_auth_method:<20} {state:<9} {','.join(record.grant_types)}"
        )


@client.command("show")
@click.argument("client_id")
def show(client_id: str) -> None:
    """A client as JSON (never its secret)."""
    with open_runtime() as runtime, fail_cleanly():
        record = anyio.run(lambda: runtime.clients.get(client_id))
    click.echo(json.dumps(_view(record), indent=2))


@client.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print the client as JSON.")
def rotate_secret(client_id: str, as_json: bool) -> None:
    """A new secret for CLIENT_ID, printed once; the old one stops working now."""
    with open_runtime() as runtime, fail_cleanly():
        record, secret = anyio.run(lambda: runtime.clients.rotate_secret(client_id))
    _print(record, secret, as_json, shown=True)


@client.command("disable")
@click.argument("client_id")
def disable(client_id: str) -> None:
    """Disable CLIENT_ID: it cannot authenticate, and its tokens stop working everywhere."""
    with open_runtime() as runtime, fail_cleanly():
        anyio.run(lambda: runtime.clients.set_disabled(client_id, True))
    click.echo(f"disabled client {client_id}")


@client.command("enable")
@click.argument("client_id")
def enable(client_id: str) -> None:
    """Let CLIENT_ID authenticate again (its old tokens stay revoked)."""
    with open_runtime() as runtime, fail_cleanly():
        anyio.run(lambda: runtime.clients.set_disabled(client_id, False))
    click.echo(f"enabled client {client_id}")
