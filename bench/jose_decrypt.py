"""JWE decrypt and nested decrypt+verify speed of jotauth.jose against its peers and the primitives.

Why: the JWE layer promises, as the JWS core does, to cost little more than the cryptography it
wraps. This script measures that as a ratio to the bare primitives (pyca ``cryptography`` on
the token's already-decoded parts, with key objects built once): AES-GCM or AES-CBC+HMAC for
the content, plus the key step of the cell: nothing for ``dir``, AES key unwrap for ``A256KW``,
loading the ephemeral point + ECDH + Concat KDF + unwrap for ``ECDH-ES+A256KW``, RSA-OAEP for
``RSA-OAEP-256``. Beside it, ``raw + base64url`` adds what no Python JOSE library can skip:
decoding the segments with the standard library (and, for ECDH, parsing the header for ``epk``).
The peers are joserfc and jwcrypto doing the same job on the same token.

Two operations: ``decrypt`` (a compact JWE to its plaintext, here a signed access token) and
``nested`` (decrypt, then verify the inner EdDSA JWS and validate its claims: signature,
algorithm allowlist, ``exp`` present and not passed, ``iss`` and ``aud``). Before timing, every
contender is handed a token with a flipped tag (and, for nested, an expired, a wrong-issuer and
a wrong-audience inner token); whatever it accepts is printed as a gap.

How: the timing method of bench/jose_verify.py (imported from it): short batches, every
contender once per round in a shuffled order, many rounds; a contender's ratio is the median
over rounds of its batch divided by the baseline's batch of the same round, the timing loop's
own cost subtracted from both.

Run from the repository root: ``.venv/bin/python bench/jose_decrypt.py`` (a few minutes);
``--quick`` for a smoke run; ``--markdown`` for docs/benchmarks.md; ``--help`` for the rest.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import Any

from cryptography.hazmat.primitives import (
    hashes,
    hmac as crypto_hmac,
    padding as sym_padding,
    serialization,
)
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from jose_verify import AUD, ISS, Contender, _claims, _cpu, _versions, run_cell

from jotauth import jose
from jotauth.jose import jwe

# cell -> (alg, enc, curve or None)
CELLS: dict[str, tuple[str, str, str | None]] = {
    "dir A256GCM": ("dir", "A256GCM", None),
    "dir A128CBC-HS256": ("dir", "A128CBC-HS256", None),
    "A256KW A256GCM": ("A256KW", "A256GCM", None),
    "ECDH-ES+A256KW P-256": ("ECDH-ES+A256KW", "A256GCM", "P-256"),
    "ECDH-ES+A256KW X25519": ("ECDH-ES+A256KW", "A256GCM", "X25519"),
    "RSA-OAEP-256 A256GCM": ("RSA-OAEP-256", "A256GCM", None),
}
OPS = ("decrypt", "nested")
BASELINE = "raw"
FLOOR = "raw + base64url"

Op = Callable[[], object]


def _b64(segment: bytes | str) -> bytes:
    data = segment.encode("ascii") if isinstance(segment, str) else segment
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


@dataclass
class Material:
    """One cell's keys in every form the contenders take, and the tokens they decrypt."""

    cell: str
    alg: str
    enc: str
    key: jose.Key  # jotauth private decryption key
    signer: jose.Key  # EdDSA signing key of the inner token
    private_jwk: dict[str, Any]
    token: str
    inner: str  # the signed JWT inside
    claims: dict[str, Any]
    bad: dict[str, dict[str, str]] = field(default_factory=dict)  # op -> what -> token


