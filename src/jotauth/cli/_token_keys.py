"""Loading keys, key sets and tokens for the token tools, with errors a user can act on.

A key file may hold a JWK, a JWK Set, PEM (private, public or a certificate) or, for HMAC with
``--alg HS256``, the raw secret. Errors name the file and what is wrong with it and never echo
its content. ``--jwks`` may be a file or an http(s) URL, fetched with httpx when installed
(the guard extra) and urllib otherwise, so a verify-only install (core + click) still works.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any, Final

import click

from jotauth import jose

__all__ = [
    "fetch_jwks",
    "load_signing_key",
    "load_verification_keys",
    "read_file",
    "read_token",
]

_MAX_FILE: Final = 1 << 20
_FETCH_TIMEOUT: Final = 10.0


class KeyFileError(click.ClickException):
    """A key, key set or claims file that cannot be read or understood (exit code 2)."""

    exit_code = 2


def read_file(path: str, what: str) -> bytes:
    """The bytes of ``path`` (``-`` is stdin), or a KeyFileError naming the file."""
    data = sys.stdin.buffer.read(_MAX_FILE + 1) if path == "-" else _read_path(path, what)
    if len(data) > _MAX_FILE:
        raise KeyFileError(f"{what} file {path!r} is over 1 MiB; that is too large")
    return data


def _read_path(path: str, what: str) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{what} file {path!r} does not exist") from None
    except IsADirectoryError:
        raise KeyFileError(f"{what} file {path!r} is a directory") from None
    except PermissionError:
        raise KeyFileError(f"{what} file {path!r} is not readable (permission denied)") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} file {path!r}: {exc.strerror}") from None
    return data


def read_token(argument: str | None) -> str:
    """The token from the argument or, for ``-`` or none, from stdin; ``Bearer`` is dropped."""
    if argument is None or argument == "-":
        if argument is None and sys.stdin.isatty():
            raise click.UsageError("give a token as an argument, or pipe one on stdin")
        argument = sys.stdin.read(2 << 20)
    token = argument.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:]
    # A JWS never contains whitespace; a token pasted across lines gets its breaks removed.
    token = "".join(token.split())
    if not token:
        raise click.UsageError("the token is empty")
    return token


def _parse_json(data: bytes, path: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeyFileError(f"{path!r} looks like JSON but does not parse") from None


def _load(
    data: bytes, path: str, alg: str | None, kid: str | None, *, default: bool = False
) -> jose.Key | jose.KeySet:
    """Load a key or key set. With ``default``, ``alg`` only binds keys that name no alg."""
    text = data.strip()
    try:
        if text.startswith(b"{"):
            document = _parse_json(text, path)
            if isinstance(document, dict) and "keys" in document:
                return jose.KeySet.from_jwks(document, default_alg=alg)
            if isinstance(document, dict) and kid is not None:
                document = {**document, "kid": kid}
            if default and isinstance(document, dict) and "alg" in document:
                alg = None
            return jose.Key.from_jwk(document, alg)
        if b"-----BEGIN" in text:
            password = os.environ.get("JOTAUTH_KEY_PASSWORD")
            try:
                return jose.Key.from_pem(text, alg, password, kid=kid)
            except jose.InvalidKeyError:
                if not default or alg is None or not _loads_as_any(text, password):
                    raise
                raise jose.AlgorithmNotAllowedError(
                    f"the token is signed with {alg}, which the key in {path!r} cannot verify"
                ) from None
        if alg is not None and alg.startswith("HS"):
            return jose.Key.from_secret(text, alg, kid=kid)
    except jose.AlgorithmNotAllowedError:
        raise
    except jose.JoseError as exc:
        raise KeyFileError(f"{path!r}: {exc}") from None
    raise KeyFileError(
        f"{path!r} is not a JWK, a JWK Set or a PEM key "
        "(for a raw HMAC secret, pass --alg HS256/384/512)"
    )


def _loads_as_any(pem: bytes, password: str | None) -> bool:
    """True if the PEM is a sound key for some algorithm (so a failure was a mismatch)."""
    for alg in ("RS256", "ES256", "ES384", "ES512", "EdDSA"):
        try:
            jose.Key.from_pem(pem, alg, password)
        except jose.InvalidKeyError:
            continue
        return True
    return False


def load_signing_key(path: str, alg: str | None, kid: str | None) -> jose.Key:
    """A private key or HMAC secret from ``path`` that can sign."""
    loaded = _load(read_file(path, "key"), path, alg, kid)
    if isinstance(loaded, jose.KeySet):
        signing = [key for key in loaded if key.is_private]
        if len(signing) != 1:
            raise KeyFileError(
                f"{path!r} is a JWK Set with {len(signing)} private keys; "
                "give a file with exactly one private key"
            )
        loaded = signing[0]
    if not loaded.is_private:
        raise KeyFileError(f"{path!r} holds a public key; signing needs the private key")
    return loaded


def _public(key: jose.Key) -> jose.Key:
    return key if key.kty == "oct" else key.public()


def load_verification_keys(
    key_path: str | None, jwks: str | None, alg: str | None
) -> jose.Key | jose.KeySet:
    """The key or key set to verify with, from ``--key`` or ``--jwks`` (file or URL).

    ``alg`` binds only keys that carry no algorithm of their own (PEM, raw secrets, RSA JWKs
    without ``alg``); a key that names its algorithm keeps it, so the key decides.
    """
    if key_path is not None:
        loaded = _load(read_file(key_path, "key"), key_path, alg, None, default=True)
        if isinstance(loaded, jose.KeySet):
            return loaded
        return _public(loaded)
    assert jwks is not None  # noqa: S101 - the command checks that one of the two is given
    is_url = jwks.startswith(("http://", "https://"))
    data = fetch_jwks(jwks) if is_url else read_file(jwks, "JWKS")
    document = _parse_json(data, jwks)
    try:
        return jose.KeySet.from_jwks(document, default_alg=alg)
    except jose.JoseError as exc:
        raise KeyFileError(f"the JWK Set at {jwks!r} is not usable: {exc}") from None


def fetch_jwks(url: str) -> bytes:
    """GET a JWK Set over HTTP with a timeout; a KeyFileError says why it failed."""
    try:
        import httpx  # optional: the guard extra installs it
    except ImportError:  # pragma: no cover - exercised only in a verify-only install
        return _fetch_urllib(url)
    try:
        response = httpx.get(url, timeout=_FETCH_TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise KeyFileError(f"cannot fetch the JWK Set from {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise KeyFileError(f"fetching the JWK Set from {url} gave HTTP {response.status_code}")
    if len(response.content) > _MAX_FILE:
        raise KeyFileError(f"the JWK Set at {url} is over 1 MiB")
    return response.content


def _fetch_urllib(url: str) -> bytes:
    import urllib.error  # only here: urllib.request costs ~10 ms at every CLI start
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=_FETCH_TIMEOUT) as response:  # noqa: S310
            data: bytes = response.read(_MAX_FILE + 1)
    except urllib.error.HTTPError as exc:
        raise KeyFileError(f"fetching the JWK Set from {url} gave HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise KeyFileError(f"cannot fetch the JWK Set from {url}: {type(exc).__name__}") from None
    if len(data) > _MAX_FILE:
        raise KeyFileError(f"the JWK Set at {url} is over 1 MiB")
    return data


def load_decryption_keys(path: str, alg: str | None) -> jose.Key | jose.KeySet:
    """The private key(s) to decrypt a JWE with, from ``--key`` / ``--decrypt-key``.

    ``alg`` (the token's JWE ``alg``) binds keys that name none: a PEM, or a JWK published
    without ``alg``. Only private keys (or secrets) decrypt, so a public key is a clear error.
    """
    loaded = _load(read_file(path, "key"), path, alg, None, default=True)
    if isinstance(loaded, jose.KeySet):
        private = [key for key in loaded if key.is_private and key.use == "enc"]
        if not private:
            raise KeyFileError(f"{path!r} holds no private encryption key (use enc)")
        return jose.KeySet(private)
    if not loaded.is_private:
        raise KeyFileError(f"{path!r} holds a public key; decrypting needs the private key")
    if loaded.use != "enc":
        raise KeyFileError(f"{path!r} holds a signature key; decrypting needs a use:enc key")
    return loaded
