"""First start: the master key file of demo/dev mode and the demo accounts."""

from pathlib import Path
from typing import Any

import pytest

from jotauth.issuer.bootstrap import master_key_file, resolve_master_key, service_token_file
from jotauth.issuer.errors import ConfigurationError
from jotauth.issuer.runtime import build_runtime, create_demo_accounts


def test_demo_keeps_a_private_master_key_file(tmp_path: Path, kit: Any) -> None:
    """Dev/demo mode makes a 0600 key file beside the database once and reuses it."""
    settings = kit.make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", master_key=None, mode="dev")
    first = resolve_master_key(settings)
    path = master_key_file(settings)
    assert path == tmp_path / "jotauth-master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert first.master_key is not None
    assert resolve_master_key(settings).master_key == first.master_key


def test_demo_keeps_a_private_service_token_for_the_feed(tmp_path: Path, kit: Any) -> None:
    """Demo/dev mode accepts one service token, kept owner-only beside the database, once."""
    settings = kit.make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite'}", mode="demo", service_tokens=()
    )
    first = resolve_master_key(settings)
    path = service_token_file(settings)
    assert path == tmp_path / "jotauth-service.token"
    assert path.stat().st_mode & 0o777 == 0o600
    token = path.read_text().strip()
    assert len(token) >= 43
    assert first.service_tokens == (token,)
    assert resolve_master_key(first).service_tokens == (token,)  # resolving twice adds nothing


def test_production_gets_no_local_service_token(tmp_path: Path, kit: Any) -> None:
    """Production accepts only the service tokens the operator configured."""
    settings = kit.make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", service_tokens=("op",))
    assert resolve_master_key(settings).service_tokens == ("op",)
    assert not (tmp_path / "jotauth-service.token").exists()


def test_production_needs_a_master_key(tmp_path: Path, kit: Any) -> None:
    """Production refuses, naming the command that makes a key, and writes no file."""
    settings = kit.make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", master_key=None)
    with pytest.raises(ConfigurationError, match="jotauth keys master"):
        resolve_master_key(settings)
    assert not (tmp_path / "jotauth-master.key").exists()


def test_demo_accounts_are_created_once(tmp_path: Path, kit: Any) -> None:
    """john/password123, an admin with a fresh password and the public demo-app client; a
    second run creates nothing."""
    runtime = build_runtime(kit.make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    created = create_demo_accounts(runtime, "admin-password-1")
    assert created.john_created
    assert created.admin_password == "admin-password-1"
    assert created.client_created
    again = create_demo_accounts(runtime, "admin-password-2")
    assert not again.john_created
    assert again.admin_password is None
    assert not again.client_created
    demo_app = runtime.store.get_client("demo-app")
    assert demo_app is not None
    assert demo_app.type == "public"
    assert demo_app.grant_types == ["password", "refresh_token"]
    admin = runtime.store.find_user_any(["admin"])
    assert admin is not None
    assert admin.permissions["admin"] == ["*"]
    john = runtime.store.find_user_any(["john"])
    assert john is not None
    assert john.permissions["articles"] == ["create", "read"]
    runtime.store.close()
