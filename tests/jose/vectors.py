"""The one loader of conformance data, feeding ``pytest.mark.parametrize``.

Shared vectors are read in place from ``$JOTAUTH_VECTORS`` or ``<project root>/../shared/vectors``.
A missing folder is an error at collection time, never a skip: conformance that silently stops
running is worse than none. Our own transcriptions of RFC examples live in ``tests/jose/vectors/``.
"""

import json
import os
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL = Path(__file__).resolve().parent / "vectors"


def shared_root() -> Path:
    """The shared vectors folder; raises (failing the suite) when it is missing."""
    root = Path(os.environ.get("JOTAUTH_VECTORS") or PROJECT_ROOT.parent / "shared" / "vectors")
    if not (root / "wycheproof").is_dir() or not (root / "jose-cookbook").is_dir():
        raise FileNotFoundError(
            f"conformance vectors not found at {root}; set JOTAUTH_VECTORS to the folder "
            "holding wycheproof/ and jose-cookbook/"
        )
    return root


def load(relative: str) -> Any:
    """A JSON file of the shared vectors folder."""
    with (shared_root() / relative).open(encoding="utf-8") as handle:
        return json.load(handle)


def load_local(name: str) -> Any:
    """A JSON file of tests/jose/vectors/."""
    with (LOCAL / name).open(encoding="utf-8") as handle:
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


# Cookbook files in scope: JWS and JWK (RFC 7520 sections 3 and 4), the Ed25519 example and the
# two RFC 7797 files. JWE (jwe/, curve25519/ecdh-es.json, 6.nesting...) is not collected at all.
COOKBOOK_JWS = ("jws", "curve25519/jws.json")
COOKBOOK_JWK = ("jwk",)
COOKBOOK_REJECTED = ("rfc7797",)


def cookbook(folders: tuple[str, ...]) -> list[Any]:
    """``pytest.param(name, case)`` for each cookbook JSON file under ``folders``."""
    root = shared_root() / "jose-cookbook"
    params = []
    for folder in folders:
        path = root / folder
        files = [path] if path.suffix == ".json" else sorted(path.glob("*.json"))
        assert files, f"no cookbook files under {path}"
        for file in files:
            name = str(file.relative_to(root))
            with file.open(encoding="utf-8") as handle:
                params.append(pytest.param(name, json.load(handle), id=name))
    return params
