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

__all__ = ["Inspection", "explain", "inspect", "pretty", "printable", "render"]

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
class Inspection:
    """A token taken apart without verification."""

    header: dict[str, Any]
    claims: dict[str, Any] | None
    size: int
    times: list[tuple[str, Any, str, bool]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable form for ``--json``."""
        return {
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


def _sensitive_names(claims: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for name, value in claims.items():
        if _SENSITIVE.search(name):
            found.append(prefix + name)
        if isinstance(value, dict):
            found.extend(_sensitive_names(value, prefix + name + "."))
    return found


def inspect(token: str, now: float) -> Inspection:
    """Decode ``token`` without verifying it; MalformedTokenError if it is not a JWS."""
    if token.count(".") == 4:
        raise jose.MalformedTokenError(
            "this has five parts: it is an encrypted JWE, which cannot be read without its key"
        )
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
    header, hints = inspection.header, inspection.hints
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
    lines += [click.style("Header", bold=True), pretty(inspection.header), ""]
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
