"""An npm package installed in a temp folder, with a script of ours beside it, for the interop
tests against JavaScript libraries nobody here wrote (opt-in: ``JOTAUTH_INTEROP_NODE=1``)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def node_package(folder: Path, package: str, version: str, script: Path, what: str) -> Path:
    """``folder`` with ``package@version`` installed and ``script`` copied in; skips unless
    enabled. ``.ci/run`` opts in, and there a missing node or a failed install fails the run,
    never skips it."""
    if os.environ.get("JOTAUTH_INTEROP_NODE") != "1":
        pytest.skip(f"{what} interop is opt-in: set JOTAUTH_INTEROP_NODE=1 (needs node, npm)")
    give_up = pytest.fail if os.environ.get("JOTAUTH_REQUIRE_SERVICES") == "1" else pytest.skip
    if shutil.which("node") is None or shutil.which("npm") is None:
        give_up(f"node or npm is not installed; {what} interop not run")
    (folder / "package.json").write_text('{"type": "module", "private": true}')
    try:
        subprocess.run(
            ["npm", "install", f"{package}@{version}", "--no-audit", "--no-fund", "--silent"],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        give_up(f"npm install {package}@{version} failed: {exc}")
    shutil.copy(script, folder / script.name)
    return folder
