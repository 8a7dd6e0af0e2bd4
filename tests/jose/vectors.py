"""The one loader of conformance data, feeding ``pytest.mark.parametrize``.

Everything lives in ``tests/jose/vectors/`` inside the repository: the vendored upstream files
(``wycheproof/``, ``jose-cookbook/``, with their licences, provenance and known defects in
``README.md``) and our own transcriptions of RFC examples (``rfc.json``). ``SHA256SUMS`` pins
every vendored file, so a missing, truncated or edited file fails the suite at collection time;
it never skips, because conformance that silently stops running is worse than none.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent / "vectors"
MANIFEST = ROOT / "SHA256SUMS"


def manifest() -> dict[str, str]:
    """``relative path -> sha256`` for every vendored file, as pinned in SHA256SUMS."""
    entries = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        entries[name.removeprefix("./")] = digest
    return entries


def _read(relative: str) -> bytes:
    """A vendored file's bytes, refused unless they match the manifest."""
    expected = manifest().get(relative)
    if expected is None:
        raise FileNotFoundError(f"{relative} is not listed in {MANIFEST}")
    data = (ROOT / relative).read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise ValueError(f"{ROOT / relative} does not match its SHA256SUMS entry (edited?)")
    return data


def load(relative: str) -> Any:
    """A vendored JSON file, e.g. ``load("wycheproof/json_web_key_test.json")``."""
    return json.loads(_read(relative))


def load_local(name: str) -> Any:
    """One of our own transcriptions (not vendored, so not in the manifest)."""
    with (ROOT / name).open(encoding="utf-8") as handle:
        return json.load(handle)


def wycheproof(file: str) -> list[Any]:
    """``pytest.param(group, case)`` for every case of a Wycheproof file, id ``tcId-comment``."""
    data = load(f"wycheproof/{file}")
    params = [
        pytest.param(group, case, id=f"{case['tcId']}-{case['comment']}")
        for group in data["testGroups"]
        for case in group["tests"]
    ]
    assert len(params) == data["numberOfTests"], f"{file}: {len(params)} cases, header disagrees"
    return params


# Cookbook files in scope: JWS and JWK (RFC 7520 sections 3 and 4), the Ed25519 example, the
# two RFC 7797 files, JWE (RFC 7520 section 5 and the RFC 8037 X25519 example) and nesting
# (RFC 7520 section 6).
COOKBOOK_JWS = ("jws", "curve25519/jws.json")
COOKBOOK_JWE = ("jwe", "curve25519/ecdh-es.json")
COOKBOOK_NESTED = ("6.nesting_signatures_and_encryption.json",)
COOKBOOK_JWK = ("jwk",)
COOKBOOK_REJECTED = ("rfc7797",)


def cookbook(folders: tuple[str, ...]) -> list[Any]:
    """``pytest.param(name, case)`` for each cookbook JSON file under ``folders``."""
    names = sorted(manifest())
    params = []
    for folder in folders:
        prefix = f"jose-cookbook/{folder}"
        files = [n for n in names if n == prefix or n.startswith(prefix + "/")]
        files = [n for n in files if n.endswith(".json")]
        assert files, f"no cookbook files under {prefix}"
        for file in files:
            name = file.removeprefix("jose-cookbook/")
            params.append(pytest.param(name, load(file), id=name))
    return params
