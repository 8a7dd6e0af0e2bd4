"""Sign and verify+validate speed of jotauth.jose against its peers and the raw primitive.

Why: the core promises to cost little more than the cryptography it wraps. This script measures
that promise as a ratio to the raw operation (``hmac`` / pyca ``cryptography`` on the same
signing input, with the same key objects) for HS256, RS256, PS256, ES256 and EdDSA, next to
PyJWT, joserfc, jwcrypto and python-jose doing the same job on the same token.

How: the contenders of one (operation, algorithm) cell are timed in short batches, each round
timing every contender once in a shuffled order, for many rounds, so that clock drift, CPU boost
and the neighbours' load hit every contender alike. A contender's µs/op is the median of its
batches, and its ratio the median over rounds of its batch divided by raw's batch of the same
round (a fraction of a second apart), both less the cost of the timing loop itself (an empty
call, timed the same way). Per-round ratios cancel load that shifts in the middle of a cell.

Every verifier checks the same policy as far as its library allows: the signature, an algorithm
allowlist of exactly the token's algorithm, ``exp`` present and not passed (leeway 0), ``iss``
and ``aud`` equal to the expected values. Before timing, each one is handed tokens with a wrong
``iss``, a wrong ``aud``, a passed ``exp``, no ``exp`` and a bad signature; whatever it accepts
is printed as a gap, so no contender is timed doing less than the table implies.

Run from the repository root: ``.venv/bin/python bench/jose_verify.py`` (about two minutes);
``--quick`` for a smoke run of a few seconds; ``--help`` for the rest.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import importlib.metadata
import json
import os
import platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac as crypto_hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from jotauth import jose

ALGS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")
OPS = ("verify", "sign")
ISS = "https://auth.example.com"
AUD = "https://api.example.com"
HEADERS = {"typ": "at+jwt"}
MUST_REJECT = ("iss", "aud", "exp", "no exp", "signature")
BASELINE = "raw"

Op = Callable[[], object]


# "access": the access token the issuer mints (the shared contract), the default; "minimal":
# the five registered claims most JWT benchmarks use. Parsing and serializing the payload cost
# in proportion to its size while a signature costs the same, so the ratios depend on this.
CLAIM_SETS = ("access", "minimal")
_ACCESS_EXTRA: dict[str, Any] = {
    "jti": "5b0c7c1e-6a5e-4f7e-9d2e-3f4a1b2c3d4e",
    "client_id": "web-frontend",
    "scope": "articles:read articles:create profile:read",
    "roles": ["editor"],
    "permissions": {"articles": ["read", "create"], "comments": ["read"]},
    "preferred_username": "ada",
    "sid": "f3a9d2c47b1e4a0c",
}


def _claims(now: int, claim_set: str = "access", **changes: Any) -> dict[str, Any]:
    """The claims of a token signed at ``now``; a change to None drops that claim."""
    claims: dict[str, Any] = {
        "iss": ISS,
        "sub": "1234567",
        "aud": AUD,
        "exp": now + 900,
        "iat": now,
    }
    if claim_set == "access":
        claims.update(_ACCESS_EXTRA)
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _b64decode(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


@dataclass
class Material:
    """One algorithm's key in every form the contenders take, and the tokens they verify."""

    alg: str
    private: Any  # the cryptography private key object, or the HMAC secret
    public: Any  # the cryptography public key object, or the HMAC secret
    key: jose.Key  # jotauth signing key, wrapping ``private``
    public_key: jose.Key  # jotauth verification key, wrapping ``public``
    private_jwk: dict[str, Any]
    public_jwk: dict[str, Any]
    claims: dict[str, Any]
    token: str
    signing_input: bytes
    raw_signature: bytes  # as the raw primitive takes it (DER for ECDSA)
    bad_tokens: dict[str, str] = field(default_factory=dict)

    def pem(self, *, private: bool) -> bytes:
        if private:
            pem: bytes = self.private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return pem
        pem = self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


