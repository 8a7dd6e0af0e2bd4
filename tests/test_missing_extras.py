"""A missing optional dependency is one line naming the extra to install, never a bare traceback.

Each case runs in a subprocess where the module is not importable (tests/missing_modules.py),
at the point a user would meet it: importing the guard adapter, opening a PostgreSQL store,
running a CLI command.
"""

import base64
from pathlib import Path

import pytest
from tests.missing_modules import run_jotauth, run_python

pytestmark = pytest.mark.slow

MASTER = base64.urlsafe_b64encode(bytes(range(32))).decode()
PG_URL = "postgresql://nobody@127.0.0.1:1/none"
POSTGRES = "PostgreSQL needs the psycopg driver: pip install 'jotauth[postgres]'"


@pytest.mark.parametrize(
    ("blocked", "code", "message"),
    [
        ("psycopg", f"from jotauth.store import open_store; open_store({PG_URL!r})", POSTGRES),
        (
            "httpx",
            "import jotauth.guard",
            "jotauth.guard needs httpx: pip install 'jotauth[guard]'",
        ),
        (
            "flask",
            "import jotauth.guard.flask",
            "jotauth.guard.flask needs Flask: pip install 'jotauth[flask]'",
        ),
        (
            "fastapi",
            "import jotauth.guard.fastapi",
            "jotauth.guard.fastapi needs FastAPI: pip install 'jotauth[fastapi]'",
        ),
        (
            "prometheus_client",
            "import jotauth.guard.metrics",
            "jotauth.guard.metrics needs prometheus-client: pip install 'jotauth[metrics]'",
        ),
        (
            "redis",
            "import jotauth.guard.redis_source",
            "jotauth.guard.redis_source needs the redis client: pip install 'jotauth[redis]'",
        ),
        (
            "redis",
            "import jotauth.store.redis_pubsub",
            "JOTAUTH_REDIS_URL needs the redis client: pip install 'jotauth[redis]'",
        ),
        (
            "redis",
            "from jotauth.issuer.hardening import RateLimiter; "
            "from jotauth.issuer.settings import Settings; "
            "RateLimiter(Settings(ratelimit_redis_url='redis://127.0.0.1:1/0'))",
            "JOTAUTH_REDIS_URL needs the redis client: pip install 'jotauth[redis]'",
        ),
        (
            "fastapi",
            "import jotauth.issuer.app",
            "the jotauth auth server needs FastAPI: pip install 'jotauth[issuer]'",
        ),
        (
            "pydantic_settings",
            "from jotauth.issuer.settings import Settings",
            "the auth server's settings need pydantic-settings: pip install 'jotauth[issuer]'",
        ),
        (
            "prometheus_client",
            "import jotauth.issuer.observability.metrics",
            "the auth server's /metrics needs prometheus-client: pip install 'jotauth[issuer]'",
        ),
        (
            "sqlalchemy",
            "from jotauth.store import open_store; open_store('sqlite:///x.db')",
            "the jotauth store needs sqlalchemy: pip install 'jotauth[issuer]'",
        ),
    ],
)
def test_library_import_names_the_extra(
    blocked: str, code: str, message: str, tmp_path: Path
) -> None:
    """The error at the point of use is MissingDependencyError with the pip command."""
    result = run_python(code, [blocked], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"jotauth.errors.MissingDependencyError: {message}"


def test_missing_dependency_error_is_also_module_not_found() -> None:
    """Code that falls back on ImportError (the CLI's urllib JWKS fetch) keeps working."""
    from jotauth.errors import JotauthError, MissingDependencyError

    error = MissingDependencyError("X needs y", "guard", ModuleNotFoundError(name="y"))
    assert isinstance(error, ModuleNotFoundError)
    assert isinstance(error, JotauthError)
    assert error.name == "y"
    assert error.extra == "guard"
    assert str(error) == "X needs y: pip install 'jotauth[guard]'"


@pytest.mark.parametrize(
    "args",
    [
        ("db", "upgrade"),
        ("db", "current"),
        ("db", "downgrade", "--yes"),
        ("user", "list"),
        ("keys", "list"),
        ("audit",),
    ],
)
def test_postgres_url_without_the_driver(args: tuple[str, ...], tmp_path: Path) -> None:
    """Every command on a PostgreSQL URL without psycopg prints one line and exits 1.

    Before, a raw ModuleNotFoundError traceback came out.
    """
    env = {"JOTAUTH_DATABASE_URL": PG_URL, "JOTAUTH_MASTER_KEY": MASTER}
    result = run_jotauth(["psycopg"], *args, cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr == f"Error: {POSTGRES}\n"


def test_serve_without_the_driver(tmp_path: Path) -> None:
    """`jotauth serve` on PostgreSQL without psycopg says which extra is missing."""
    env = {"JOTAUTH_DATABASE_URL": PG_URL, "JOTAUTH_MASTER_KEY": MASTER}
    result = run_jotauth(["psycopg"], "serve", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"Error: {POSTGRES}"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("module", "name"), [("fastapi", "FastAPI"), ("uvicorn", "uvicorn")])
def test_serve_without_the_server_stack(module: str, name: str, tmp_path: Path) -> None:
    """`jotauth serve --demo` without FastAPI or uvicorn stops before creating anything."""
    result = run_jotauth([module], "serve", "--demo", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"Error: jotauth serve needs {name}: pip install 'jotauth[issuer]'\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["serve", "db", "user", "keys"])
def test_server_commands_without_sqlalchemy(command: str, tmp_path: Path) -> None:
    """A core + cli install: the server commands say to install jotauth[issuer]."""
    result = run_jotauth(["sqlalchemy"], command, "list", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: jotauth {command} needs sqlalchemy: pip install 'jotauth[issuer]'\n"
    )


def test_audit_without_the_server_stack(tmp_path: Path) -> None:
    """`jotauth audit` loads the server's audit code when it runs; missing, it is one line."""
    result = run_jotauth(["starlette"], "audit", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "Error: jotauth audit needs starlette: pip install 'jotauth[issuer]'\n"


def test_help_lists_commands_that_are_not_installed(tmp_path: Path) -> None:
    """`jotauth --help` in a verify-only install works and says what to install."""
    result = run_jotauth(["sqlalchemy", "fastapi", "uvicorn"], "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "serve   (not installed: pip install 'jotauth[issuer]')" in result.stdout
    assert "token   Build, decode and verify JWTs." in result.stdout


def test_entry_point_without_click(tmp_path: Path) -> None:
    """The `jotauth` script of an install without [cli] says to install it."""
    code = "from jotauth.cli.main import main\nmain()"
    result = run_python(code, ["click"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "Error: the jotauth command needs click: pip install 'jotauth[cli]'\n"
