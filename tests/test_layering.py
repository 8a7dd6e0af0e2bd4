"""The direction of imports between jotauth's parts, checked by walking every module's AST.

DESIGN.md and STYLE.md 3.2: ``jose`` imports only the standard library, ``cryptography``, its
JSON library (``orjson``) and ``jotauth.errors``; the guard never imports the issuer, the store
or the CLI; the store never imports the layers above it; nothing imports the CLI; no package
reaches into another package's ``_private`` module; and inside the issuer ``api`` (HTTP) calls
``services`` (the use cases), which call the store: the HTTP layer imports nothing of the store
but its plain records and its errors, and never reaches the store through a service's
``.store``; the use cases know nothing of HTTP (``api``, ``http``) or of who observes them
(``observability``), while observability learns of the use cases only through the typed
events, never by importing them. Only the store's ``redis_*`` modules (and the guard's push
subscriber and DPoP replay cache) import ``redis``, and only the app factory (the revocation
publisher) and the rate limiter's storage factory import those. A violation names the file,
the line and the import.
"""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import jotauth

PACKAGE_ROOT = Path(jotauth.__file__).resolve().parent
STDLIB = frozenset(sys.stdlib_module_names)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, dotted name)`` for every import in the file, ``from a import b`` giving ``a.b``."""
    source = path.read_text(encoding="utf-8")
    return _imports_of(source, _module_name(path), path.name == "__init__.py")


def _imports_of(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _sources() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def _part(module: str) -> str:
    """``jotauth.guard.asgi`` -> ``guard``; top-level modules are their own part."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations(rule: "Rule") -> list[str]:
    found = []
    for path in _sources():
        module = _module_name(path)
        if not rule.applies_to(module):
            continue
        for line, name in _imports(path):
            problem = rule.check(module, name)
            if problem:
                found.append(f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}: {name} ({problem})")
    return found


class Rule:
    """One import rule: which modules it covers and what it forbids."""

    def __init__(self, name: str) -> None:
        self.name = name

    def applies_to(self, module: str) -> bool:
        if self.name == "jose":
            return _part(module) == "jose"
        if self.name == "guard":
            return _part(module) == "guard"
        if self.name == "store":
            return _part(module) == "store"
        if self.name == "client":
            return _part(module) == "client"
        if self.name == "services":
            return module.startswith("jotauth.issuer.services")
        if self.name == "observability":
            return module.startswith("jotauth.issuer.observability")
        if self.name == "api":
            return module.startswith("jotauth.issuer.api")
        return True

    def check(self, module: str, name: str) -> str | None:
        top = name.split(".")[0]
        target = _part(name) if top == "jotauth" else None
        if self.name == "jose":
            if top in STDLIB or top in ("cryptography", "orjson"):
                return None
            if name == "jotauth.errors" or name.startswith(("jotauth.errors.", "jotauth.jose")):
                return None
            if name == "jotauth":
                return None
            return "jose may import only the stdlib, cryptography, orjson and jotauth.errors"
        if self.name == "guard" and target in ("issuer", "store", "cli"):
            return f"the guard must not import {target}"
        if self.name == "store" and target in ("issuer", "guard", "cli", "tools"):
            return f"the store must not import {target}"
        if self.name == "client" and target in ("issuer", "guard", "store", "cli", "tools"):
            return f"the client helper imports only jose (and httpx), not {target}"
        if self.name == "services" and name.startswith(
            ("jotauth.issuer.observability", "jotauth.issuer.api", "jotauth.issuer.http")
        ):
            return "the use cases must not import observability or the HTTP layer"
        if (
            self.name == "api"
            and target == "store"
            and not name.startswith(("jotauth.store.records", "jotauth.store.errors"))
            and name != "jotauth.store"
        ):
            return "the HTTP layer calls the services, never the store"
        if self.name == "redis" and top == "redis" and not module.startswith(REDIS_MODULES):
            return (
                "only the store's redis_* modules (and the guard's subscriber and DPoP replay "
                "cache) import redis"
            )
        if (
            self.name == "redis"
            and name.startswith("jotauth.store.redis_")
            and _part(module) != "store"
            and module not in REDIS_USERS
        ):
            return "only the app factory and the limiter's storage factory use the Redis store"
        if self.name == "observability" and name.startswith("jotauth.issuer.services"):
            return "observability subscribes to jotauth.issuer.events; it imports no use case"
        if self.name == "cli" and target == "cli" and _part(module) != "cli":
            return "nothing imports the CLI"
        if self.name == "private" and top == "jotauth" and target != _part(module):
            private = [p for p in name.split(".")[2:] if p.startswith("_") and p != "__version__"]
            if private:
                return f"reaches into {target}'s private {private[0]}"
        return None


RULES = [
    "jose",
    "guard",
    "store",
    "client",
    "cli",
    "private",
    "services",
    "observability",
    "api",
    "redis",
]

