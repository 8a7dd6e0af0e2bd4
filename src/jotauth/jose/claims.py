"""JWT claims validation (RFC 7519 section 4.1, RFC 8725, RFC 9068 ``typ``).

A ``ClaimsPolicy`` is built once and applied to every token, so the checks cost only what the
token needs. Numeric dates must be JSON numbers (not strings, not booleans); ``leeway`` is the
clock-skew grace applied to every time comparison.
"""

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jotauth.jose.errors import (
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidClaimError,
    MissingClaimError,
    format_time,
)

__all__ = ["ClaimsPolicy", "normalize_typ"]

# The refusal names the exact option, since the usual cause is a foreign issuer's access token
# (Auth0, Keycloak and Entra ID send typ "JWT") meeting the strict default meant for jotauth's.
_FOREIGN_TYP_HINT: Final = (
    'To accept another issuer\'s access tokens that say "JWT" (Auth0, Keycloak and Microsoft '
    'Entra ID do), pass typ="JWT" (Guard(typ="JWT"), jose.decode(..., typ="JWT")), or '
    "typ=None to skip the check; keep the default for jotauth's own tokens"
)
_OTHER_TYP_HINT: Final = (
    "This is another kind of JWT than the one required here (an ID token, a logout token?); "
    "send the access token, or change typ= if this service is meant to take this kind"
)

_DATE_CLAIMS = ("exp", "nbf", "iat")


def normalize_typ(value: str) -> str:
    """Media types compare case-insensitively and may omit ``application/`` (RFC 7515 4.1.9)."""
    value = value.lower()
    return value[12:] if value.startswith("application/") and "/" not in value[12:] else value


