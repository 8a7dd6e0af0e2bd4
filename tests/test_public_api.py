"""jotauth.jose's public surface: ``__all__`` sorted, complete and importable (httpx's habit).

Other parts and users code against these names (issue 2's "Public API"); a test keeps the
curated list honest, and checks that the core stays importable with only ``cryptography``.
"""

import inspect
import subprocess
import sys
import types

import jotauth.jose
import jotauth.jose.errors
from jotauth import jose

CONTRACT = {
    "Key", "KeySet", "Verifier", "encode", "decode", "jws", "peek_header", "peek_claims",
    "MalformedTokenError", "TokenTooLargeError", "CriticalHeaderError",
    "UnsupportedAlgorithmError", "AlgorithmNotAllowedError", "InvalidKeyError",
    "NoMatchingKeyError", "BadSignatureError", "ClaimError", "ExpiredTokenError",
    "ImmatureTokenError", "InvalidClaimError", "MissingClaimError",
    "jwe", "DecryptionError",
    "dpop", "DPoPProof", "DPoPProofError", "DPoPNonceError", "DEFAULT_DPOP_ALGS",
    "make_proof", "verify_proof", "normalize_htu", "access_token_hash",
}  # fmt: skip


def test_all_is_sorted_and_unique() -> None:
    """``jose.__all__`` is sorted (ruff's RUF022 order: constants, classes, functions), no dups."""
    names = jotauth.jose.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert len(set(names)) == len(names)


def test_every_name_in_all_is_importable() -> None:
    """Every name in ``__all__`` exists and imports with ``from jotauth.jose import name``."""
    for name in jotauth.jose.__all__:
        namespace: dict[str, object] = {}
        exec(f"from jotauth.jose import {name}", namespace)  # noqa: S102 - fixed, trusted names
        assert namespace[name] is getattr(jotauth.jose, name)


def test_all_is_complete() -> None:
    """Every public non-module attribute of jotauth.jose is listed in ``__all__``."""
    public = {
        name
        for name, value in vars(jotauth.jose).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - set(jotauth.jose.__all__) == set()


def test_jws_module_all() -> None:
    """``jose.jws.__all__`` is sorted and names sign, verify and peek_header, all importable."""
    names = jose.jws.__all__
    assert names == sorted(names)
    assert {"peek_header", "sign", "verify"} <= set(names)
    for name in names:
        assert hasattr(jose.jws, name), name
    assert jose.jws.peek_header is jose.peek_header


def test_jwe_module_all() -> None:
    """``jose.jwe.__all__`` is sorted and names encrypt/decrypt (compact and JSON), Decrypter."""
    names = jose.jwe.__all__
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    expected = {"Decrypter", "decrypt", "decrypt_json", "encrypt", "encrypt_json", "peek_header"}
    assert expected <= set(names)
    for name in names:
        assert hasattr(jose.jwe, name), name
    assert "RSA1_5" in jose.jwe.ALGORITHMS  # implemented, but decrypted only when named
    assert set(jose.jwe.ENCRYPTIONS) == {
        "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"
    }  # fmt: skip


def test_contract_names_are_exported() -> None:
    """The names of the public contract (issue 2) are all exported."""
    assert set(jotauth.jose.__all__) >= CONTRACT
    assert callable(jose.jws.sign)
    assert callable(jose.jws.verify)


def test_errors_module_exports_every_error() -> None:
    """jotauth.jose.errors lists every error class it defines, sorted, all re-exported by jose."""
    defined = {
        name
        for name, value in vars(jotauth.jose.errors).items()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == "jotauth.jose.errors"
    }
    names = jotauth.jose.errors.__all__
    assert names == sorted(names)
    assert set(names) == defined
    assert defined <= set(jotauth.jose.__all__)


def test_algorithms_listed() -> None:
    """``jose.ALGORITHMS`` names exactly the algorithms of the contract, and never none."""
    expected = {f"{f}{n}" for f in ("HS", "RS", "PS", "ES") for n in (256, 384, 512)}
    expected |= {"EdDSA", "Ed25519", "Ed448"}  # RFC 8037, and RFC 9864's fully-specified names
    assert set(jose.ALGORITHMS) == expected
    assert "none" not in {a.lower() for a in jose.ALGORITHMS}


def test_jose_imports_only_cryptography() -> None:
    """Importing jotauth.jose loads no web framework, HTTP client, database or other part."""
    heavy: tuple[str, ...] = ("httpx", "fastapi", "starlette", "flask", "sqlalchemy", "redis")
    heavy += ("click", "jotauth.guard", "jotauth.issuer", "jotauth.store", "jotauth.cli")
    code = f"import sys, jotauth.jose\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def _params(function: object) -> dict[str, object]:
    return {
        name: param.default
        for name, param in inspect.signature(function).parameters.items()  # type: ignore[arg-type]
        if name != "self"
    }


def test_signatures_match_the_contract() -> None:
    """Parameter names and defaults of the contract's functions are what other parts call."""
    assert _params(jose.decode) == {
        "token": inspect.Parameter.empty,
        "key_or_keyset": inspect.Parameter.empty,
        "algorithms": None,
        "issuer": None,
        "audience": None,
        "subject": None,
        "leeway": 0,
        "require": ("exp",),
        "typ": None,
        "max_age": None,
        "max_size": 8192,
        "now": None,
        "decrypt_with": None,
    }
    assert _params(jose.encode) == {
        "claims": inspect.Parameter.empty,
        "key": inspect.Parameter.empty,
        "headers": None,
        "encrypt_to": None,
    }
    verifier = _params(jose.Verifier.__init__)
    expected = {"algorithms": None, "issuer": None, "audience": None, "leeway": 0, "typ": None}
    assert {k: verifier[k] for k in expected} == expected
    assert (verifier["require"], verifier["max_size"]) == (("exp",), 8192)
    assert _params(jose.Verifier.verify) == {"token": inspect.Parameter.empty, "now": None}
    assert _params(jose.jws.sign)["headers"] is None
    assert _params(jose.jws.verify) == {
        "token": inspect.Parameter.empty,
        "key_or_keyset": inspect.Parameter.empty,
        "algorithms": None,
        "max_size": 8192,
    }
    assert _params(jose.Key.from_jwk) == {"jwk": inspect.Parameter.empty, "alg": None, "enc": None}
    assert {"alg", "password", "kid"} <= set(_params(jose.Key.from_pem))
    assert _params(jose.Key.from_secret)["alg"] == "HS256"
    assert "kid" in _params(jose.Key.generate)