def make_material(alg: str, now: int, claim_set: str = "access") -> Material:
    """Generate a key for ``alg``; sign the reference token and the tokens that must fail."""
    if alg == "HS256":
        private: Any = os.urandom(32)
        public: Any = private
        key = jose.Key.from_secret(private, alg)
        public_key = key
    else:
        if alg in ("RS256", "PS256"):
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key()
        key = jose.Key(private, alg)
        public_key = jose.Key(public, alg)
    claims = _claims(now, claim_set)
    token = jose.encode(claims, key, headers=HEADERS)
    header_segment, payload_segment, signature_segment = token.encode("ascii").split(b".")
    signature = _b64decode(signature_segment)
    if alg == "ES256":  # JWS carries r || s; the primitive takes DER
        signature = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
    last = token[-1]
    tampered = token[:-1] + ("A" if last != "A" else "Q")
    return Material(
        alg=alg,
        private=private,
        public=public,
        key=key,
        public_key=public_key,
        private_jwk=key.to_jwk(private=True),
        public_jwk=key.to_jwk(private=alg == "HS256"),
        claims=claims,
        token=token,
        signing_input=header_segment + b"." + payload_segment,
        raw_signature=signature,
        bad_tokens={
            "iss": jose.encode(
                _claims(now, claim_set, iss="https://evil.example"), key, headers=HEADERS
            ),
            "aud": jose.encode(
                _claims(now, claim_set, aud="https://other.example"), key, headers=HEADERS
            ),
            "exp": jose.encode(
                _claims(now, claim_set, exp=now - 600, iat=now - 1500), key, headers=HEADERS
            ),
            "no exp": jose.encode(_claims(now, claim_set, exp=None), key, headers=HEADERS),
            "signature": tampered,
        },
    )


# -- contenders ------------------------------------------------------------------------------------
# A verifier factory takes (material, token) and returns the call that verifies that token; a
# signer factory takes the material and returns the call that signs its claims. Either returns
# a string instead when the library cannot do the algorithm (printed as n/a). Keys, options and
# policies are built in the factory, once, as a long-running service would.

VerifierFactory = Callable[[Material, str], "Op | str"]
SignerFactory = Callable[[Material], "Op | str"]


def _pss() -> padding.PSS:
    # RFC 7518 section 3.5: the salt is as long as the hash output.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def raw_verifier(m: Material, token: str) -> Op:
    """The primitive alone on the token's signing input and signature (the token is ignored)."""
    data, public, sig = m.signing_input, m.public, m.raw_signature
    if m.alg == "HS256":
        digest, equal = hmac.digest, hmac.compare_digest
        return lambda: equal(digest(public, data, "sha256"), sig)
    verify = public.verify
    if m.alg == "RS256":
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        return lambda: verify(sig, data, pkcs1, sha256)
    if m.alg == "PS256":
        pss, sha256 = _pss(), hashes.SHA256()
        return lambda: verify(sig, data, pss, sha256)
    if m.alg == "ES256":
        ecdsa = ec.ECDSA(hashes.SHA256())
        return lambda: verify(sig, data, ecdsa)
    return lambda: verify(sig, data)


def raw_signer(m: Material) -> Op:
    """The primitive alone on the reference token's signing input."""
    data, private = m.signing_input, m.private
    if m.alg == "HS256":
        digest = hmac.digest
        return lambda: digest(private, data, "sha256")
    sign = private.sign
    if m.alg == "RS256":
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        return lambda: sign(data, pkcs1, sha256)
    if m.alg == "PS256":
        pss, sha256 = _pss(), hashes.SHA256()
        return lambda: sign(data, pss, sha256)
    if m.alg == "ES256":
        ecdsa = ec.ECDSA(hashes.SHA256())
        return lambda: sign(data, ecdsa)
    return lambda: sign(data)


def raw_hmac_new_verifier(m: Material, token: str) -> Op | str:
    """HMAC through ``hmac.new(...).digest()``: the spelling most code uses, slower than digest."""
    if m.alg != "HS256":
        return "HMAC only"
    data, secret, sig = m.signing_input, m.public, m.raw_signature
    new, sha256, equal = hmac.new, hashlib.sha256, hmac.compare_digest
    return lambda: equal(new(secret, data, sha256).digest(), sig)