def _as_set(value: str | Collection[str] | None, name: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((value,))
    values = frozenset(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name} must be a string or a non-empty collection of strings")
    return values


def _date(claims: Mapping[str, Any], name: str) -> float | None:
    value: Any = claims.get(name)
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        # Integers stay integers: float() of a huge one would overflow, and they compare fine.
        date: float = value
        return date
    if value is None and name not in claims:
        return None
    raise InvalidClaimError(
        name, "invalid", f'"{name}" must be a NumericDate (a JSON number of seconds)'
    )


def _describe(values: frozenset[str]) -> str:
    return " or ".join(repr(v) for v in sorted(values))


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What a verifier requires of a token's claims and ``typ`` header."""

    issuer: frozenset[str] | None = None
    audience: frozenset[str] | None = None
    subject: str | None = None
    leeway: float = 0
    # A tuple in the caller's order, so the claim a MissingClaimError names is reproducible.
    require: tuple[str, ...] = ("exp",)
    max_age: float | None = None
    typ: str | None = None

    @classmethod
    def build(
        cls,
        *,
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
        subject: str | None = None,
        leeway: float = 0,
        require: Collection[str] = ("exp",),
        max_age: float | None = None,
        typ: str | None = None,
    ) -> "ClaimsPolicy":
        """Normalize and check the arguments once, so validation is a handful of comparisons."""
        if type(leeway) not in (int, float) or not 0 <= leeway < 3600:
            raise ValueError("leeway must be a number of seconds in [0, 3600)")
        if max_age is not None and (type(max_age) not in (int, float) or max_age < 0):
            raise ValueError("max_age must be a non-negative number of seconds")
        if isinstance(require, str):
            raise ValueError('require must be a collection of claim names, e.g. ("exp",)')
        return cls(
            issuer=_as_set(issuer, "issuer"),
            audience=_as_set(audience, "audience"),
            subject=subject,
            leeway=float(leeway),
            require=tuple(dict.fromkeys(require)),
            max_age=None if max_age is None else float(max_age),
            typ=None if typ is None else normalize_typ(typ),
        )

    def check_typ(self, header: Mapping[str, Any]) -> None:
        """RFC 8725 section 3.11: an explicit type keeps one kind of JWT from passing as another."""
        if self.typ is None:
            return
        found = header.get("typ")
        if type(found) is not str:
            raise InvalidClaimError(
                "typ",
                "missing",
                f'the token has no "typ" header; expected "{self.typ}". To accept another '
                "issuer's tokens that carry none (Amazon Cognito's), pass typ=None "
                "(Guard(typ=None), jose.decode(..., typ=None))",
            )
        normalized = normalize_typ(found)
        if normalized != self.typ:
            hint = _FOREIGN_TYP_HINT if normalized == "jwt" else _OTHER_TYP_HINT
            raise InvalidClaimError(
                "typ", "unexpected", f'"typ" is {found[:40]!r}; expected "{self.typ}". {hint}'
            )

    def validate(self, claims: dict[str, Any], now: float) -> None:
        """Raise the ClaimError that says exactly what is wrong, or return."""
        for name in self.require:
            if name not in claims:
                raise MissingClaimError(name)
        leeway = self.leeway
        get = claims.get
        # Integer dates, the common case, skip the call that handles floats, null and bad types.
        exp = get("exp")
        if type(exp) is not int:
            exp = _date(claims, "exp")
        if exp is not None and now - leeway >= exp:
            raise ExpiredTokenError(exp, now, leeway)
        nbf = get("nbf")
        if type(nbf) is not int:
            nbf = _date(claims, "nbf")
        if nbf is not None and nbf > now + leeway:
            raise ImmatureTokenError(
                "nbf",
                "check_failed",
                f"token is not valid before {format_time(nbf)} "
                f"(now {format_time(now)}, leeway {leeway:g}s)",
            )
        iat = get("iat")
        if type(iat) is not int:
            iat = _date(claims, "iat")
        if iat is not None and iat > now + leeway:
            raise ImmatureTokenError(
                "iat",
                "check_failed",
                f"token was issued in the future, at {format_time(iat)} "
                f"(now {format_time(now)}, leeway {leeway:g}s)",
            )
        if self.max_age is not None:
            if iat is None:
                raise MissingClaimError("iat")
            if now - leeway - self.max_age >= iat:
                # Integer arithmetic for integer dates: a float sum could overflow.
                too_old_at = iat + (self.max_age if type(iat) is float else int(self.max_age))
                raise ExpiredTokenError(too_old_at, now, leeway)
        self._check_strings(claims)

    def _check_strings(self, claims: dict[str, Any]) -> None:
        # Each claim is tested for the common case (a string) first; the checks and their
        # order are those of RFC 7519 section 4.1: type, then presence, then value.
        iss = claims.get("iss")
        if type(iss) is str:
            if self.issuer is not None and iss not in self.issuer:
                raise InvalidClaimError(
                    "iss",
                    "check_failed",
                    f"issuer is {iss[:80]!r}; expected {_describe(self.issuer)}",
                )
        elif iss is not None:
            raise InvalidClaimError("iss", "invalid", '"iss" must be a string')
        elif self.issuer is not None:
            raise MissingClaimError("iss")
        sub = claims.get("sub")
        if type(sub) is str:
            if self.subject is not None and sub != self.subject:
                raise InvalidClaimError(
                    "sub", "check_failed", f"subject is {sub[:80]!r}; expected {self.subject!r}"
                )
        elif sub is not None:
            raise InvalidClaimError("sub", "invalid", '"sub" must be a string')
        elif self.subject is not None:
            raise MissingClaimError("sub")
        jti = claims.get("jti")
        if jti is not None and type(jti) is not str:
            raise InvalidClaimError("jti", "invalid", '"jti" must be a string')
        aud = claims.get("aud")
        if type(aud) is str and self.audience is not None and aud in self.audience:
            return  # one audience, and it is ours
        self._check_audience(claims)

    def _check_audience(self, claims: dict[str, Any]) -> None:
        if "aud" not in claims:
            if self.audience is not None:
                raise MissingClaimError("aud")
            return
        aud = claims["aud"]
        if type(aud) is str:
            found = (aud,)
        elif type(aud) is list and aud and all(type(a) is str for a in aud):
            found = tuple(aud)
        else:
            raise InvalidClaimError(
                "aud", "invalid", '"aud" must be a string or a non-empty array of strings'
            )
        if self.audience is None:
            raise InvalidClaimError(
                "aud",
                "unexpected",
                "the token is meant for an audience but the verifier names none; pass audience=",
            )
        if self.audience.isdisjoint(found):
            raise InvalidClaimError(
                "aud",
                "check_failed",
                f"audience is {', '.join(repr(a[:80]) for a in found[:4])}; "
                f"expected {_describe(self.audience)}",
            )
