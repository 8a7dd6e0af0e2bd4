"""Run Python or the ``jotauth`` command in a subprocess where some modules are not installed.

Setting ``sys.modules[name] = None`` makes every ``import name`` (and of its submodules) raise
``ModuleNotFoundError`` with ``name`` set, exactly as when the distribution is absent, without
building a second virtualenv. Shared by the verify-only install tests and the extras tests.
"""

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["run_jotauth", "run_python"]

_PRELUDE = """
import sys
BLOCKED = {blocked!r}
for name in BLOCKED:
    sys.modules[name] = None
"""

_MAIN = """
sys.argv[0] = "jotauth"
try:
    from jotauth.cli.main import main
    main(sys.argv[1:])
finally:
    leaked = [name for name in BLOCKED if sys.modules.get(name) is not None]
    assert not leaked, leaked
"""


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("JOTAUTH_")}
    return {**clean, **(env or {})}


def run_python(
    code: str,
    blocked: Iterable[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -c code`` with ``blocked`` modules missing (no JOTAUTH_* from the caller)."""
    source = _PRELUDE.format(blocked=tuple(blocked)) + code
    return subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=_env(env),
    )


def run_jotauth(
    blocked: Iterable[str],
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``jotauth ARGS`` with ``blocked`` modules missing; none of them may get imported."""
    source = _PRELUDE.format(blocked=tuple(blocked)) + _MAIN
    return subprocess.run(
        [sys.executable, "-c", source, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=_env(env),
    )