def raw_hmac_new_signer(m: Material) -> Op | str:
    if m.alg != "HS256":
        return "HMAC only"
    data, secret, new, sha256 = m.signing_input, m.private, hmac.new, hashlib.sha256
    return lambda: new(secret, data, sha256).digest()


def raw_hmac_keyed_verifier(m: Material, token: str) -> Op | str:
    """HMAC from a context keyed once and copied per call: the key schedule paid once."""
    if m.alg != "HS256":
        return "HMAC only"
    data, sig, equal = m.signing_input, m.raw_signature, hmac.compare_digest
    copy = crypto_hmac.HMAC(m.public, hashes.SHA256()).copy

    def verify() -> object:
        context = copy()
        context.update(data)
        return equal(context.finalize(), sig)

    return verify


def raw_hmac_keyed_signer(m: Material) -> Op | str:
    if m.alg != "HS256":
        return "HMAC only"
    data, copy = m.signing_input, crypto_hmac.HMAC(m.private, hashes.SHA256()).copy

    def sign() -> object:
        context = copy()
        context.update(data)
        return context.finalize()

    return sign


def jotauth_verifier(m: Material, token: str) -> Op:
    """The hot path: a ``jose.Verifier`` built once, called per token."""
    verify = jose.Verifier(m.public_key, algorithms=[m.alg], issuer=ISS, audience=AUD).verify
    return lambda: verify(token)


def jotauth_decode(m: Material, token: str) -> Op:
    """The one-shot ``jose.decode``: compiles the policy on every call."""
    decode, key, algs = jose.decode, m.public_key, [m.alg]
    return lambda: decode(token, key, algorithms=algs, issuer=ISS, audience=AUD)


def jotauth_signer(m: Material) -> Op:
    encode, claims, key = jose.encode, m.claims, m.key
    return lambda: encode(claims, key, headers=HEADERS)


def pyjwt_verifier(m: Material, token: str) -> Op:
    import jwt

    decode, public, algs = jwt.decode, m.public, [m.alg]
    options: Any = {"require": ["exp", "iss", "aud"]}
    return lambda: decode(token, public, algorithms=algs, issuer=ISS, audience=AUD, options=options)


def pyjwt_signer(m: Material) -> Op:
    import jwt

    encode, claims, private, alg = jwt.encode, m.claims, m.private, m.alg
    headers = {"kid": m.key.kid, **HEADERS}
    return lambda: encode(claims, private, algorithm=alg, headers=headers)


def joserfc_verifier(m: Material, token: str) -> Op:
    from joserfc import jwk, jwt

    key, algs, decode = jwk.import_key(m.public_jwk), [m.alg], jwt.decode
    validate = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISS},
        aud={"essential": True, "value": AUD},
        exp={"essential": True},
    ).validate

    def verify() -> object:
        claims = decode(token, key, algorithms=algs).claims
        validate(claims)
        return claims

    return verify


def joserfc_signer(m: Material) -> Op:
    from joserfc import jwk, jwt

    key, algs, encode, claims = jwk.import_key(m.private_jwk), [m.alg], jwt.encode, m.claims
    header = {"alg": m.alg, "kid": m.key.kid, **HEADERS}
    return lambda: encode(header, claims, key, algorithms=algs)


def jwcrypto_verifier(m: Material, token: str) -> Op:
    from jwcrypto import jwk, jwt

    key, algs, make, loads = jwk.JWK(**m.public_jwk), [m.alg], jwt.JWT, json.loads
    check = {"iss": ISS, "aud": AUD, "exp": None}

    def verify() -> object:
        parsed = make(algs=algs, check_claims=check)
        parsed.leeway = 0  # jwcrypto's default is 60 s; the others use 0
        parsed.deserialize(token, key)
        return loads(parsed.claims)

    return verify