def make_material(cell: str, now: int) -> Material:
    alg, enc, crv = CELLS[cell]
    if alg == "dir":
        key = jose.Key.generate("dir", enc=enc)
    elif crv:
        key = jose.Key.generate(alg, crv=crv)
    else:
        key = jose.Key.generate(alg)
    public = key if key.kty == "oct" else key.public()
    signer = jose.Key.generate("EdDSA")
    claims = _claims(now)
    inner = jose.encode(claims, signer, headers={"typ": "at+jwt"})

    def seal(claims: dict[str, Any]) -> str:
        signed = jose.encode(claims, signer, headers={"typ": "at+jwt"})
        return jwe.encrypt(signed, public, enc=enc, headers={"cty": "JWT"})

    token = jwe.encrypt(inner, public, enc=enc, headers={"cty": "JWT"})
    head, tag = token.rsplit(".", 1)
    flipped = f"{head}.{tag[:-2]}{'A' if tag[-2] != 'A' else 'B'}{tag[-1]}"
    return Material(
        cell=cell,
        alg=alg,
        enc=enc,
        key=key,
        signer=signer,
        private_jwk=key.to_jwk(private=True),
        token=token,
        inner=inner,
        claims=claims,
        bad={
            "decrypt": {"tag": flipped},
            "nested": {
                "tag": flipped,
                "exp": seal(_claims(now, exp=now - 600, iat=now - 1500)),
                "iss": seal(_claims(now, iss="https://evil.example")),
                "aud": seal(_claims(now, aud="https://other.example")),
            },
        },
    )


# -- baselines -------------------------------------------------------------------------------------


def _concat_kdf(shared: bytes, alg: str, size: int) -> bytes:
    info = len(alg).to_bytes(4, "big") + alg.encode() + bytes(8) + (size * 8).to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), size, info).derive(shared)


def _content_opener(enc: str) -> Callable[[bytes, bytes, bytes, bytes, bytes], bytes]:
    """open(cek, iv, ciphertext, tag, aad) with the primitives alone."""
    if enc.endswith("GCM"):
        return lambda cek, iv, ct, tag, aad: AESGCM(cek).decrypt(iv, ct + tag, aad)

    def open_cbc(cek: bytes, iv: bytes, ct: bytes, tag: bytes, aad: bytes) -> bytes:
        mac = crypto_hmac.HMAC(cek[:16], hashes.SHA256())
        mac.update(aad + iv + ct + (len(aad) * 8).to_bytes(8, "big"))
        if not compare_digest(mac.finalize()[:16], tag):
            raise ValueError("bad tag")
        decryptor = Cipher(algorithms.AES(cek[16:]), modes.CBC(iv)).decryptor()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(decryptor.update(ct) + decryptor.finalize()) + unpadder.finalize()

    return open_cbc


def _raw_private(key: jose.Key) -> Any:
    """The cryptography key object (or secret bytes) behind a jotauth key, via its export."""
    if key.kty == "oct":
        return _b64(key.to_jwk(private=True)["k"])
    return serialization.load_pem_private_key(key.to_pem(private=True), password=None)


def _raw_public(key: jose.Key) -> Any:
    return serialization.load_pem_public_key(key.public().to_pem())


def _key_step(m: Material) -> Callable[[dict[str, Any], bytes], bytes]:
    """cek(header, encrypted_key) with the primitives alone, key objects built once."""
    private = _raw_private(m.key)
    if m.alg == "dir":
        return lambda header, encrypted_key: private
    if m.alg == "A256KW":
        return lambda header, encrypted_key: aes_key_unwrap(private, encrypted_key)
    if m.alg == "RSA-OAEP-256":
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        return lambda header, encrypted_key: private.decrypt(encrypted_key, oaep)
    curve = CELLS[m.cell][2]
    if curve == "X25519":
        from cryptography.hazmat.primitives.asymmetric import x25519

        def agree_x(header: dict[str, Any], encrypted_key: bytes) -> bytes:
            epk = x25519.X25519PublicKey.from_public_bytes(header["x"])
            kek = _concat_kdf(private.exchange(epk), m.alg, 32)
            return aes_key_unwrap(kek, encrypted_key)

        return agree_x
    secp256r1, ecdh = ec.SECP256R1(), ec.ECDH()
    load = ec.EllipticCurvePublicKey.from_encoded_point

    def agree(header: dict[str, Any], encrypted_key: bytes) -> bytes:
        epk = load(secp256r1, b"\x04" + header["x"] + header["y"])
        kek = _concat_kdf(private.exchange(ecdh, epk), m.alg, 32)
        return aes_key_unwrap(kek, encrypted_key)

    return agree


