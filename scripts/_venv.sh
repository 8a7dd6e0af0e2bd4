# Shared by scripts/serve and scripts/test: make .venv with the pinned lock file when it is missing or stale.
# Usage: . scripts/_venv.sh <lock-file>
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/$1"
py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "jotauth needs Python 3.11 or newer; $py is $("$py" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
    exit 1
fi
venv="$root/.venv"
stamp="$venv/.installed-$(basename "$lock")"
if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating $venv" >&2
    "$py" -m venv "$venv"
fi
# The dev lock pins everything the serve lock does (tests/test_readme.py checks), so a .venv made by
# scripts/test also serves scripts/serve and scripts/jotauth without a second install.
fresh() { [ -f "$venv/.installed-$1" ] && [ ! "$root/requirements/$1" -nt "$venv/.installed-$1" ] \
    && [ ! "$root/pyproject.toml" -nt "$venv/.installed-$1" ]; }
if ! fresh "$(basename "$lock")" && ! { [ "$(basename "$lock")" = serve.lock ] && fresh dev.lock; }; then
    echo "==> installing pinned dependencies from $(basename "$lock")" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