def jwcrypto_signer(m: Material) -> Op:
    from jwcrypto import jwk, jwt

    key, make, claims = jwk.JWK(**m.private_jwk), jwt.JWT, m.claims
    header = {"alg": m.alg, "kid": m.key.kid, **HEADERS}

    def sign() -> object:
        token = make(header=header, claims=claims)
        token.make_signed_token(key)
        return token.serialize()

    return sign


def _python_jose_key(m: Material, *, private: bool) -> Any:
    from jose.constants import ALGORITHMS as SUPPORTED

    from jose import jwk

    if m.alg not in SUPPORTED.SUPPORTED:
        return f"python-jose has no {m.alg}"
    return jwk.construct(m.private if m.alg == "HS256" else m.pem(private=private), m.alg)


def python_jose_verifier(m: Material, token: str) -> Op | str:
    from jose import jwt

    key = _python_jose_key(m, private=False)
    if isinstance(key, str):
        return key
    decode, algs = jwt.decode, [m.alg]
    options = {"require_exp": True, "require_iss": True, "require_aud": True}
    return lambda: decode(token, key, algorithms=algs, issuer=ISS, audience=AUD, options=options)


def python_jose_signer(m: Material) -> Op | str:
    from jose import jwt

    key = _python_jose_key(m, private=True)
    if isinstance(key, str):
        return key
    encode, claims, alg = jwt.encode, m.claims, m.alg
    headers = {"kid": m.key.kid, **HEADERS}
    return lambda: encode(claims, key, algorithm=alg, headers=headers)


# name, distribution (for its version), verify factory, sign factory
CONTENDERS: tuple[tuple[str, str | None, VerifierFactory | None, SignerFactory | None], ...] = (
    (BASELINE, "cryptography", raw_verifier, raw_signer),
    ("raw hmac.new", None, raw_hmac_new_verifier, raw_hmac_new_signer),
    ("raw HMAC keyed once", None, raw_hmac_keyed_verifier, raw_hmac_keyed_signer),
    ("jotauth Verifier", "jotauth", jotauth_verifier, None),
    ("jotauth decode", "jotauth", jotauth_decode, None),
    ("jotauth encode", "jotauth", None, jotauth_signer),
    ("PyJWT", "PyJWT", pyjwt_verifier, pyjwt_signer),
    ("joserfc", "joserfc", joserfc_verifier, joserfc_signer),
    ("jwcrypto", "jwcrypto", jwcrypto_verifier, jwcrypto_signer),
    ("python-jose", "python-jose", python_jose_verifier, python_jose_signer),
)


# -- checks ----------------------------------------------------------------------------------------


def policy_gaps(factory: VerifierFactory, m: Material) -> list[str] | str:
    """Which must-fail tokens the verifier accepts; a string if it fails the good token."""
    op = factory(m, m.token)
    if isinstance(op, str):
        return []
    try:
        result = op()
    except Exception as exc:  # noqa: BLE001 - any failure on the good token disqualifies
        return f"rejects the valid token: {type(exc).__name__}: {exc}"
    if isinstance(result, dict) and result != m.claims:
        return "returns claims that differ from those signed"
    gaps = []
    for what in MUST_REJECT:
        bad = factory(m, m.bad_tokens[what])
        if isinstance(bad, str):  # pragma: no cover - same factory, same answer
            continue
        try:
            bad()
        except Exception:  # noqa: BLE001, S112 - rejecting is the expected outcome
            continue
        gaps.append(what)
    return gaps


def sign_problem(factory: SignerFactory, m: Material) -> str | None:
    """None if the signer's output verifies in jotauth and carries the same claims."""
    op = factory(m)
    if isinstance(op, str):
        return None
    token = op()
    if isinstance(token, bytes):  # raw signers return the signature alone
        return None
    if not isinstance(token, str):
        return f"returned {type(token).__name__}, not a token"
    try:
        claims = jose.decode(token, m.public_key, algorithms=[m.alg], issuer=ISS, audience=AUD)
    except jose.JoseError as exc:
        return f"its token does not verify in jotauth: {exc.code}: {exc}"
    return None if claims == m.claims else "its token carries different claims"


