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


@pytest.mark.anyio
async def test_articles_api_answers_cors_for_the_listed_origins_only(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """App B calls the API from its own origin with a bearer token: the preflight and the
    refusal of a bad token carry CORS headers for that origin, never for another one."""
    module = load("articles_api", monkeypatch)
    spa, other = "http://127.0.0.1:8004", "http://127.0.0.1:9999"
    app: Any = module.create_app(issuer.guard(cls=guard_fastapi.Guard), origins=(spa,))
    preflight = {"Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        allowed = await client.options("/articles", headers={"Origin": spa, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == spa
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed.headers  # bearer only
        refused = await client.get("/articles", headers={"Origin": spa, **bearer("x.y.z")})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == spa
        assert refused.headers["access-control-expose-headers"] == "WWW-Authenticate"
        stranger = await client.options("/articles", headers={"Origin": other, **preflight})
        assert "access-control-allow-origin" not in stranger.headers
    plain: Any = module.create_app(issuer.guard(cls=guard_fastapi.Guard))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(plain), base_url="http://t") as c:
        answer = await c.get("/articles", headers={"Origin": spa})
        assert "access-control-allow-origin" not in answer.headers


def test_cors_origins_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact origins, comma separated; ``*`` is refused at start."""
    module = load("sso_settings", monkeypatch)
    monkeypatch.delenv("JOTAUTH_CORS_ORIGINS", raising=False)
    assert module.cors_origins() == ()
    monkeypatch.setenv("JOTAUTH_CORS_ORIGINS", " http://a:1/, http://b:2 ,")
    assert module.cors_origins() == ("http://a:1", "http://b:2")
    monkeypatch.setenv("JOTAUTH_CORS_ORIGINS", "*")
    with pytest.raises(SystemExit, match="not accepted"):
        module.cors_origins()


@pytest.mark.anyio
async def test_spa_server_serves_the_app_its_config_and_a_csp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """App B's server: one page at its three addresses, where the issuer and the API are, a
    CSP naming only those two, and a clear error when ``npm install`` was not run."""
    module = load("spa_server", monkeypatch)
    where = {"issuer": "http://127.0.0.1:8000", "client_id": "spa",
             "url": "http://127.0.0.1:8004", "articles_api": "http://127.0.0.1:8001"}  # fmt: skip
    with pytest.raises(SystemExit, match="npm install"):
        module.create_app(**where, node_modules=tmp_path)
    bundle = tmp_path / module.BUNDLE
    bundle.mkdir(parents=True)
    (bundle / "oidc-client-ts.min.js").write_text("var oidc = {};")
    app: Any = module.create_app(**where, node_modules=tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        config = (await c.get("/config.json")).json()
        assert config["redirect_uri"] == "http://127.0.0.1:8004/callback"
        assert config["post_logout_redirect_uri"] == "http://127.0.0.1:8004/signed-out"
        pages = [await c.get(path) for path in ("/", "/callback", "/signed-out")]
        assert {page.text for page in pages} == {pages[0].text}
        assert 'src="/lib/oidc-client-ts.min.js"' in pages[0].text
        library = await c.get("/lib/oidc-client-ts.min.js")
        assert library.text == "var oidc = {};"
        csp = library.headers["content-security-policy"]
        assert "script-src 'self';" in csp
        assert "connect-src 'self' http://127.0.0.1:8000 http://127.0.0.1:8001;" in csp
        assert (await c.get("/app.js")).status_code == 200
