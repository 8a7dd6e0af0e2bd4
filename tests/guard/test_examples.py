"""The SSO example services, in process, with keys from a LocalIssuer (no auth server)."""

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from jotauth.guard import fastapi as guard_fastapi, flask as guard_flask
from jotauth.guard.testing import LocalIssuer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sso"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"sso_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.anyio
async def test_articles_api(issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading needs articles:read, creating articles:create; authors delete their own only."""
    module = load("articles_api", monkeypatch)
    app: Any = module.create_app(issuer.guard(cls=guard_fastapi.Guard))
    reader = issuer.make_token(sub="r", scope="articles:read")
    writer = issuer.make_token(sub="w", permissions={"articles": ["read", "create"]})
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/articles")).status_code == 401
        assert (await client.get("/articles", headers=bearer(reader))).json()["reader"] == "r"
        denied = await client.post("/articles", json={"title": "x"}, headers=bearer(reader))
        assert denied.status_code == 403
        assert denied.json()["required"] == ["articles:create"]
        created = await client.post("/articles", json={"title": "Mine"}, headers=bearer(writer))
        assert created.status_code == 201
        article_id = created.json()["id"]
        foreign = await client.delete(f"/articles/{article_id}", headers=bearer(reader))
        assert foreign.status_code == 403
        assert foreign.json()["error"] == "insufficient_scope"
        assert (await client.get("/articles", headers=bearer(reader))).json()["articles"][-1][
            "title"
        ] == "Mine"
        own = await client.delete(f"/articles/{article_id}", headers=bearer(writer))
        assert own.status_code == 204
        assert (await client.delete("/articles/999", headers=bearer(writer))).status_code == 404


def test_comments_api(issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Flask service checks comments:* permissions and validates its input."""
    module = load("comments_api", monkeypatch)
    client = module.create_app(issuer.guard(cls=guard_flask.Guard)).test_client()
    user = issuer.make_token(sub="u", scope="comments:read comments:create")
    moderator = issuer.make_token(sub="m", scope="comments:*")
    assert client.get("/comments").status_code == 401
    assert client.post("/comments", json={"text": "hi"}, headers=bearer(user)).status_code == 201
    assert client.post("/comments", json={}, headers=bearer(user)).status_code == 400
    assert client.get("/comments", headers=bearer(user)).get_json()["comments"][0]["author"] == "u"
    assert client.delete("/comments/1", headers=bearer(user)).status_code == 403
    assert client.delete("/comments/1", headers=bearer(moderator)).status_code == 204
    assert client.delete("/comments/1", headers=bearer(moderator)).status_code == 404


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The services read issuer, audience and the revocation feed from the environment."""
    module = load("sso_settings", monkeypatch)
    monkeypatch.setenv("JOTAUTH_ISSUER", "http://127.0.0.1:1")
    monkeypatch.setenv("JOTAUTH_AUDIENCE", "sso")
    monkeypatch.delenv("JOTAUTH_SERVICE_TOKEN", raising=False)
    options = module.guard_options()
    assert (options["issuer"], options["audience"]) == ("http://127.0.0.1:1", "sso")
    assert "revocation" not in options
    monkeypatch.setenv("JOTAUTH_SERVICE_TOKEN", "s")
    monkeypatch.setenv("JOTAUTH_POLL_INTERVAL", "0.5")
    feed = module.guard_options()["revocation"]
    assert (feed.url, feed.issuer, feed.interval) == (None, "http://127.0.0.1:1", 0.5)
    feed.close()
