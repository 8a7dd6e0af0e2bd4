"""DPoP proofs (RFC 9449): make one, and verify one with the strictness of the JWS core.

A DPoP proof is a JWS the client signs, per request, with a key it keeps; the public half rides
in the proof's own ``jwk`` header. That is the one place jotauth takes a key from a token, and
only to check that the sender holds the private half of the key a token is bound to (its
``cnf.jkt``, the RFC 7638 thumbprint in ``DPoPProof.jkt``): the caller must compare the
thumbprint with the binding, and must remember ``jti`` until ``expires_at`` to refuse replays.
Both need state or I/O, so they are the guard's and the issuer's job; this module is pure and
is handed its clock.

Checks, in order (RFC 9449 section 4.3), each failing with a ``DPoPProofError`` whose ``check``
names it: size, compact JWS syntax, ``typ`` is ``dpop+jwt``, ``alg`` asymmetric and allowed
(``none`` and HMAC never, whatever ``algorithms`` says), ``jwk`` a public key (private members
or a symmetric ``oct`` key are refused), the signature verifies with that ``jwk``, the claims
``jti``/``htm``/``htu``/``iat`` are present and typed, ``htm`` is the method, ``htu`` is the
request URI (both normalized; an ``htu`` holding a query or fragment is refused, section 4.2),
the server's nonce when it gave one (``DPoPNonceError``), ``iat`` not older than ``max_age``
nor more than ``leeway`` in the future, and, with an access token, ``ath`` is its hash (a proof
for a token must say which token). Where no access token is expected (a token endpoint) an
``ath`` is ignored, as the RFC neither requires nor forbids it there.

The window defaults to 60 seconds in the past and 5 in the future: long enough for a request
to travel and for modest clock skew, short enough that a replay cache holds little. A client
whose clock is far off gets ``check == "iat"``; a server nonce (section 8) is the remedy.
"""

import hashlib
import math
import secrets
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from hmac import compare_digest
from typing import Any, Final

from jotauth.jose import jws
from jotauth.jose._b64 import b64decode, b64encode
from jotauth.jose._htu import normalize_htu
from jotauth.jose._json import dumps, loads_object
from jotauth.jose.claims import normalize_typ
from jotauth.jose.errors import DPoPNonceError, DPoPProofError, JoseError
from jotauth.jose.jwk import Key

__all__ = [
    "DEFAULT_DPOP_ALGS",
    "DEFAULT_LEEWAY",
    "DEFAULT_MAX_AGE",
    "DPoPProof",
    "access_token_hash",
    "check_algorithms",
    "make_proof",
    "normalize_htu",
    "verify_proof",
]

DEFAULT_DPOP_ALGS: Final = (
    "ES256", "ES384", "ES512",
    "EdDSA", "Ed25519", "Ed448",
    "PS256", "PS384", "PS512",
    "RS256", "RS384", "RS512",
)  # fmt: skip
"""Every asymmetric JWS algorithm jotauth implements; HMAC and ``none`` can never sign a proof."""
DEFAULT_MAX_AGE: Final = 60
DEFAULT_LEEWAY: Final = 5
MAX_PROOF_SIZE: Final = 8192
MAX_JTI_LENGTH: Final = 256

_ASYMMETRIC: Final = frozenset(DEFAULT_DPOP_ALGS)
_TYP: Final = "dpop+jwt"
_PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_PUBLIC_MEMBERS: Final = ("kty", "crv", "x", "y", "n", "e")


@dataclass(frozen=True, slots=True)
class DPoPProof:
    """A verified proof. ``jkt`` must equal the token's ``cnf.jkt``; remember ``jti`` until
    ``expires_at`` (after which this proof is refused as stale anyway) to refuse replays."""

    jkt: str
    jti: str
    iat: float
    htm: str
    htu: str
    public_key: Key
    expires_at: float
    nonce: str | None = None
    """The proof's ``nonce`` claim, for servers that judge nonces themselves."""


def access_token_hash(token: str) -> str:
    """``ath``: base64url SHA-256 of the access token's ASCII text (RFC 9449 section 4.2)."""
    return b64encode(hashlib.sha256(token.encode("utf-8")).digest()).decode("ascii")