# -- timing ----------------------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    op: Op | None
    na: str = ""
    batch: int = 0
    samples: list[float] = field(default_factory=list)

    @property
    def per_op(self) -> float:
        """Median seconds per operation, loop overhead not yet subtracted."""
        return statistics.median(self.samples)


def time_batch(op: Op, n: int) -> float:
    """Seconds per call over ``n`` calls, with the collector off as ``timeit`` does."""
    loop = range(n)
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in loop:
            op()
        elapsed = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    return elapsed / n


def calibrate(op: Op, seconds: float) -> int:
    """How many calls fill about ``seconds``."""
    n = 1
    while True:
        per_op = time_batch(op, n)
        if per_op * n >= seconds / 10 or n >= 1 << 20:
            return max(1, int(seconds / max(per_op, 1e-9)))
        n *= 4


def run_cell(contenders: Sequence[Contender], rounds: int, seconds: float) -> None:
    """Each round times every contender once, in a fresh random order.

    A fixed rotation can fall in step with a neighbour's periodic load and hand it to the same
    contender round after round; a shuffled order (seeded, so runs are repeatable) cannot.
    """
    live = [c for c in contenders if c.op is not None]
    for c in live:
        assert c.op is not None
        c.batch = calibrate(c.op, seconds)
    order = random.Random(len(live) * 7919 + rounds)
    for _ in range(rounds):
        for c in order.sample(live, len(live)):
            assert c.op is not None
            c.samples.append(time_batch(c.op, c.batch))


