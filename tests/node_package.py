"""npm packages installed in a temp folder, for the tests against JavaScript libraries nobody
here wrote (opt-in: ``JOTAUTH_INTEROP_NODE=1``): one package with a script of ours beside it
(the node interop tests), or a committed package.json + package-lock.json installed exactly
(the single-page app of examples/sso)."""

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest


def _give_up(what: str) -> Callable[[str], NoReturn]:
    """Skip unless enabled; then how to give up: ``.ci/run`` opts in, and there a missing node
    or a failed install fails the run, never skips it."""
    if os.environ.get("JOTAUTH_INTEROP_NODE") != "1":
        pytest.skip(f"{what} interop is opt-in: set JOTAUTH_INTEROP_NODE=1 (needs node, npm)")
    give_up = pytest.fail if os.environ.get("JOTAUTH_REQUIRE_SERVICES") == "1" else pytest.skip
    if shutil.which("node") is None or shutil.which("npm") is None:
        give_up(f"node or npm is not installed; {what} interop not run")
    return give_up


def _npm(folder: Path, args: list[str], give_up: Callable[[str], NoReturn]) -> None:
    try:
        subprocess.run(
            ["npm", *args, "--no-audit", "--no-fund", "--silent"],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        give_up(f"npm {' '.join(args)} failed: {exc}")


def node_package(folder: Path, package: str, version: str, script: Path, what: str) -> Path:
    """``folder`` with ``package@version`` installed and ``script`` copied in; skips unless
    enabled."""
    give_up = _give_up(what)
    (folder / "package.json").write_text('{"type": "module", "private": true}')
    _npm(folder, ["install", f"{package}@{version}"], give_up)
    shutil.copy(script, folder / script.name)
    return folder


def npm_ci(project: Path, folder: Path, what: str) -> Path:
    """``folder/node_modules`` installed by ``npm ci`` from ``project``'s package.json and
    package-lock.json (exactly the locked versions, the project folder left untouched);
    skips unless enabled."""
    give_up = _give_up(what)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(project / name, folder / name)
    _npm(folder, ["ci"], give_up)
    return folder / "node_modules"
