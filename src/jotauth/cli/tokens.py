"""``jotauth keygen`` and ``jotauth token encode|decode|verify|dpop-proof``: the tutorial's JWT
builder, decoder and troubleshooting list, and DPoP proofs (RFC 9449), in the terminal.

Only the jose core and click are imported (plus httpx for ``--jwks URL`` when installed), so
these commands run in a verify-only install. Private key material is written only to the file
named by ``--out`` (mode 0600) or to stdout when asked with ``--out -``; nothing else prints it.

Exit codes: 0 success, 1 the token is not valid (``verify``) or not a token (``decode``),
2 a usage error or an unreadable key, key set or claims file.
"""

import json
import os
import secrets
import time
from typing import Any

import click

from jotauth import jose
from jotauth.cli._token_keys import (
    KeyFileError,
    load_decryption_keys,
    load_signing_key,
    load_verification_keys,
    read_file,
    read_token,
)
from jotauth.cli._token_time import format_date, parse_duration, relative
from jotauth.cli._token_view import (
    explain,
    inspect,
    inspect_encrypted,
    pretty,
    printable,
    render,
)
from jotauth.jose import dpop

__all__ = ["keygen", "token"]

_ALG = click.Choice(jose.ALGORITHMS)


def _write_private(path: str, data: bytes, force: bool) -> None:
    """Write ``data`` to ``path`` created with mode 0600 (never briefly world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path!r} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {path!r}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


@click.command()
@click.option("--alg", type=_ALG, default="EdDSA", show_default=True, help="Algorithm.")
@click.option("--crv", type=click.Choice(["Ed25519", "Ed448"]), help="Curve for EdDSA.")
@click.option("--size", type=click.IntRange(2048, 8192), help="RSA modulus bits.")
@click.option("--kid", help="Key id (default: the RFC 7638 thumbprint).")
@click.option(
    "--format", "fmt", type=click.Choice(["jwk", "pem"]), default="jwk", show_default=True
)
@click.option(
    "--out",
    required=True,
    help="File for the private key (created 0600); '-' prints it to stdout.",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def keygen(
    alg: str, crv: str | None, size: int | None, kid: str | None, fmt: str, out: str, force: bool
) -> None:
    """Generate a signing key: private part to --out, public part printed."""
    options: dict[str, Any] = {}
    if crv is not None:
        if alg != "EdDSA":
            raise click.UsageError("--crv applies to --alg EdDSA only")
        options["crv"] = crv
    if size is not None:
        if alg[:2] not in ("RS", "PS"):
            raise click.UsageError("--size applies to RSA algorithms (RS*, PS*) only")
        options["size"] = size
    hmac = alg.startswith("HS")
    if hmac and fmt == "pem":
        raise click.UsageError("an HMAC secret has no PEM form; use --format jwk")
    key = jose.Key.generate(alg, kid=kid, **options)
    if fmt == "jwk":
        private = (json.dumps(key.to_jwk(private=True), indent=2) + "\n").encode()
    else:
        private = key.to_pem(private=True)
    if out == "-":
        click.echo(private.decode(), nl=False)
    else:
        _write_private(out, private, force)
        click.echo(f"wrote the private key to {out} (mode 0600); kid {key.kid}", err=True)
    if fmt == "pem" and kid is not None:
        click.echo("note: PEM does not store the kid; pass --kid when you load it", err=True)
    if hmac:
        click.echo(
            "HMAC: there is no public part; the secret itself verifies, share it with care",
            err=True,
        )
        return
    if out == "-":
        return
    public = key.public()
    if fmt == "jwk":
        click.echo(json.dumps(public.to_jwk(), indent=2))
    else:
        click.echo(public.to_pem().decode(), nl=False)


@click.group()
def token() -> None:
    """Build, decode and verify JWTs."""


def _claim_pair(text: str) -> tuple[str, Any]:
    """``name=value`` (a string) or ``name:=json`` (any JSON value)."""
    first_equals = text.find("=")
    if first_equals > 0 and text[first_equals - 1] == ":":
        name, _, raw = text.partition(":=")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            raise click.BadParameter(f"{name}:= needs a JSON value, got {raw[:40]!r}") from None
    elif "=" in text:
        name, _, value = text.partition("=")
    else:
        raise click.BadParameter(f"{text[:40]!r}: use name=value or name:=json")
    if not name:
        raise click.BadParameter(f"{text[:40]!r}: the claim name is empty")
    return name, value


def _base_claims(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = read_file(path, "claims")
    try:
        claims = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeyFileError(f"claims file {path!r} is not valid JSON") from None
    if not isinstance(claims, dict):
        raise KeyFileError(f"claims file {path!r} must hold a JSON object")
    return claims


@token.command()
@click.option("--key", "key_path", required=True, help="Private key: JWK, PEM or HMAC secret.")
@click.option("--alg", type=_ALG, help="Algorithm (default: the key's).")
@click.option("--kid", help="Key id to put in the header (default: the key's).")
@click.option("--claim", "pairs", multiple=True, help="name=string or name:=json; repeatable.")
@click.option("--claims-json", help="File (or '-') with a JSON object of claims.")
@click.option("--exp", default=None, help="Lifetime like 15m, 1h, 7d; 'none' for no exp. [15m]")
@click.option("--iss", help="Issuer.")
@click.option("--aud", multiple=True, help="Audience; repeat for several.")
@click.option("--sub", help="Subject.")
@click.option("--typ", help="typ header, e.g. at+jwt (default JWT).")
@click.option("--no-iat", is_flag=True, help="Leave out iat.")
@click.option("--no-jti", is_flag=True, help="Leave out jti.")
def encode(
    key_path: str,
    alg: str | None,
    kid: str | None,
    pairs: tuple[str, ...],
    claims_json: str | None,
    exp: str | None,
    iss: str | None,
    aud: tuple[str, ...],
    sub: str | None,
    typ: str | None,
    no_iat: bool,
    no_jti: bool,
) -> None:
    """Sign a token (the builder). Prints the token only, for use in scripts."""
    claims = _base_claims(claims_json)
    for pair in pairs:
        name, value = _claim_pair(pair)
        claims[name] = value
    for name, given in (("iss", iss), ("sub", sub)):
        if given is not None:
            claims[name] = given
    if aud:
        claims["aud"] = aud[0] if len(aud) == 1 else list(aud)
    now = int(time.time())
    if not no_iat:
        claims.setdefault("iat", now)
    if not no_jti:
        claims.setdefault("jti", secrets.token_urlsafe(16))
    if exp is not None and exp.lower() == "none":
        claims.pop("exp", None)
    elif exp is not None or "exp" not in claims:
        try:
            claims["exp"] = now + parse_duration(exp or "15m")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--exp") from None
    key = load_signing_key(key_path, alg, kid)
    headers = {"typ": typ} if typ else None
    try:
        click.echo(jose.encode(claims, key, headers=headers))
    except (jose.JoseError, ValueError, TypeError) as exc:
        raise click.ClickException(f"cannot sign: {exc}") from None


@token.command("dpop-proof")
@click.option(
    "--key", "key_path", required=True, help="Private key (JWK or PEM): ES256, EdDSA, RSA."
)
@click.option("--alg", type=_ALG, help="Algorithm (default: the key's).")
@click.option("--method", default="POST", show_default=True, help="The request's HTTP method.")
@click.option("--url", required=True, help="The request's URL (its query is not part of htu).")
@click.option("--access-token", help="The DPoP-bound token it goes with (adds ath).")
@click.option("--nonce", help="The server's DPoP-Nonce, when it asked for one.")
def dpop_proof(
    key_path: str,
    alg: str | None,
    method: str,
    url: str,
    access_token: str | None,
    nonce: str | None,
) -> None:
    """Make a DPoP proof (RFC 9449) for one request: send it as the ``DPoP`` header.

    A proof is single use (a new jti each time) and valid for about a minute.
    """
    key = load_signing_key(key_path, alg, None)
    try:
        proof = dpop.make_proof(key, method.upper(), url, access_token=access_token, nonce=nonce)
    except (jose.JoseError, ValueError) as exc:
        raise click.ClickException(f"cannot make a DPoP proof: {exc}") from None
    click.echo(proof)


@token.command()
@click.argument("token_text", metavar="TOKEN", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--color/--no-color", default=None, help="Force colour on or off.")
@click.option(
    "--key", "key_path", help="Private key (JWK, JWK Set or PEM) to decrypt an encrypted JWE."
)
def decode(token_text: str | None, as_json: bool, color: bool | None, key_path: str | None) -> None:
    """Show what a token says, WITHOUT verifying it (TOKEN or '-' for stdin).

    An encrypted token (JWE, five parts) shows its protected header; with --key it is
    decrypted and the inner token shown, still NOT VERIFIED.
    """
    raw = read_token(token_text)
    now = time.time()
    try:
        if key_path is not None and raw.count(".") == 4:
            alg = _jwe_alg(raw)
            inspection = inspect_encrypted(raw, now, load_decryption_keys(key_path, alg))
        else:
            inspection = inspect(raw, now)
    except jose.JoseError as exc:
        raise click.ClickException(printable(f"not a readable JWT: {explain(exc)}")) from None
    if as_json:
        click.echo(pretty(inspection.to_json()))
    else:
        click.echo(render(inspection), color=color)


def _jwe_alg(raw: str) -> str | None:
    """The JWE header's alg, to bind a decryption key that names none (a PEM)."""
    try:
        alg = jose.jwe.peek_header(raw).get("alg")
    except jose.JoseError:
        return None
    return alg if isinstance(alg, str) else None


