"""JWE interoperability with panva/jose (node), both directions, every alg/enc pair it has.

Opt-in, because it installs a package from the npm registry: run with
``JOTAUTH_INTEROP_NODE=1`` (and ``node`` and ``npm`` on the PATH). Without them the tests skip
and say why. The node side is one small script (``interop_node/jwe.mjs``) run once per
direction with every case in one batch.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.jose.jwe_labels import ALL_LABELS, LABELS, alg_of, options_for, pair
from tests.node_package import node_package

from jotauth import jose
from jotauth.jose import jwe

SCRIPT = Path(__file__).with_name("interop_node") / "jwe.mjs"
JOSE_VERSION = "5.10.0"
PLAINTEXT = '{"sub":"42"}'


@pytest.fixture(scope="module")
def node_jose(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temp dir with panva/jose installed and the script beside it; skips when not enabled."""
    folder = tmp_path_factory.mktemp("node-jose")
    return node_package(folder, "jose", JOSE_VERSION, SCRIPT, "panva/jose")


def _run(folder: Path, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["node", "jwe.mjs"],
        cwd=folder,
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    results: list[dict[str, Any]] = json.loads(result.stdout)
    return results


def _cases(labels: list[str]) -> list[tuple[str, str]]:
    return [(label, enc) for label in labels for enc in jwe.ENCRYPTIONS]


def test_panva_jose_tokens_decrypt_in_jotauth(
    node_jose: Path, jwe_keys: dict[str, jose.Key]
) -> None:
    """panva/jose's compact JWE to each of our public keys decrypts in jotauth."""
    cases = _cases(ALL_LABELS)
    jobs = []
    for label, enc in cases:
        public, private = pair(jwe_keys, label, enc)
        jwk = public.to_jwk(private=private.kty == "oct")
        jobs.append({"op": "encrypt", "jwk": jwk, "alg": alg_of(label), "enc": enc})
        jobs[-1]["plaintext"] = PLAINTEXT
    failures = []
    for (label, enc), result in zip(cases, _run(node_jose, jobs), strict=True):
        if "error" in result:
            failures.append((label, enc, result["error"]))
            continue
        private = pair(jwe_keys, label, enc)[1]
        got = jwe.decrypt(result["token"], private, **options_for(label))
        assert got == PLAINTEXT.encode(), (label, enc)
    assert failures == []


def test_jotauth_tokens_decrypt_in_panva_jose(
    node_jose: Path, jwe_keys: dict[str, jose.Key]
) -> None:
    """jotauth's compact JWE decrypts in panva/jose with the private JWK."""
    cases = _cases(LABELS)
    jobs = []
    for label, enc in cases:
        public, private = pair(jwe_keys, label, enc)
        token = jwe.encrypt(PLAINTEXT, public, enc=enc)
        jobs.append(
            {"op": "decrypt", "jwk": private.to_jwk(private=True), "alg": alg_of(label)}
            | {"token": token}
        )
    results = _run(node_jose, jobs)
    failures = [
        (label, enc, result.get("error"))
        for (label, enc), result in zip(cases, results, strict=True)
        if result.get("plaintext") != PLAINTEXT
    ]
    assert failures == []
