"""One mapping from guard and jose errors to HTTP answers, shared by every adapter (RFC 6750).

=============================  ======  ===========================================
what went wrong                status  WWW-Authenticate
=============================  ======  ===========================================
no token                       401     ``Bearer realm=...`` (no error code, 3.1)
malformed Authorization        400     ``Bearer error="invalid_request"``
bad/expired/revoked token      401     ``Bearer error="invalid_token"``
token lacks a scope            403     ``Bearer error="insufficient_scope", scope=``
client or tier not allowed     403     none (body ``access_denied``)
client over its rate limit     429     none; ``Retry-After``
CSRF double submit failed      403     none
keys unavailable               503     none; ``Retry-After``
bad or missing DPoP proof      401     ``DPoP error="invalid_dpop_proof", algs=``
server nonce required          401     ``DPoP error="use_dpop_nonce"``; ``DPoP-Nonce``
token/key binding broken       401     ``DPoP error="invalid_token", algs=``
replay cache unavailable       503     none; ``Retry-After``
=============================  ======  ===========================================

A request that used the DPoP scheme (``dpop=True``), and every DPoP failure, is answered with
the ``DPoP`` challenge of RFC 9449 section 7.1 instead of ``Bearer``, naming in ``algs`` the
proof algorithms the service accepts.

The JSON body is ``{"error", "error_description", "hint"}`` plus ``jotauth_code`` (the precise
cause, e.g. ``expired_token``): the description says what failed, the hint what to do, after
the tutorial's troubleshooting section. Neither ever contains the token or key material.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from jotauth import jose
from jotauth.errors import JotauthError
from jotauth.guard.errors import (
    ClientNotAllowedError,
    CSRFError,
    InsufficientScopeError,
    InvalidRequestError,
    KeySourceError,
    MissingTokenError,
    RateLimitedError,
    ReplayCheckError,
    RevokedTokenError,
    TokenBindingError,
)

__all__ = ["ErrorResponse", "error_response"]

_RETRY_AFTER: Final = "5"

_HINTS: Final[Mapping[str, str]] = {
    "missing_token": "Log in to get an access token and send it as "
    '"Authorization: Bearer <token>". In browsers, check that CORS allows the Authorization '
    "header and that your client actually sets it.",
    "invalid_request": 'Send exactly one header of the form "Authorization: Bearer <token>", '
    'with the raw token (no quotes, no second "Bearer").',
    "expired_token": "Get a new access token with your refresh token. If tokens expire "
    "sooner than expected, check that the clocks of the servers are in sync (NTP).",
    "immature_token": "The token is not valid yet: the clocks of the issuer and this "
    "service disagree; synchronize them (NTP).",
    "bad_signature": "The token was not signed by a key this service trusts: check that it "
    "comes from the right issuer, was not modified in transit, and that the service and the "
    "issuer agree on keys and algorithm.",
    "no_matching_key": "The token names a signing key (kid) this service does not know or "
    "could not use: check that it comes from the configured issuer (JWKS). When "
    "error_description says the key was left out of the JWK Set, the service's own settings "
    "must change as it says (e.g. algorithms=).",
    "decryption_failed": "The token is encrypted to a key this service does not hold: get a "
    "token issued for this service's audience (the issuer encrypts to the audience's published "
    "encryption key).",
    "algorithm_not_allowed": "The token is signed with an algorithm this service does not "
    "accept: get a token from the configured issuer.",
    "unsupported_algorithm": "The token's algorithm is not supported: get a token from the "
    "configured issuer.",
    "malformed_token": "The token is not a JWT (header.payload.signature): send the access "
    "token itself, not the refresh token or an ID token.",
    "token_too_large": "The token is too large: keep claims small and reference large data "
    "by id instead of embedding it.",
    "unsupported_critical_header": "The token requires an extension this service does not "
    "understand: get a token from the configured issuer.",
    "invalid_claim": "The token is not meant for this service: request a token for this "
    "service's audience from the configured issuer.",
    "missing_claim": "The token lacks a claim this service requires: get an access token "
    "from the configured issuer.",
    "token_revoked": "The token was revoked (logout, password change or key revocation): "
    "log in again.",
    "insufficient_scope": "Ask for a token with the scope or permission named in "
    "error_description, or have an administrator grant it to you.",
    "csrf_failed": "Send the CSRF token from the csrf cookie back in the CSRF header with "
    "every state-changing request.",
    "client_not_allowed": "This route serves only some API clients or subscription tiers; "
    "use a client (or tier) it names, or ask its operator for access.",
    "rate_limited": "Your client's tier allows a number of requests per window (the token's "
    "rate_limit claim); wait Retry-After seconds, or move to a higher tier.",
    "key_source_unavailable": "The service cannot reach the issuer for its signing keys. "
    "Retry shortly; if it persists, check the issuer and the JWKS URL.",
    "invalid_dpop_proof": "Send one DPoP header with a new proof for every request: signed by "
    "the key the token is bound to, typ dpop+jwt, htm and htu of this request (no query), a "
    "current iat, a fresh jti and ath = the token's hash. error_description names the check "
    "that failed; if htu fails for every client, the service behind a proxy needs its public "
    "URL (Guard(external_url=...)).",
    "use_dpop_nonce": "Make a new proof with the nonce of the DPoP-Nonce response header and "
    "send the request again.",
    "token_binding": 'A token bound to a key (DPoP) goes in "Authorization: DPoP <token>" with '
    'a proof by that key; an unbound token goes in "Authorization: Bearer <token>".',
    "dpop_replay_unavailable": "The service cannot check DPoP proofs for replay right now; "
    "retry shortly with a new proof.",
}


class ErrorResponse(NamedTuple):
    """What to send: status, headers (name, value) and the JSON body."""

    status: int
    headers: list[tuple[str, str]]
    body: dict[str, Any]

    def body_bytes(self) -> bytes:
        """The body as compact UTF-8 JSON."""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def _quoted(text: str) -> str:
    """Text fit for an RFC 6750 quoted-string (%x20-21 / %x23-5B / %x5D-7E only)."""
    text = text.replace('"', "'").replace("\\", "/")
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:300]


def _challenge(realm: str | None, scheme: str = "Bearer", **params: str) -> str:
    items = [] if realm is None else [f'realm="{_quoted(realm)}"']
    items += [f'{name}="{_quoted(value)}"' for name, value in params.items()]
    return f"{scheme} " + ", ".join(items) if items else scheme


_DPOP_ERRORS: Final = (jose.DPoPProofError, TokenBindingError, ReplayCheckError)


def error_response(
    exc: JotauthError,
    realm: str | None = None,
    *,
    dpop: bool = False,
    dpop_algs: Sequence[str] = jose.DEFAULT_DPOP_ALGS,
) -> ErrorResponse:
    """The RFC 6750 answer to an error from ``Guard.authenticate``, ``authorize`` or ``extract``.

    ``dpop``: the request used the DPoP scheme, so the challenge is ``DPoP`` (RFC 9449 7.1),
    with ``algs`` = ``dpop_algs``; DPoP failures always get that challenge.
    """
    if dpop or isinstance(exc, _DPOP_ERRORS):
        return _dpop_response(exc, realm, " ".join(dpop_algs))
    code = exc.code
    description = str(exc)
    hint = _HINTS.get(code, _HINTS["invalid_claim"] if isinstance(exc, jose.ClaimError) else "")
    if isinstance(exc, MissingTokenError):
        status, error = 401, "missing_token"
        headers = [("WWW-Authenticate", _challenge(realm))]
    elif isinstance(exc, InvalidRequestError):
        status, error = 400, "invalid_request"
        headers = [
            ("WWW-Authenticate", _challenge(realm, error=error, error_description=description))
        ]
    elif isinstance(exc, InsufficientScopeError):
        status, error = 403, "insufficient_scope"
        headers = [
            (
                "WWW-Authenticate",
                _challenge(
                    realm,
                    error=error,
                    error_description=description,
                    scope=" ".join(exc.required),
                ),
            )
        ]
    elif isinstance(exc, CSRFError):
        status, error, headers = 403, "csrf_failed", []
    elif isinstance(exc, ClientNotAllowedError):
        status, error, headers = 403, "access_denied", []
    elif isinstance(exc, RateLimitedError):
        status, error = 429, "rate_limited"
        headers = [("Retry-After", str(exc.retry_after))]
    elif isinstance(exc, KeySourceError):
        status, error = 503, "temporarily_unavailable"
        description = "the service cannot obtain the keys to verify tokens right now"
        headers = [("Retry-After", _RETRY_AFTER)]
    elif isinstance(exc, jose.JoseError | RevokedTokenError):
        status, error = 401, "invalid_token"
        headers = [
            ("WWW-Authenticate", _challenge(realm, error=error, error_description=description))
        ]
    else:
        raise TypeError(f"not a guard error: {type(exc).__name__}") from exc
    body: dict[str, Any] = {
        "error": error,
        "error_description": description,
        "hint": hint,
        "jotauth_code": code,
    }
    if isinstance(exc, InsufficientScopeError):
        body["required"] = list(exc.required)
    if isinstance(exc, jose.ExpiredTokenError):
        body["expired_at"] = exc.expired_at
    return ErrorResponse(status, headers, body)


def _dpop_response(exc: JotauthError, realm: str | None, algs: str) -> ErrorResponse:
    """The answer with the ``DPoP`` challenge; errors that carry no challenge keep Bearer's."""
    if isinstance(exc, ReplayCheckError):
        body = _body("temporarily_unavailable", exc)
        return ErrorResponse(503, [("Retry-After", _RETRY_AFTER)], body)
    if isinstance(exc, jose.DPoPNonceError):
        error = "use_dpop_nonce"
    elif isinstance(exc, jose.DPoPProofError):
        error = "invalid_dpop_proof"
    elif isinstance(exc, TokenBindingError | RevokedTokenError | jose.JoseError):
        error = "invalid_token"
    elif isinstance(exc, InvalidRequestError):
        error = "invalid_request"
    elif isinstance(exc, MissingTokenError):
        answer = error_response(exc, realm)
        challenge = _challenge(realm, "DPoP", algs=algs)
        return ErrorResponse(answer.status, [("WWW-Authenticate", challenge)], answer.body)
    elif isinstance(exc, InsufficientScopeError):
        answer = error_response(exc, realm)
        challenge = _challenge(
            realm, "DPoP", error="insufficient_scope", error_description=str(exc),
            scope=" ".join(exc.required), algs=algs,
        )  # fmt: skip
        return ErrorResponse(answer.status, [("WWW-Authenticate", challenge)], answer.body)
    else:
        return error_response(exc, realm)  # client, rate limit, CSRF, keys: no challenge
    description = str(exc)
    headers = [
        (
            "WWW-Authenticate",
            _challenge(realm, "DPoP", error=error, error_description=description, algs=algs),
        )
    ]
    if isinstance(exc, jose.DPoPNonceError) and exc.nonce is not None:
        headers.append(("DPoP-Nonce", exc.nonce))
    body = _body(error, exc)
    if isinstance(exc, jose.DPoPProofError):
        body["dpop_check"] = exc.check
    if isinstance(exc, jose.ExpiredTokenError):
        body["expired_at"] = exc.expired_at
    return ErrorResponse(400 if error == "invalid_request" else 401, headers, body)


def _body(error: str, exc: JotauthError) -> dict[str, Any]:
    code = exc.code
    hint = _HINTS.get(code, _HINTS["invalid_claim"] if isinstance(exc, jose.ClaimError) else "")
    return {"error": error, "error_description": str(exc), "hint": hint, "jotauth_code": code}