def _epk_bytes(header: dict[str, Any]) -> dict[str, Any]:
    epk = header.get("epk")
    if not epk:
        return {}
    return {name: _b64(epk[name]) for name in ("x", "y") if name in epk}


def _inner_verify(m: Material) -> Callable[[bytes], object]:
    """Ed25519 verify of the inner token, given its decoded parts (raw)."""
    signing_input, _, signature = m.inner.encode().rpartition(b".")
    verify = _raw_public(m.signer).verify
    sig = _b64(signature)
    return lambda _: verify(sig, signing_input)


def raw_factory(m: Material, op: str, token: str) -> Op:
    """The primitives alone on the token's pre-decoded parts (the token is ignored)."""
    protected, encrypted_key, iv, ct, tag = (
        _b64(p) if i else p.encode() for i, p in enumerate(m.token.split("."))
    )
    header = _epk_bytes(json.loads(_b64(protected)))
    step, opener = _key_step(m), _content_opener(m.enc)
    aad = m.token.split(".")[0].encode()
    if m.alg == "dir":
        gcm = AESGCM(_raw_private(m.key)).decrypt if m.enc.endswith("GCM") else None
        if gcm is not None:
            data = ct + tag
            decrypt: Op = lambda: gcm(iv, data, aad)  # noqa: E731
        else:
            decrypt = lambda: opener(step(header, encrypted_key), iv, ct, tag, aad)  # noqa: E731
    else:
        decrypt = lambda: opener(step(header, encrypted_key), iv, ct, tag, aad)  # noqa: E731
    if op == "decrypt":
        return decrypt
    verify = _inner_verify(m)
    return lambda: verify(decrypt())  # type: ignore[arg-type]


def floor_factory(m: Material, op: str, token: str) -> Op:
    """raw, plus decoding every segment with the standard library (and the header for epk)."""
    step, opener = _key_step(m), _content_opener(m.enc)
    gcm = AESGCM(_raw_private(m.key)).decrypt if m.alg == "dir" and m.enc.endswith("GCM") else None
    ecdh = m.alg.startswith("ECDH")
    ed_verify = _raw_public(m.signer).verify
    loads = json.loads

    def decrypt() -> bytes:
        protected, encrypted_key, iv, ct, tag = token.split(".")
        header = _epk_bytes(loads(_b64(protected))) if ecdh else {}
        aad = protected.encode()
        if gcm is not None:
            return gcm(_b64(iv), _b64(ct) + _b64(tag), aad)
        return opener(step(header, _b64(encrypted_key)), _b64(iv), _b64(ct), _b64(tag), aad)

    if op == "decrypt":
        return decrypt

    def nested() -> object:
        inner = decrypt()
        signing_input, _, signature = inner.rpartition(b".")
        ed_verify(_b64(signature), signing_input)
        return loads(_b64(signing_input.split(b".")[1]))

    return nested


# -- contenders ------------------------------------------------------------------------------------


def jotauth_factory(m: Material, op: str, token: str) -> Op:
    """The compiled hot path: a Decrypter (and for nested a Verifier) built once."""
    decrypter = jwe.Decrypter(m.key, algorithms=[m.alg], encryptions=[m.enc])
    if op == "decrypt":
        return lambda: decrypter.decrypt(token)
    verify = jose.Verifier(
        m.signer.public(),
        algorithms=["EdDSA"],
        issuer=ISS,
        audience=AUD,
        decrypt_with=decrypter,
    ).verify
    return lambda: verify(token)


def jotauth_oneshot_factory(m: Material, op: str, token: str) -> Op:
    """The one-shot functions: ``jwe.decrypt`` and ``jose.decode(..., decrypt_with=)``."""
    key, alg, enc = m.key, [m.alg], [m.enc]
    if op == "decrypt":
        return lambda: jwe.decrypt(token, key, algorithms=alg, encryptions=enc)
    public = m.signer.public()
    return lambda: jose.decode(
        token, public, algorithms=["EdDSA"], issuer=ISS, audience=AUD, decrypt_with=key
    )