REDIS_MODULES = ("jotauth.store.redis_", "jotauth.guard.redis_source", "jotauth.guard.dpop_replay")
REDIS_USERS = frozenset({"jotauth.issuer.app", "jotauth.issuer.services.ratelimit"})


def _store_attribute_reads(path: Path) -> Iterator[int]:
    """Lines where ``path`` reads an attribute named ``store`` (``service(request).store``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr == "store":
            yield node.lineno


def test_handlers_reach_the_store_only_through_services() -> None:
    """No module of issuer/api reads a service's ``.store`` to call the store itself."""
    found = [
        f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}"
        for path in _sources()
        if _module_name(path).startswith("jotauth.issuer.api")
        for line in _store_attribute_reads(path)
    ]
    assert found == []


# The core is sans-I/O (STYLE.md 3.1, flask's sansio/): no network, files, processes or logging.
IO_MODULES = frozenset(
    {"socket", "ssl", "http", "urllib", "os", "io", "pathlib", "shutil", "tempfile", "subprocess"}
    | {"asyncio", "logging", "threading", "multiprocessing", "select", "selectors", "sys"}
    | {"httpx", "requests", "urllib3", "builtins"}
)


def test_jose_does_no_io() -> None:
    """No jose module imports a module that does I/O, logs, or reads the environment."""
    found = [
        f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}: {name}"
        for path in _sources()
        if _part(_module_name(path)) == "jose"
        for line, name in _imports(path)
        if name.split(".")[0] in IO_MODULES
    ]
    assert found == []


@pytest.mark.parametrize("rule", RULES)
def test_import_rule(rule: str) -> None:
    """No module of src/jotauth breaks the import rule (each violation is listed)."""
    assert _violations(Rule(rule)) == []


def test_rules_catch_violations() -> None:
    """The checker itself flags each kind of forbidden import (so a green run means something)."""
    assert Rule("jose").check("jotauth.jose.jws", "httpx")
    assert Rule("client").check("jotauth.client.dpop", "jotauth.issuer.app")
    assert Rule("client").check("jotauth.client.dpop", "jotauth.jose.dpop") is None
    assert Rule("jose").check("jotauth.jose.jws", "jotauth.guard")
    assert not Rule("jose").check("jotauth.jose.jws", "jotauth.jose._b64.b64decode")
    assert not Rule("jose").check("jotauth.jose.jws", "cryptography.hazmat")
    assert Rule("guard").check("jotauth.guard.asgi", "jotauth.issuer.app")
    assert Rule("store").check("jotauth.store.sql", "jotauth.issuer")
    assert Rule("cli").check("jotauth.issuer.app", "jotauth.cli.main")
    assert not Rule("cli").check("jotauth.cli.keys", "jotauth.cli.main")
    assert Rule("private").check("jotauth.guard.verifier", "jotauth.jose._b64.b64decode")
    assert Rule("private").check("jotauth.guard.verifier", "jotauth.jose.jwk._load_jwk")
    assert not Rule("private").check("jotauth.jose.jws", "jotauth.jose._b64")
    assert Rule("services").check("jotauth.issuer.services.auth", "jotauth.issuer.observability")
    assert Rule("services").check("jotauth.issuer.services.auth", "jotauth.issuer.api.deps")
    assert Rule("api").check("jotauth.issuer.api.admin", "jotauth.store.sql.SQLStore")
    assert not Rule("api").check("jotauth.issuer.api.admin", "jotauth.store.records.UserRecord")
    assert Rule("redis").check("jotauth.issuer.services.auth", "redis.asyncio")
    assert not Rule("redis").check("jotauth.store.redis_client", "redis.asyncio")
    assert Rule("redis").check("jotauth.issuer.api.auth", "jotauth.store.redis_pubsub")
    assert not Rule("redis").check("jotauth.issuer.app", "jotauth.store.redis_pubsub")
    assert not Rule("services").check("jotauth.issuer.services.auth", "jotauth.issuer.events")
    assert Rule("observability").check(
        "jotauth.issuer.observability.alerts", "jotauth.issuer.services.auth.AuthService"
    )
    assert not Rule("observability").check(
        "jotauth.issuer.observability.alerts", "jotauth.issuer.events.AuthEvent"
    )


def test_relative_imports_resolve() -> None:
    """Relative imports are resolved against the importing module before the rules apply."""
    assert _module_name(PACKAGE_ROOT / "jose" / "__init__.py") == "jotauth.jose"
    assert _module_name(PACKAGE_ROOT / "jose" / "jws.py") == "jotauth.jose.jws"
    source = "from . import _b64\nfrom ..issuer import app\nimport json\n"
    names = {name for _, name in _imports_of(source, "jotauth.guard.verifier", False)}
    assert {"jotauth.guard._b64", "jotauth.issuer.app", "json"} <= names
    names = {name for _, name in _imports_of("from .jws import sign\n", "jotauth.jose", True)}
    assert "jotauth.jose.jws.sign" in names
    assert len(_sources()) > 10
