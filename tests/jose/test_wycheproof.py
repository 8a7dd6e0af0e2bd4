"""Wycheproof's JOSE vectors (C2SP/wycheproof testvectors_v1): every JWS and JWK case.

Files: json_web_signature_test (401 cases) and json_web_key_test (26) in full, plus the 49 JWS
cases of json_web_crypto_test (its 34 JWE cases and json_web_encryption_test are collected by
test_jwe_wycheproof.py).

How a case is read: the group's ``public`` key (or ``private`` when there is no public part, as
for HMAC) is loaded with ``Key.from_jwk`` or, for a JWK Set, ``KeySet.from_jwks``; the ``jws``
is checked with ``jose.jws.verify`` and no algorithm allowlist, so the key alone decides which
algorithm it accepts (the payloads are not JWT claims, so ``decode`` does not apply). A case is
"valid" when both steps succeed and "invalid" when either raises a jotauth error; any other
exception fails the test. The private key of a group that also has a public one is not used:
verification never needs it (and in the rfc7520WithKeyOps groups its ``key_ops`` is the single
malformed string "sign, verify", which our strict import would refuse).
"""

import hashlib
from pathlib import Path
from typing import Any

import pytest
from tests.jose import vectors
from tests.jose.vectors import load, wycheproof

from jotauth import jose
from jotauth.errors import JotauthError

# Where the data is wrong, not us (see tests/jose/vectors/README.md). Keyed by (file, tcId); the
# value is the outcome jotauth must produce instead of the file's, with the reason.
DEVIATIONS: dict[tuple[str, str], tuple[str, str]] = {
    # Byte-identical to the valid tcId 357 (no padding anywhere) but marked invalid.
    ("json_web_signature_test.json", "367"): ("valid", "same token as valid tcId 357"),
    ("json_web_signature_test.json", "370"): ("valid", "same token as valid tcId 357"),
    # A "?" inserted into the header / payload yet marked valid: a strict base64url decoder
    # rejects a character outside the alphabet (DESIGN.md: strict base64url).
    ("json_web_signature_test.json", "372"): ("invalid", "'?' is not base64url"),
    ("json_web_signature_test.json", "373"): ("invalid", "'?' is not base64url"),
    # RFC 7520 Figure 20: the key says alg PS256, the token is signed PS384. A key is bound to
    # one algorithm (RFC 8725 3.1), so the key's alg wins and the token is refused.
    ("json_web_signature_test.json", "346"): ("invalid", "key alg PS256, token PS384"),
    ("json_web_signature_test.json", "350"): ("invalid", "key alg PS256, token PS384"),
    # RFC 7520 Figure 27: the key says alg "ES521" (a typo for ES512): not an algorithm.
    ("json_web_signature_test.json", "347"): ("invalid", 'key alg "ES521" does not exist'),
    ("json_web_signature_test.json", "351"): ("invalid", 'key alg "ES521" does not exist'),
}

FILES = ("json_web_signature_test.json", "json_web_key_test.json")


def _keys(jwk: dict[str, Any]) -> jose.Key | jose.KeySet:
    return jose.KeySet.from_jwks(jwk) if "keys" in jwk else jose.Key.from_jwk(jwk)


def _outcome(group: dict[str, Any], case: dict[str, Any]) -> tuple[str, JotauthError | None]:
    try:
        keys = _keys(group.get("public") or group["private"])
        jose.jws.verify(case["jws"], keys)
    except JotauthError as error:
        return "invalid", error
    return "valid", None


def _expected(file: str, case: dict[str, Any]) -> str:
    deviation = DEVIATIONS.get((file, str(case["tcId"])))
    return deviation[0] if deviation else str(case["result"])


@pytest.mark.parametrize(("group", "case"), wycheproof("json_web_signature_test.json"))
def test_json_web_signature(group: dict[str, Any], case: dict[str, Any]) -> None:
    """Every JWS case of Wycheproof has the expected outcome (deviations listed above)."""
    result, error = _outcome(group, case)
    assert result == _expected("json_web_signature_test.json", case), repr(error)


@pytest.mark.parametrize(("group", "case"), wycheproof("json_web_key_test.json"))
def test_json_web_key(group: dict[str, Any], case: dict[str, Any]) -> None:
    """Every Wycheproof JWK case (weak, mixed, modified, misused keys) has the expected outcome."""
    result, error = _outcome(group, case)
    assert result == _expected("json_web_key_test.json", case), repr(error)


# json_web_crypto_test mixes JWS and JWE cases; the JWE ones (a "jwe" member) are in
# test_jwe_wycheproof.py.
CRYPTO_JWS = [p for p in wycheproof("json_web_crypto_test.json") if "jws" in p.values[1]]


@pytest.mark.parametrize(("group", "case"), CRYPTO_JWS)
def test_json_web_crypto_jws_cases(group: dict[str, Any], case: dict[str, Any]) -> None:
    """The JWS cases of Wycheproof's mixed JOSE file (embedded jwk, none, JSON form...) pass too."""
    result, error = _outcome(group, case)
    assert result == case["result"], repr(error)


def test_crypto_file_jws_cases_all_collected() -> None:
    """All 49 JWS cases of json_web_crypto_test are collected here (its 34 JWE cases elsewhere)."""
    assert len(CRYPTO_JWS) == 49


def test_deviations_name_real_cases_that_differ() -> None:
    """Each listed deviation names an existing case whose file verdict we override."""
    cases = {
        (file, str(case["tcId"])): case["result"]
        for file in FILES
        for group in load(f"wycheproof/{file}")["testGroups"]
        for case in group["tests"]
    }
    for key, (outcome, reason) in DEVIATIONS.items():
        assert key in cases, f"{key} is not a case"
        assert cases[key] != outcome, f"{key} is not a deviation ({reason})"


def test_signature_file_has_401_cases() -> None:
    """The pinned JWS file is complete: 401 cases, all collected."""
    assert len(list(wycheproof("json_web_signature_test.json"))) == 401


def test_every_vendored_file_is_pinned_and_intact() -> None:
    """The manifest names exactly the vendored files, and each one matches its checksum."""
    on_disk = {
        str(path.relative_to(vectors.ROOT))
        for folder in ("wycheproof", "jose-cookbook")
        for path in (vectors.ROOT / folder).rglob("*")
        if path.is_file()
    }
    pinned = vectors.manifest()
    assert on_disk == set(pinned)
    for name, digest in pinned.items():
        assert hashlib.sha256((vectors.ROOT / name).read_bytes()).hexdigest() == digest, name


def test_edited_or_missing_vector_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A vendored file that was edited or removed is an error, never a silent skip."""
    copy = tmp_path / "vectors"
    (copy / "wycheproof").mkdir(parents=True)
    name = "wycheproof/json_web_key_test.json"
    original = (vectors.ROOT / name).read_bytes()
    (copy / name).write_bytes(original.replace(b'"valid"', b'"invalid"', 1))
    (copy / "SHA256SUMS").write_text(vectors.MANIFEST.read_text(encoding="utf-8"))
    monkeypatch.setattr(vectors, "ROOT", copy)
    monkeypatch.setattr(vectors, "MANIFEST", copy / "SHA256SUMS")
    with pytest.raises(ValueError, match="does not match its SHA256SUMS entry"):
        load(name)
    with pytest.raises(FileNotFoundError):
        load("wycheproof/json_web_signature_test.json")
    with pytest.raises(FileNotFoundError, match="not listed"):
        load("wycheproof/made_up.json")
