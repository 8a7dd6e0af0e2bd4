"""What ``jotauth token decode`` and ``verify`` show: decoded parts, times, hints and reasons.

Everything here is a pure function of the token text and ``now``, so the wording is tested
without a terminal. Colour is added by the caller through ``click.style``; click drops it when
the output is not a terminal.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

import click

from jotauth import jose
from jotauth.cli._token_time import format_date, time_status

__all__ = [
    "Encryption",
    "Inspection",
    "explain",
    "inspect",
    "inspect_encrypted",
    "pretty",
    "printable",
    "render",
]

DEFAULT_MAX_SIZE: Final = 8192
_TIME_CLAIMS: Final = ("exp", "nbf", "iat", "auth_time")
_SENSITIVE: Final = re.compile(
    r"pass(word|wd)?|secret|private|credit.?card|card.?number|cvv|ssn|social.?security|"
    r"api.?key|pin$|^pwd$|salary|iban|dob|birth",
    re.IGNORECASE,
)
_KEY_URL_HEADERS: Final = ("jku", "x5u", "jwk", "x5c")

WARNING: Final = (
    "NOT VERIFIED: this shows what the token claims; the signature and claims were not checked "
    "(use `jotauth token verify`)."
)


@dataclass
class Encryption:
    """The outer JWE of an encrypted token: its protected header and part sizes."""

    header: dict[str, Any]
    parts: dict[str, int]
    decrypted: bool
    plaintext: str | None = None  # the content, when decrypted and not a JWS

    def to_json(self) -> dict[str, Any]:
        """The ``encrypted`` member of ``--json``."""
        return {
            "header": self.header,
            "parts": self.parts,
            "decrypted": self.decrypted,
            "plaintext": self.plaintext,
        }


@dataclass
class Inspection:
    """A token taken apart without verification."""

    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    size: int
    times: list[tuple[str, Any, str, bool]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    encryption: Encryption | None = None

    def to_json(self) -> dict[str, Any]:
        """The machine-readable form for ``--json``."""
        result = {
            "verified": False,
            "header": self.header,
            "claims": self.claims,
            "size": self.size,
            "times": {
                name: {"value": value, "date": format_date(value), "status": phrase}
                for name, value, phrase, _ in self.times
            },
            "hints": self.hints,
        }
        if self.encryption is not None:
            result["encrypted"] = self.encryption.to_json()
        return result


def _sensitive_names(claims: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for name, value in claims.items():
        if _SENSITIVE.search(name):
            found.append(prefix + name)
        if isinstance(value, dict):
            found.extend(_sensitive_names(value, prefix + name + "."))
    return found


_JWE_PARTS: Final = ("protected", "encrypted_key", "iv", "ciphertext", "tag")


def inspect_encrypted(
    token: str, now: float, keys: jose.Key | jose.KeySet | None = None
) -> Inspection:
    """An encrypted token's protected header, and with ``keys`` what it holds (NOT verified).

    The header is shown before any key is used (it is what picks the key); decrypting proves
    only that the token was made for that key, not who made it: the inner JWS is inspected
    like any other, and still needs ``verify``.
    """
    try:
        header = jose.jwe.peek_header(token)
    except jose.MalformedTokenError as exc:
        raise jose.MalformedTokenError(
            f"an encrypted JWE (five parts) that is not readable: {exc}"
        ) from None
    segments = token.split(".")
    parts = {name: len(segment) for name, segment in zip(_JWE_PARTS, segments, strict=True)}
    size = len(token.encode("utf-8"))
    if keys is None:
        inspection = Inspection(None, None, size, encryption=Encryption(header, parts, False))
        inspection.hints.append(
            "encrypted (JWE): the claims cannot be read without the recipient's private key "
            "(pass --key FILE)"
        )
        _jwe_hints(inspection, header)
        return inspection
    alg = header.get("alg")
    decrypter = jose.jwe.Decrypter(keys, algorithms=(alg,) if isinstance(alg, str) else None)
    plaintext = decrypter.decrypt(token)
    text = plaintext.decode("utf-8", errors="replace")
    if text.count(".") == 2 and text.isascii():
        inner = inspect(text, now)
        inner.size = size
        inner.encryption = Encryption(header, parts, True)
    else:
        inner = Inspection(None, None, size, encryption=Encryption(header, parts, True, text))
    _jwe_hints(inner, header)
    return inner


def _jwe_hints(inspection: Inspection, header: dict[str, Any]) -> None:
    hints = inspection.hints
    if header.get("alg") == "RSA1_5":
        hints.append("RSA1_5 key management is open to Bleichenbacher's attack: use RSA-OAEP-256")
    if "zip" in header:
        hints.append('"zip" compression leaks the plaintext length; jotauth refuses it by default')
    cty = header.get("cty")
    nested = isinstance(cty, str) and cty.lower() in ("jwt", "application/jwt")
    encryption = inspection.encryption
    if encryption is not None and encryption.decrypted and inspection.header and not nested:
        hints.append('a nested JWT needs "cty": "JWT" in the JWE header; verifiers refuse it')


def inspect(token: str, now: float) -> Inspection:
    """Decode ``token`` without verifying it; MalformedTokenError if it is not a JWS."""
    if token.count(".") == 4:
        return inspect_encrypted(token, now)
    header = jose.peek_header(token)
    claims: dict[str, Any] | None
    hints: list[str] = []
    try:
        claims = jose.peek_claims(token)
    except jose.MalformedTokenError:
        claims = None
        hints.append("the payload is not a JSON object: this is a JWS but not a JWT")
    inspection = Inspection(header, claims, len(token.encode("utf-8")), hints=hints)
    _header_hints(inspection)
    if claims is not None:
        _claim_hints(inspection, claims, now)
    return inspection


def _header_hints(inspection: Inspection) -> None:
    header, hints = inspection.header or {}, inspection.hints
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        hints.append('alg is "none" (or missing): the token is unsigned; never accept it')
    elif alg not in jose.ALGORITHMS:
        hints.append(f"alg {str(alg)[:20]!r} is not one jotauth supports")
    elif alg.startswith("HS"):
        hints.append("HMAC (shared secret): every verifier can also mint tokens")
    if "kid" not in header:
        hints.append("no kid in the header: verifiers cannot pick a key after a rotation")
    for name in _KEY_URL_HEADERS:
        if name in header:
            hints.append(f'header "{name}" names a key source; jotauth never trusts it')
    if "crit" in header:
        hints.append('header "crit" lists extensions a verifier must understand or reject')
    if inspection.size > DEFAULT_MAX_SIZE:
        hints.append(
            f"the token is {inspection.size} bytes, over the {DEFAULT_MAX_SIZE} byte (8 KiB) "
            "limit: verifiers reject it; put less in it"
        )


def _claim_hints(inspection: Inspection, claims: dict[str, Any], now: float) -> None:
    hints = inspection.hints
    for name in _TIME_CLAIMS:
        if name not in claims:
            continue
        value: Any = claims[name]
        if type(value) not in (int, float):
            hints.append(f'"{name}" is not a number of seconds: verifiers reject it')
            continue
        phrase, problem = time_status(name, value, now)
        inspection.times.append((name, value, phrase, problem))
    if "exp" not in claims:
        hints.append('no "exp" claim: this token never expires')
    exp: Any = claims.get("exp")
    iat: Any = claims.get("iat")
    if type(exp) in (int, float) and type(iat) in (int, float) and exp - iat > 86400:
        hints.append(f"lives {(exp - iat) / 86400:.0f} days: access tokens should live minutes")
    sensitive = _sensitive_names(claims)
    if sensitive:
        hints.append(
            "sensitive-looking claims ("
            + ", ".join(sensitive[:6])
            + "): a JWT is only encoded, anyone holding it can read them"
        )


def printable(text: str) -> str:
    """``text`` with every character a terminal could act on (C0/C1 controls such as ESC or
    CSI, bidi overrides, other format characters) written as a JSON ``\\uXXXX`` escape;
    newlines are kept. Token text is attacker input and must never drive the terminal."""
    return "".join(c if c == "\n" or c.isprintable() else json.dumps(c)[1:-1] for c in text)


def pretty(value: Any) -> str:
    """Indented JSON for a terminal: readable Unicode, but no control characters."""
    return printable(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


def render(inspection: Inspection) -> str:
    """The human-readable decode output, with colour styles (dropped when piped)."""
    lines = [click.style(WARNING, fg="yellow", bold=True), ""]
    encryption = inspection.encryption
    if encryption is not None:
        state = "decrypted with the given key" if encryption.decrypted else "not decrypted"
        lines += [click.style(f"Encrypted (JWE), {state}", bold=True)]
        lines += [click.style("JWE protected header", bold=True), pretty(encryption.header)]
        lines += [
            "parts: " + ", ".join(f"{name} {n} chars" for name, n in encryption.parts.items()),
            "",
        ]
        if encryption.plaintext is not None:
            lines += [click.style("Plaintext", bold=True), printable(encryption.plaintext), ""]
    if inspection.header is not None:
        title = "Inner JWS header" if encryption is not None else "Header"
        lines += [click.style(title, bold=True), pretty(inspection.header), ""]
        lines += [click.style("Claims", bold=True)]
        lines += [pretty(inspection.claims) if inspection.claims is not None else "(not JSON)", ""]
    if inspection.times:
        lines.append(click.style("Times", bold=True))
        for name, value, phrase, problem in inspection.times:
            colour = "red" if problem else "green"
            lines.append(
                f"  {name:<9} {format_date(value)}  " + click.style(f"({phrase})", fg=colour)
            )
        lines.append("")
    if inspection.hints:
        lines.append(click.style("Hints", bold=True))
        lines += [click.style(f"  ! {printable(hint)}", fg="magenta") for hint in inspection.hints]
        lines.append("")
    lines.append(f"size: {inspection.size} bytes")
    return "\n".join(lines)


_ADVICE: Final = {
    "expired_token": "get a new token (refresh it); if clocks differ a little, allow --leeway 30",
    "immature_token": "the token is not valid yet: check the clocks of issuer and verifier",
    "bad_signature": "wrong key, or the token was changed after signing",
    "no_matching_key": (
        "the token's kid is not in the key set: the issuer may have rotated keys "
        "(fetch the JWKS again) or the token comes from another issuer"
    ),
    "algorithm_not_allowed": "the token's alg is not the key's or not in --alg",
    "unsupported_algorithm": "alg none and unknown algorithms are never accepted",
    "token_too_large": "tokens over 8 KiB are refused before decoding",
    "malformed_token": "this is not a well-formed JWS compact token (header.payload.signature)",
    "unsupported_critical_header": "the token requires an extension jotauth does not implement",
}


def explain(error: jose.JoseError) -> str:
    """The reason a token failed, in the core's words plus what to do about it."""
    message = str(error).replace("pass audience=", "pass --aud")
    if isinstance(error, jose.ClaimError) and not isinstance(error, jose.ExpiredTokenError):
        advice = {
            "iss": "the token comes from another issuer than --iss",
            "aud": "the token is meant for another service than --aud",
            "typ": "the token's typ header is not the expected one",
        }.get(error.claim, "")
    else:
        advice = _ADVICE.get(error.code, "")
    return f"{error.code}: {message}" + (f"\n  hint: {advice}" if advice else "")
