"""Wycheproof's JWE vectors: every case of json_web_encryption_test (139) and the 34 JWE cases
of json_web_crypto_test.

How a case is read: the group's ``private`` key is loaded with ``Key.from_jwk`` (so it is bound
to the JWK's ``alg``) and the ``jwe`` decrypted with ``jose.jwe.decrypt``, the compact
serialization. To show that the key binding, not a default refusal, rejects the misuse cases
(an RSA-OAEP key given an RSA1_5 token, an AES-KW key given an AES-GCM-KW token), every case
runs with every opt-in on: all JWE algorithms named in ``algorithms=`` and ``compression=True``.
A case is "valid" when decryption succeeds with the file's plaintext, "invalid" when it raises a
jotauth error; any other exception fails the test. A second test runs each valid case that
needs an opt-in (RSA1_5, compressed content) without it and expects a refusal.
"""

import json
from typing import Any

import pytest
from tests.jose.vectors import load, wycheproof

from jotauth import jose
from jotauth.errors import JotauthError
from jotauth.jose import jwe

FILE = "json_web_encryption_test.json"
CRYPTO_FILE = "json_web_crypto_test.json"

# Where the data is wrong, not us. Keyed by (file, tcId); the value is the outcome jotauth must
# produce instead of the file's, with the reason. Every case agrees with the file today; a test
# below keeps this list honest if an entry is ever added.
DEVIATIONS: dict[tuple[str, str], tuple[str, str]] = {}

ALL_ON: dict[str, Any] = {"algorithms": jwe.ALGORITHMS, "compression": True}
CASES = wycheproof(FILE)
CRYPTO_JWE = [p for p in wycheproof(CRYPTO_FILE) if "jwe" in p.values[1]]


def _token(case: dict[str, Any]) -> str:
    value = case["jwe"]
    return value if isinstance(value, str) else json.dumps(value)


def _outcome(group: dict[str, Any], case: dict[str, Any], **options: Any) -> tuple[str, Any]:
    try:
        key = jose.Key.from_jwk(group["private"])
        plaintext = jwe.decrypt(_token(case), key, **options)
    except JotauthError as error:
        return "invalid", error
    if "pt" in case and plaintext != bytes.fromhex(case["pt"]):
        return "wrong plaintext", plaintext
    return "valid", None


def _expected(file: str, case: dict[str, Any]) -> str:
    deviation = DEVIATIONS.get((file, str(case["tcId"])))
    return deviation[0] if deviation else str(case["result"])


@pytest.mark.parametrize(("group", "case"), CASES)
def test_json_web_encryption(group: dict[str, Any], case: dict[str, Any]) -> None:
    """Every Wycheproof JWE case has the expected outcome, with every opt-in enabled."""
    result, detail = _outcome(group, case, **ALL_ON)
    assert result == _expected(FILE, case), repr(detail)


@pytest.mark.parametrize(("group", "case"), CRYPTO_JWE)
def test_json_web_crypto_jwe_cases(group: dict[str, Any], case: dict[str, Any]) -> None:
    """The JWE cases of Wycheproof's mixed JOSE file have the expected outcome too."""
    result, detail = _outcome(group, case, **ALL_ON)
    assert result == _expected(CRYPTO_FILE, case), repr(detail)


def _needs_opt_in(group: dict[str, Any], case: dict[str, Any]) -> bool:
    return case["result"] == "valid" and (
        group["private"].get("alg") == "RSA1_5" or "CompressedPlaintext" in case["flags"]
    )


OPT_IN_CASES = [p for p in CASES if _needs_opt_in(*p.values)]


@pytest.mark.parametrize(("group", "case"), OPT_IN_CASES)
def test_opt_in_cases_are_refused_by_default(group: dict[str, Any], case: dict[str, Any]) -> None:
    """The valid RSA1_5 and compressed cases are refused without the opt-in, by name."""
    result, error = _outcome(group, case)
    assert result == "invalid"
    assert isinstance(error, jose.AlgorithmNotAllowedError)
    assert "RSA1_5" in str(error) or "compression=True" in str(error)


def test_invalid_cases_fail_without_saying_why_the_crypto_failed() -> None:
    """Every invalid case whose header and key agree fails as the one DecryptionError, unless
    its flaw is public (segments, base64url, header JSON, an off-curve epk, key binding)."""
    public_flaw = jose.MalformedTokenError | jose.AlgorithmNotAllowedError
    for group, case in (p.values for p in CASES):
        if case["result"] != "invalid":
            continue
        _, error = _outcome(group, case, **ALL_ON)
        assert isinstance(error, jose.DecryptionError | public_flaw), (case["tcId"], error)
        if isinstance(error, jose.DecryptionError):
            assert str(error) == "decryption failed"


def test_all_cases_collected() -> None:
    """All 139 cases of the JWE file and the 34 JWE cases of the crypto file are collected."""
    assert len(CASES) == 139
    assert len(CRYPTO_JWE) == 34
    # RSA1_5: tcId 100-105, 112 and RFC 7520 Figure 81 (128); compressed: Figure 170 (135)
    assert sorted(p.values[1]["tcId"] for p in OPT_IN_CASES) == [*range(100, 106), 112, 128, 135]


def test_deviations_name_real_cases_that_differ() -> None:
    """Each listed deviation names an existing case whose file verdict we override."""
    cases = {
        (file, str(case["tcId"])): case["result"]
        for file in (FILE, CRYPTO_FILE)
        for group in load(f"wycheproof/{file}")["testGroups"]
        for case in group["tests"]
    }
    for key, (outcome, reason) in DEVIATIONS.items():
        assert key in cases, f"{key} is not a case"
        assert cases[key] != outcome, f"{key} is not a deviation ({reason})"
