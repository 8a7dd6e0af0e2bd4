"""End to end: one `jotauth serve`, the FastAPI articles and Flask comments example services.

All three run as processes on 127.0.0.1, started as a user would, and are called over HTTP:
log in once, use the same token on both services, get 403 where a permission is missing, log
out and see both refuse the token within the poll interval, rotate the signing key and see
both keep working, revoke the key and see both refuse.
"""

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serve_process import ChildProcess as Process, eventually, free_port

from jotauth import jose

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "sso"
JOTAUTH = Path(sys.executable).with_name("jotauth")
SERVICE_TOKEN = "e2e-service-token-0123456789abcdef"
POLL = 1.0


@pytest.fixture
def sso(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The auth server in demo mode and both example services, as separate processes."""
    auth_port, articles_port, comments_port = free_port(), free_port(), free_port()
    issuer = f"http://127.0.0.1:{auth_port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")}
    auth_env = {
        **base,
        "JOTAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'jotauth.db'}",
        "JOTAUTH_ISSUER": issuer,
        "JOTAUTH_SERVICE_TOKENS": SERVICE_TOKEN,
        "JOTAUTH_POLL_INTERVAL": str(int(POLL)),
        "JOTAUTH_ARGON2_TIME_COST": "1",
        "JOTAUTH_ARGON2_MEMORY_COST": "1024",
    }
    service_env = {
        **base,
        "JOTAUTH_ISSUER": issuer,
        "JOTAUTH_AUDIENCE": "jotauth",
        "JOTAUTH_SERVICE_TOKEN": SERVICE_TOKEN,
        "JOTAUTH_POLL_INTERVAL": str(POLL),
        "JOTAUTH_JWKS_COOLDOWN": "1",
    }
    started: list[Process] = []
    try:
        auth = Process(
            "jotauth serve",
            [str(JOTAUTH), "serve", "--demo", "--port", str(auth_port)],
            auth_port,
            auth_env,
            tmp_path / "auth.log",
        )
        started.append(auth)
        match = re.search(r"created user admin / (\S+)", auth.output())
        assert match, auth.output()
        for name, port in (("articles_api", articles_port), ("comments_api", comments_port)):
            started.append(
                Process(
                    name,
                    [sys.executable, str(EXAMPLES / f"{name}.py"), "--port", str(port)],
                    port,
                    service_env,
                    tmp_path / f"{name}.log",
                )
            )
        yield {
            "issuer": issuer,
            "admin_password": match.group(1),
            "articles": started[1].url,
            "comments": started[2].url,
            "processes": started,
        }
    finally:
        for process in reversed(started):
            process.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: httpx.Client, issuer: str, username: str, password: str) -> dict[str, Any]:
    response = client.post(f"{issuer}/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_single_sign_on_across_two_services(sso: dict[str, Any]) -> None:
    """One login works on both services; logout, rotation and key revocation reach both."""
    issuer, articles, comments = sso["issuer"], sso["articles"], sso["comments"]
    with httpx.Client(timeout=10) as http:
        admin = login(http, issuer, "admin", sso["admin_password"])["access_token"]
        users = http.get(f"{issuer}/admin/users", headers=bearer(admin)).json()["users"]
        john_id = next(user["id"] for user in users if user["username"] == "john")
        grant = {"articles": ["create", "read"], "comments": ["read", "create"]}
        response = http.put(
            f"{issuer}/admin/users/{john_id}/permissions",
            json={"permissions": grant},
            headers=bearer(admin),
        )
        assert response.status_code == 200, response.text

        # Log in once; the same token works on the FastAPI and the Flask service.
        session = login(http, issuer, "john", "password123")
        token = session["access_token"]
        assert http.get(f"{articles}/articles", headers=bearer(token)).json()["reader"] == john_id
        created = http.post(f"{articles}/articles", json={"title": "SSO"}, headers=bearer(token))
        assert created.status_code == 201
        assert http.get(f"{comments}/comments", headers=bearer(token)).status_code == 200
        posted = http.post(f"{comments}/comments", json={"text": "hi"}, headers=bearer(token))
        assert posted.status_code == 201

        # Where a permission is missing, both answer 403 naming it.
        denied = http.delete(f"{comments}/comments/1", headers=bearer(token))
        assert denied.status_code == 403
        assert denied.json()["required"] == ["comments:delete"]
        foreign = http.delete(f"{articles}/articles/1", headers=bearer(token))
        assert foreign.status_code == 403
        assert 'scope="articles:delete"' in foreign.headers["www-authenticate"]
        assert http.get(f"{articles}/articles").status_code == 401

        # Rotate the signing key: old and new tokens keep working on both services.
        rotated = http.post(f"{issuer}/admin/keys/rotate", headers=bearer(admin))
        assert rotated.status_code == 200, rotated.text
        second = login(http, issuer, "john", "password123")["access_token"]
        new_kid = jose.peek_header(second)["kid"]
        assert new_kid == rotated.json()["active"]
        assert new_kid != jose.peek_header(token)["kid"]
        for service, path in ((articles, "/articles"), (comments, "/comments")):
            assert http.get(service + path, headers=bearer(second)).status_code == 200
            assert http.get(service + path, headers=bearer(token)).status_code == 200

        # Log out the first session: both services refuse its token within the poll interval.
        out = http.post(
            f"{issuer}/logout",
            json={"refresh_token": session["refresh_token"]},
            headers=bearer(token),
        )
        assert out.status_code == 200, out.text
        for service, path in ((articles, "/articles"), (comments, "/comments")):
            assert eventually(
                lambda s=service, p=path: http.get(s + p, headers=bearer(token)).status_code == 401,
                seconds=POLL * 4,
            ), f"{service} still accepts a logged-out token"
            refused = http.get(service + path, headers=bearer(token))
            assert refused.json()["jotauth_code"] == "token_revoked"
            assert http.get(service + path, headers=bearer(second)).status_code == 200

        # Revoke the new key: every token it signed dies on both services.
        revoked = http.post(f"{issuer}/admin/keys/{new_kid}/revoke", headers=bearer(admin))
        assert revoked.status_code == 200, revoked.text
        for service, path in ((articles, "/articles"), (comments, "/comments")):
            assert eventually(
                lambda s=service, p=path: (
                    http.get(s + p, headers=bearer(second)).status_code == 401
                ),
                seconds=POLL * 4,
            ), f"{service} still accepts a token of a revoked key"
            assert http.get(service + path, headers=bearer(second)).json()["jotauth_code"] == (
                "token_revoked"
            )