# -- report ----------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    versions = {"Python": platform.python_version()}
    for name in ("jotauth", "cryptography", "PyJWT", "joserfc", "jwcrypto", "python-jose"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    if "na" in result:
        return "n/a"
    return f"{result['ratio']:.2f}x ({result['us']:.2f})"


def render(results: dict[str, Any], algs: Sequence[str], markdown: bool) -> str:
    """One table per operation: rows are contenders, columns algorithms; ratio (µs/op)."""
    lines: list[str] = []
    for op in OPS:
        table = results["cells"].get(op)
        if not table:
            continue
        names: list[str] = []
        for alg in algs:
            for name in table.get(alg, {}):
                if name not in names:
                    names.append(name)
        title = f"{op}: ratio to raw (µs/op)"
        header = ["contender", *algs]
        rows = [[name, *(_cell(table.get(alg, {}).get(name)) for alg in algs)] for name in names]
        if markdown:
            lines += [f"**{title}**", ""]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join(" --- " for _ in header) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in rows]
        else:
            widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
            lines.append(title)
            for row in [header, *rows]:
                lines.append("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="round-robin rounds (40)")
    parser.add_argument(
        "--batch-ms", type=float, default=12.0, help="target length of one timed batch (12)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 rounds of 4 ms batches")
    parser.add_argument("--algs", default=",".join(ALGS), help="comma-separated subset of algs")
    parser.add_argument("--ops", default=",".join(OPS), help="verify, sign or both")
    parser.add_argument(
        "--only", default="", help="comma-separated contender names to time (raw is always kept)"
    )
    parser.add_argument(
        "--claims",
        choices=CLAIM_SETS,
        default="access",
        help="payload: access (default) or minimal",
    )
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds, seconds = (5, 0.004) if args.quick else (args.rounds, args.batch_ms / 1000)
    if rounds < 1 or seconds <= 0:
        parser.error("--rounds and --batch-ms must be positive")
    algs = [a for a in args.algs.split(",") if a]
    ops = [o for o in args.ops.split(",") if o]
    if bad := [a for a in algs if a not in ALGS] + [o for o in ops if o not in OPS]:
        parser.error(f"unknown algorithm or operation: {', '.join(bad)}")
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    known = {name for name, *_ in CONTENDERS}
    if unknown := only - known:
        parser.error(f"unknown contender(s) {sorted(unknown)}; known: {sorted(known)}")

    # Peers warn about what they consider deprecated (joserfc: EdDSA, RFC 9864); the bench
    # measures them anyway, and a warning printed per call would distort the timing.
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    now = int(time.time())
    results: dict[str, Any] = {
        "versions": _versions(),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "load_before": os.getloadavg()[0],
        "command": " ".join(["python", "bench/jose_verify.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "claims": args.claims,
        "rounds": rounds,
        "batch_ms": seconds * 1000,
        "token_bytes": {},
        "gaps": {},
        "cells": {},
    }
    empty = Contender("loop overhead", lambda: None)
    run_cell([empty], max(rounds, 5), seconds)
    overhead = empty.per_op
    results["loop_overhead_us"] = overhead * 1e6
    problems: list[str] = []
    for alg in algs:
        m = make_material(alg, now, args.claims)
        results["token_bytes"][alg] = len(m.token)
        for op_name in ops:
            contenders = []
            for name, _, verify_factory, sign_factory in CONTENDERS:
                if only and name not in only and name != BASELINE:
                    continue
                factory: Any = verify_factory if op_name == "verify" else sign_factory
                if factory is None:
                    continue
                op = factory(m, m.token) if op_name == "verify" else factory(m)
                if isinstance(op, str):
                    contenders.append(Contender(name, None, na=op))
                    continue
                if op_name == "verify" and name != BASELINE and not name.startswith("raw"):
                    gaps = policy_gaps(verify_factory, m)  # type: ignore[arg-type]
                    if isinstance(gaps, str):
                        problems.append(f"{name} {alg} verify: {gaps}")
                        continue
                    if gaps:
                        results["gaps"].setdefault(name, {})[alg] = gaps
                elif op_name == "sign" and (problem := sign_problem(sign_factory, m)):  # type: ignore[arg-type]
                    problems.append(f"{name} {alg} sign: {problem}")
                    continue
                contenders.append(Contender(name, op))
            run_cell(contenders, rounds, seconds)
            base = next(c for c in contenders if c.name == BASELINE)
            cell: dict[str, Any] = {}
            for c in contenders:
                if c.op is None:
                    cell[c.name] = {"na": c.na}
                    continue
                ratios = sorted(
                    (mine - overhead) / (raw - overhead)
                    for mine, raw in zip(c.samples, base.samples, strict=True)
                )
                cell[c.name] = {
                    "us": (c.per_op - overhead) * 1e6,
                    "ratio": statistics.median(ratios),
                    "ratio_iqr": [ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]],
                    "us_min": (min(c.samples) - overhead) * 1e6,
                    "ratio_min": (min(c.samples) - overhead) / (min(base.samples) - overhead),
                    "batch": c.batch,
                    "samples_us": [round(x * 1e6, 3) for x in c.samples],
                }
            results["cells"].setdefault(op_name, {})[alg] = cell
            sys.stderr.write(f"  {op_name} {alg}: done ({time.perf_counter() - started:.0f} s)\n")
    results["seconds"] = time.perf_counter() - started
    results["load_after"] = os.getloadavg()[0]

    out = sys.stdout
    out.write(render(results, algs, args.markdown) + "\n")
    out.write(f"loop overhead {overhead * 1e9:.0f} ns/call, subtracted from every figure\n")
    out.write("token bytes: " + json.dumps(results["token_bytes"]) + "\n")
    for name, per_alg in results["gaps"].items():
        for alg, gaps in per_alg.items():
            out.write(f"gap: {name} {alg} accepts tokens with a bad {', '.join(gaps)}\n")
    for problem in problems:
        out.write(f"problem (not timed): {problem}\n")
    out.write(
        "versions: "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + f"; CPU: {results['cpu']} ({results['cores']} cores)"
        + f"; claims {args.claims}; {rounds} rounds x {seconds * 1000:g} ms"
        + f"; took {results['seconds']:.0f} s"
        + f"; load average {results['load_before']:.2f} before, {results['load_after']:.2f} after\n"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