def check_algorithms(algorithms: Collection[str]) -> frozenset[str]:
    """``algorithms`` as a set, or ValueError if it is empty or names a symmetric/unknown one.

    For servers to call once at configuration, so that a typo fails at startup.
    """
    names = frozenset((algorithms,) if isinstance(algorithms, str) else algorithms)
    if not names:
        raise ValueError("DPoP algorithms must name at least one asymmetric algorithm")
    wrong = sorted(name for name in names if name not in _ASYMMETRIC)
    if wrong:
        raise ValueError(
            f"not an asymmetric JWS algorithm for DPoP: {', '.join(wrong)}; "
            f"choose from {' '.join(DEFAULT_DPOP_ALGS)}"
        )
    return names


def make_proof(
    key: Key,
    htm: str,
    htu: str,
    *,
    access_token: str | None = None,
    nonce: str | None = None,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """A DPoP proof for one request: ``htm`` the method, ``htu`` its URI (query and fragment
    are dropped and the rest normalized), signed with the private ``key`` whose public half
    goes in the ``jwk`` header. ``access_token`` adds its hash as ``ath``; ``nonce`` the
    server's ``DPoP-Nonce``. ``iat`` defaults to the system clock, ``jti`` to 128 random bits.
    """
    if key.alg not in _ASYMMETRIC or not key.is_private:
        raise DPoPProofError("alg", "a DPoP proof is signed with a private asymmetric key")
    public = key.public().to_jwk()
    header = {
        "typ": _TYP,
        "jwk": {name: public[name] for name in _PUBLIC_MEMBERS if name in public},
        "kid": None,
    }
    claims: dict[str, Any] = {
        "jti": jti if jti is not None else secrets.token_urlsafe(16),
        "htm": htm,
        "htu": normalize_htu(htu),
        "iat": iat if iat is not None else int(time.time()),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    return jws.sign(dumps(claims), key, headers=header)


def _public_key(header: Mapping[str, Any], alg: str) -> Key:
    jwk = header.get("jwk")
    if jwk is None:
        raise DPoPProofError("jwk", 'the proof has no "jwk" header (the public key)')
    if type(jwk) is not dict:
        raise DPoPProofError("jwk", 'the "jwk" header must be a JSON object')
    if jwk.get("kty") == "oct":
        raise DPoPProofError("jwk", 'the "jwk" header is a symmetric key; DPoP needs a public key')
    if any(name in jwk for name in _PRIVATE_MEMBERS):
        raise DPoPProofError(
            "jwk", 'the "jwk" header holds a private key; a proof carries only the public key'
        )
    try:
        return Key.from_jwk(jwk, alg)
    except JoseError as exc:
        raise DPoPProofError("jwk", f'the "jwk" header is not a usable {alg} key: {exc}') from None


def _string_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        raise DPoPProofError(name, f'the proof has no "{name}" claim')
    if type(value) is not str or not value:
        raise DPoPProofError(name, f'"{name}" must be a non-empty string')
    return value


def _iat(claims: Mapping[str, Any], now: float, max_age: int, leeway: int) -> float:
    value = claims.get("iat")
    if value is None:
        raise DPoPProofError("iat", 'the proof has no "iat" claim')
    if type(value) not in (int, float) or (type(value) is float and not math.isfinite(value)):
        raise DPoPProofError("iat", '"iat" must be a NumericDate (a JSON number of seconds)')
    iat: float = value
    # Comparisons of an int with a float are exact at any size; differences are taken only
    # once the value is known to be near ``now`` (a huge int minus a float overflows).
    if iat < now - max_age:
        age = f"{now - iat:.0f}s ago" if iat > now - 1e9 else "long ago"
        raise DPoPProofError("iat", f"the proof is stale: made {age}, proofs live {max_age}s")
    if iat > now + leeway:
        ahead = f"{iat - now:.0f}s" if iat < now + 1e9 else "far"
        raise DPoPProofError(
            "iat", f"the proof is from the future: {ahead} ahead (leeway {leeway}s)"
        )
    return iat


_HEADER_MEMO: dict[bytes, tuple[str, Key]] = {}
_HEADER_MEMO_SIZE: Final = 1024


def _header_key(segment: bytes, algorithms: Collection[str]) -> Key:
    """The proof's public key, from its header segment, all header checks passed.

    A client signs every proof with one key, so its proofs share one header segment: the parsed
    header and the loaded key (loading validates the point, a third of a proof's cost) are
    remembered per exact segment. Only segments that passed every check are remembered, and
    the allowlist is checked on every call, so the memo cannot change an outcome.
    """
    known = _HEADER_MEMO.get(segment)
    if known is not None:
        alg, key = known
        if alg not in algorithms:
            raise DPoPProofError(
                "alg", f"alg {alg} is not allowed here; allowed: {' '.join(sorted(algorithms))}"
            )
        return key
    try:
        header = jws.parse_header(segment)
    except JoseError as exc:
        raise DPoPProofError("syntax", f"the proof is not a well-formed JWS: {exc}") from None
    alg = _check_header(header, algorithms)
    key = _public_key(header, alg)
    if len(_HEADER_MEMO) >= _HEADER_MEMO_SIZE:
        _HEADER_MEMO.clear()
    _HEADER_MEMO[segment] = (alg, key)
    return key


def _check_header(header: Mapping[str, Any], algorithms: Collection[str]) -> str:
    typ = header.get("typ")
    if type(typ) is not str or normalize_typ(typ) != _TYP:
        raise DPoPProofError("typ", f'the proof\'s "typ" must be "{_TYP}"')
    alg = header["alg"]
    if type(alg) is not str or alg not in _ASYMMETRIC:
        raise DPoPProofError(
            "alg", f"alg {str(alg)[:16]!r} cannot sign a DPoP proof; it needs an asymmetric one"
        )
    if alg not in algorithms:
        raise DPoPProofError(
            "alg", f"alg {alg} is not allowed here; allowed: {' '.join(sorted(algorithms))}"
        )
    return alg


def verify_proof(
    proof: str,
    *,
    htm: str,
    htu: str,
    now: float,
    algorithms: Collection[str] = DEFAULT_DPOP_ALGS,
    max_age: int = DEFAULT_MAX_AGE,
    leeway: int = DEFAULT_LEEWAY,
    access_token: str | None = None,
    nonce: str | None = None,
) -> DPoPProof:
    """Verify a DPoP proof for a request of method ``htm`` to URI ``htu`` (its query and
    fragment are ignored) at time ``now``; see the module docstring for every check.

    ``access_token``: at a resource server, the token the proof came with (``ath`` must be its
    hash). ``nonce``: the nonce the server requires, if any (``DPoPNonceError`` otherwise).
    """
    try:
        raw, header_segment, payload_segment, signature_segment = jws.split(proof, MAX_PROOF_SIZE)
        signature = b64decode(signature_segment)
    except JoseError as exc:
        raise DPoPProofError("syntax", f"the proof is not a well-formed JWS: {exc}") from None
    key = _header_key(header_segment, algorithms)
    if not key.verify_fn(raw[: len(header_segment) + 1 + len(payload_segment)], signature):
        raise DPoPProofError("signature", "the proof's signature does not verify with its jwk")
    try:
        claims = loads_object(b64decode(payload_segment), "payload")
    except JoseError as exc:
        raise DPoPProofError("syntax", f"the proof's payload is not valid: {exc}") from None
    jti = _string_claim(claims, "jti")
    if len(jti) > MAX_JTI_LENGTH:
        raise DPoPProofError("jti", f'"jti" is longer than {MAX_JTI_LENGTH} characters')
    proof_htm = _string_claim(claims, "htm")
    if proof_htm != htm:
        raise DPoPProofError("htm", f"the proof is for method {proof_htm[:16]!r}, not {htm}")
    proof_htu = _string_claim(claims, "htu")
    if "?" in proof_htu or "#" in proof_htu:
        raise DPoPProofError("htu", '"htu" must not hold a query or fragment (RFC 9449 4.2)')
    normalized_htu = normalize_htu(proof_htu)
    if normalized_htu != normalize_htu(htu):
        raise DPoPProofError(
            "htu", f"the proof is for {normalized_htu[:120]}, not for this request's URI"
        )
    proof_nonce = claims.get("nonce")
    if proof_nonce is not None and type(proof_nonce) is not str:
        raise DPoPProofError("nonce", '"nonce" must be a string')
    if nonce is not None:
        if proof_nonce is None:
            raise DPoPNonceError("the server requires a DPoP nonce and the proof has none")
        if not compare_digest(proof_nonce.encode(), nonce.encode()):
            raise DPoPNonceError("the proof's nonce is not the server's current one")
    iat = _iat(claims, now, max_age, leeway)
    if access_token is not None:
        ath = claims.get("ath")
        if type(ath) is not str:
            raise DPoPProofError("ath", 'the proof has no "ath" (hash of the access token)')
        if not compare_digest(ath.encode(), access_token_hash(access_token).encode()):
            raise DPoPProofError("ath", 'the proof\'s "ath" is not the hash of this access token')
    return DPoPProof(
        jkt=key.thumbprint(),
        jti=jti,
        iat=iat,
        htm=proof_htm,
        htu=normalized_htu,
        public_key=key,
        expires_at=iat + max_age,
        nonce=proof_nonce,
    )