def joserfc_factory(m: Material, op: str, token: str) -> Op:
    from joserfc import jwe as rfc_jwe, jwk, jwt

    key, algs = jwk.import_key(m.private_jwk), [m.alg, m.enc]
    decrypt = rfc_jwe.decrypt_compact
    if op == "decrypt":
        return lambda: decrypt(token, key, algorithms=algs).plaintext
    signer, decode = jwk.import_key(m.signer.public().to_jwk()), jwt.decode
    validate = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISS},
        aud={"essential": True, "value": AUD},
        exp={"essential": True},
    ).validate

    def nested() -> object:
        inner = decrypt(token, key, algorithms=algs).plaintext
        claims = decode(inner, signer, algorithms=["EdDSA"]).claims
        validate(claims)
        return claims

    return nested


def jwcrypto_factory(m: Material, op: str, token: str) -> Op:
    from jwcrypto import jwe as c_jwe, jwk, jwt

    key, algs = jwk.JWK(**m.private_jwk), [m.alg, m.enc]

    def decrypt() -> bytes:
        message = c_jwe.JWE()
        message.allowed_algs = algs
        message.deserialize(token, key=key)
        payload: bytes = message.payload
        return payload

    if op == "decrypt":
        return decrypt
    signer, check = jwk.JWK(**m.signer.public().to_jwk()), {"iss": ISS, "aud": AUD, "exp": None}

    def nested() -> object:
        parsed = jwt.JWT(algs=["EdDSA"], check_claims=check)
        parsed.leeway = 0
        parsed.deserialize(decrypt().decode(), signer)
        return json.loads(parsed.claims)

    return nested


Factory = Callable[[Material, str, str], Op]
CONTENDERS: tuple[tuple[str, Factory], ...] = (
    (BASELINE, raw_factory),
    (FLOOR, floor_factory),
    ("jotauth Decrypter/Verifier", jotauth_factory),
    ("jotauth one-shot", jotauth_oneshot_factory),
    ("joserfc", joserfc_factory),
    ("jwcrypto", jwcrypto_factory),
)


def gaps(factory: Factory, m: Material, op: str) -> list[str] | str:
    """Which must-fail tokens the contender accepts; a string if it fails the good token."""
    try:
        result = factory(m, op, m.token)()
    except Exception as exc:  # noqa: BLE001 - any failure on the good token disqualifies
        return f"fails the valid token: {type(exc).__name__}: {exc}"
    expected: object = m.inner.encode() if op == "decrypt" else m.claims
    if result != expected:
        return "returns something other than what was encrypted"
    accepted = []
    for what, bad in m.bad[op].items():
        try:
            factory(m, op, bad)()
        except Exception:  # noqa: BLE001, S112 - rejecting is the expected outcome
            continue
        accepted.append(what)
    return accepted


# -- report ----------------------------------------------------------------------------------------


def _cell_text(result: dict[str, Any] | None, key: str) -> str:
    if result is None:
        return "-"
    return f"{result[key]:.2f}x ({result['us']:.1f})"


def render(results: dict[str, Any], cells: Sequence[str], markdown: bool) -> str:
    lines: list[str] = []
    for op in OPS:
        table = results["cells"].get(op)
        if not table:
            continue
        for key, against in (("ratio", BASELINE), ("ratio_floor", FLOOR)):
            names = [name for name, _ in CONTENDERS if any(name in table[c] for c in table)]
            title = f"{op}: ratio to {against} (µs/op)"
            header = ["contender", *cells]
            rows = [[n, *(_cell_text(table.get(c, {}).get(n), key) for c in cells)] for n in names]
            if markdown:
                lines += [f"**{title}**", "", "| " + " | ".join(header) + " |"]
                lines.append("|" + "|".join(" --- " for _ in header) + "|")
                lines += ["| " + " | ".join(row) + " |" for row in rows]
            else:
                widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
                lines.append(title)
                for row in [header, *rows]:
                    lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
            lines.append("")
    return "\n".join(lines)


