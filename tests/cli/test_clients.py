"""``jotauth client add|list|show|rotate-secret|disable|enable``, against a real database."""

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jotauth import jose
from jotauth.cli.main import main
from jotauth.issuer.services.clients import check_secret
from jotauth.store import open_store


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "JOTAUTH_MASTER_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
    }


def test_add_shows_the_secret_once_and_rotation_replaces_it(env: dict[str, str]) -> None:
    """add prints the secret (JSON), show never does, rotate-secret prints a new one."""
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["client", "add", "billing", "--scope", "invoices:read", "--audience", "billing-api",
         "--tier", "gold", "--rate-limit", "100", "--json"],
        env=env,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    body = json.loads(added.output)
    client_id, secret = body["client_id"], body["client_secret"]
    assert body["tier"] == "gold"
    assert body["rate_window"] == 60
    shown = runner.invoke(main, ["client", "show", client_id], env=env)
    assert shown.exit_code == 0
    assert secret not in shown.output
    assert "client_secret" not in json.loads(shown.output)
    store = open_store(env["JOTAUTH_DATABASE_URL"])
    try:
        assert check_secret(secret, store.get_client(client_id).secret_hash)
        rotated = runner.invoke(main, ["client", "rotate-secret", client_id], env=env)
        assert rotated.exit_code == 0, rotated.output
        new = rotated.output.split("client_secret: ")[1].split()[0]
        stored = store.get_client(client_id).secret_hash
        assert check_secret(new, stored)
        assert not check_secret(secret, stored)
    finally:
        store.close()


def test_list_disable_enable(env: dict[str, str]) -> None:
    """A chosen client_id is listed, disabled and enabled."""
    runner = CliRunner()
    add = ["client", "add", "spa", "--public", "--grant", "password", "--client-id", "spa"]
    added = runner.invoke(main, add, env=env)
    assert added.exit_code == 0, added.output
    assert "client_secret" not in added.output
    assert "spa" in runner.invoke(main, ["client", "list"], env=env).output
    assert runner.invoke(main, ["client", "disable", "spa"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(main, ["client", "list"], env=env).output
    assert runner.invoke(main, ["client", "enable", "spa"], env=env).exit_code == 0
    assert "active" in runner.invoke(main, ["client", "list"], env=env).output


def test_private_key_jwt_from_a_jwks_file(env: dict[str, str], tmp_path: Path) -> None:
    """--jwks-file registers the client's public keys; no secret is made."""
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jose.Key.generate("ES256").public().to_jwk()]}))
    result = CliRunner().invoke(
        main,
        ["client", "add", "signer", "--auth-method", "private_key_jwt", "--jwks-file",
         str(jwks), "--audience", "jobs", "--json"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["client_secret"] is None
    assert body["jwks"]["keys"][0]["kty"] == "EC"


@pytest.mark.parametrize(
    "args",
    [
        ["client", "add", "x", "--public", "--grant", "client_credentials"],
        ["client", "add", "x"],  # client_credentials needs an audience
        ["client", "add", "x", "--grant", "authorization_code"],  # needs a redirect URI
        ["client", "add", "x", "--audience", "a", "--redirect-uri", "http://evil.example/cb"],
        ["client", "show", "nobody"],
        ["client", "rotate-secret", "nobody"],
        ["client", "disable", "nobody"],
    ],
)
def test_bad_input_is_exit_1_with_a_message(env: dict[str, str], args: list[str]) -> None:
    """Refused registrations and unknown clients: exit 1, a message, no traceback."""
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1, result.output
    assert "Error" in result.output
    assert "Traceback" not in result.output


def test_rotate_secret_of_a_public_client_is_refused(env: dict[str, str]) -> None:
    """A client without a secret cannot rotate one (exit 1)."""
    runner = CliRunner()
    runner.invoke(main, ["client", "add", "spa", "--public", "--grant", "password",
                         "--client-id", "spa"], env=env)  # fmt: skip
    result = runner.invoke(main, ["client", "rotate-secret", "spa"], env=env)
    assert result.exit_code == 1
    assert "not a secret" in result.output


def test_generated_client_ids_are_never_read_as_options() -> None:
    """A generated id is hex: never a leading ``-`` that click would take for an option (a
    URL-safe id did so for one client in 64, and ``jotauth client show <id>`` then failed)."""
    from jotauth.issuer.services.clients import new_client_id

    ids = {new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)
