"""The guard's public surface, and what importing it pulls in."""

import subprocess
import sys

import jotauth.guard


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and every name in it exists."""
    names = jotauth.guard.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(jotauth.guard, name), name


def test_import_does_not_pull_frameworks() -> None:
    """A verify-only service imports the guard without FastAPI, Flask, Starlette or SQLAlchemy."""
    heavy = ("fastapi", "flask", "starlette", "sqlalchemy", "redis", "jotauth.issuer")
    code = (
        "import sys, jotauth.guard, jotauth.guard.asgi, jotauth.guard.wsgi, jotauth.guard.testing\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_error_codes_are_stable() -> None:
    """Error codes are part of the API."""
    from jotauth.guard import errors

    assert {cls.code for cls in map(errors.__dict__.get, errors.__all__)} == {
        "client_not_allowed",
        "csrf_failed",
        "guard_error",
        "insufficient_scope",
        "invalid_request",
        "key_source_unavailable",
        "missing_token",
        "rate_limited",
        "token_revoked",
        "token_binding",
        "dpop_replay_unavailable",
    }