def _ratios(mine: list[float], base: list[float], overhead: float) -> list[float]:
    return sorted((a - overhead) / (b - overhead) for a, b in zip(mine, base, strict=True))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="round-robin rounds (30)")
    parser.add_argument("--batch-ms", type=float, default=12.0, help="length of one batch (12)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 rounds of 4 ms")
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated subset")
    parser.add_argument("--ops", default=",".join(OPS), help="decrypt, nested or both")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds, seconds = (5, 0.004) if args.quick else (args.rounds, args.batch_ms / 1000)
    cells = [c for c in args.cells.split(",") if c]
    ops = [o for o in args.ops.split(",") if o]
    if bad := [c for c in cells if c not in CELLS] + [o for o in ops if o not in OPS]:
        parser.error(f"unknown cell or operation: {', '.join(bad)}")
    warnings.simplefilter("ignore")  # peers' deprecation warnings would distort the timing
    started = time.perf_counter()
    now = int(time.time())
    results: dict[str, Any] = {
        "versions": _versions(),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "load_before": os.getloadavg()[0],
        "command": " ".join(["python", "bench/jose_decrypt.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rounds": rounds,
        "batch_ms": seconds * 1000,
        "token_bytes": {},
        "gaps": {},
        "cells": {},
    }
    empty = Contender("loop overhead", lambda: None)
    run_cell([empty], max(rounds, 5), seconds)
    overhead = empty.per_op
    problems: list[str] = []
    for cell in cells:
        m = make_material(cell, now)
        results["token_bytes"][cell] = len(m.token)
        for op in ops:
            contenders = []
            for name, factory in CONTENDERS:
                if name not in (BASELINE, FLOOR):
                    found = gaps(factory, m, op)
                    if isinstance(found, str):
                        problems.append(f"{name} {cell} {op}: {found}")
                        continue
                    if found:
                        results["gaps"].setdefault(name, {})[f"{cell} {op}"] = found
                contenders.append(Contender(name, factory(m, op, m.token)))
            run_cell(contenders, rounds, seconds)
            base = next(c for c in contenders if c.name == BASELINE)
            floor = next(c for c in contenders if c.name == FLOOR)
            table: dict[str, Any] = {}
            for c in contenders:
                ratios = _ratios(c.samples, base.samples, overhead)
                table[c.name] = {
                    "us": (c.per_op - overhead) * 1e6,
                    "ratio": statistics.median(ratios),
                    "ratio_iqr": [ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]],
                    "ratio_floor": statistics.median(_ratios(c.samples, floor.samples, overhead)),
                    "batch": c.batch,
                }
            results["cells"].setdefault(op, {})[cell] = table
            sys.stderr.write(f"  {op} {cell}: done ({time.perf_counter() - started:.0f} s)\n")
    results["seconds"] = time.perf_counter() - started
    results["load_after"] = os.getloadavg()[0]
    out = sys.stdout
    out.write(render(results, cells, args.markdown) + "\n")
    out.write(f"loop overhead {overhead * 1e9:.0f} ns/call, subtracted from every figure\n")
    out.write("token bytes: " + json.dumps(results["token_bytes"]) + "\n")
    for name, per_cell in results["gaps"].items():
        for where, accepted in per_cell.items():
            out.write(f"gap: {name} {where} accepts a token with a bad {', '.join(accepted)}\n")
    for problem in problems:
        out.write(f"problem (not timed): {problem}\n")
    out.write(
        "versions: "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + f"; CPU: {results['cpu']} ({results['cores']} cores)"
        + f"; {rounds} rounds x {seconds * 1000:g} ms; took {results['seconds']:.0f} s"
        + f"; load average {results['load_before']:.2f} before, {results['load_after']:.2f} after\n"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