def _alg_hint(raw: str, algs: tuple[str, ...]) -> str | None:
    """The alg to bind keys that carry none: the single --alg, else the token's if allowed."""
    if len(algs) == 1:
        return algs[0]
    try:
        alg = jose.peek_header(raw).get("alg")
    except jose.JoseError:
        return None
    if alg in jose.ALGORITHMS and (not algs or alg in algs):
        return str(alg)
    return None


@token.command()
@click.argument("token_text", metavar="TOKEN", required=False)
@click.option("--key", "key_path", help="Key file: JWK, JWK Set, PEM or HMAC secret.")
@click.option("--jwks", help="JWK Set: a file or an http(s) URL.")
@click.option("--iss", multiple=True, help="Expected issuer; repeatable.")
@click.option("--aud", multiple=True, help="Expected audience (this service); repeatable.")
@click.option("--sub", help="Expected subject.")
@click.option("--typ", help="Required typ header, e.g. at+jwt.")
@click.option("--alg", "algs", multiple=True, type=_ALG, help="Allowed algorithm; repeatable.")
@click.option("--leeway", type=click.FloatRange(0, 3599), default=0, help="Clock skew seconds.")
@click.option("--require", "required", multiple=True, help="Required claims. [exp]")
@click.option(
    "--decrypt-key", "decrypt_path", help="Private JWE key: the token must be encrypted (nested)."
)
@click.option("--color/--no-color", default=None, help="Force colour on or off.")
def verify(
    token_text: str | None,
    key_path: str | None,
    jwks: str | None,
    iss: tuple[str, ...],
    aud: tuple[str, ...],
    sub: str | None,
    typ: str | None,
    algs: tuple[str, ...],
    leeway: float,
    required: tuple[str, ...],
    decrypt_path: str | None,
    color: bool | None,
) -> None:
    """Verify a token; exit 0 and print its claims, or exit 1 and say exactly why not.

    A nested token (signed, then encrypted) needs --decrypt-key: it is decrypted, then its
    inner JWS verified with --key/--jwks and the claim options.
    """
    if (key_path is None) == (jwks is None):
        raise click.UsageError("give exactly one of --key FILE or --jwks URL|FILE")
    raw = read_token(token_text)
    if decrypt_path is None and raw.count(".") == 4:
        raise click.UsageError(
            "this token is encrypted (a JWE, five parts): pass --decrypt-key FILE with the "
            "recipient's private key to verify the signed token inside"
        )
    now = time.time()
    signed, decrypt_keys, jwe_header = raw, None, None
    try:
        if decrypt_path is not None:
            decrypt_keys = load_decryption_keys(decrypt_path, _jwe_alg(raw))
            if raw.count(".") == 4:
                jwe_header = jose.jwe.peek_header(raw)
                # Only to bind keys that name no alg: the decode below decrypts again and checks.
                signed = jose.jwe.decrypt(raw, decrypt_keys).decode("ascii", errors="replace")
        keys = load_verification_keys(key_path, jwks, _alg_hint(signed, algs))
        claims = jose.decode(
            raw,
            keys,
            algorithms=algs or None,
            issuer=iss or None,
            audience=aud or None,
            subject=sub,
            typ=typ,
            leeway=leeway,
            require=required or ("exp",),
            now=now,
            decrypt_with=decrypt_keys,
        )
    except jose.JoseError as exc:
        click.echo(
            click.style("INVALID ", fg="red", bold=True) + printable(explain(exc)),
            err=True,
            color=color,
        )
        if isinstance(exc, jose.ExpiredTokenError):
            click.echo(f"  expired {relative(exc.expired_at, now)}", err=True)
        raise SystemExit(1) from None
    header = jose.peek_header(signed)
    status = f"VALID: {header['alg']} signature by kid {header.get('kid', '(none)')}"
    if jwe_header is not None:
        status += (
            f", encrypted with {jwe_header.get('alg')}/{jwe_header.get('enc')} "
            f"to kid {jwe_header.get('kid', '(none)')}"
        )
    if type(claims.get("exp")) in (int, float):
        status += f"; expires {relative(claims['exp'], now)} ({format_date(claims['exp'])})"
    click.echo(click.style(printable(status), fg="green", bold=True), err=True, color=color)
    click.echo(pretty(claims))
