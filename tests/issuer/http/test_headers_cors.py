"""Security headers, no-store on token responses, and CORS ("works in Postman, not in browsers")."""

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.anyio

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": APP_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


async def test_token_responses_are_never_cached(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Login success and failure both carry Cache-Control: no-store and Pragma: no-cache."""
    async with make_client(make_app()) as c:
        ok = await c.post("/login", json={"username": "john", "password": "password123"})
        bad = await c.post("/login", json={"username": "john", "password": "x"})
    for r in (ok, bad):
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["pragma"] == "no-cache"


async def test_security_headers_on_every_response(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """nosniff, frame denial, no referrer and a deny-all CSP on API answers, HSTS over https."""
    async with make_client(make_app()) as c:
        r = await c.get("/me")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert r.headers["cache-control"] == "no-store"


async def test_no_hsts_over_plain_http(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """HSTS only means something over https, so plain-http dev answers omit it."""
    async with make_client(make_app(), base="http://localhost") as c:
        r = await c.get("/me")
    assert "strict-transport-security" not in r.headers


async def test_cacheable_responses_keep_their_cache_control(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """JWKS stays cacheable for services (public, max-age=300)."""
    async with make_client(make_app()) as c:
        r = await c.get("/.well-known/jwks.json")
    assert r.headers["cache-control"] == "public, max-age=300"


async def test_no_page_gets_a_policy_that_allows_another_origin(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """A page that sets no policy of its own (FastAPI's CDN /docs here) gets the deny-all one."""
    async with make_client(make_app()) as c:
        r = await c.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "https://" not in r.headers["content-security-policy"]


async def test_works_in_postman_fails_in_the_browser_without_cors(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """The tutorial's case: a plain POST works, but the browser's preflight gets no CORS grant."""
    async with make_client(make_app()) as c:
        postman = await c.post("/login", json={"username": "john", "password": "password123"})
        preflight = await c.options("/login", headers=PREFLIGHT)
        browser_post = await c.post(
            "/login",
            json={"username": "john", "password": "password123"},
            headers={"Origin": APP_ORIGIN},
        )
    assert postman.status_code == 200
    assert preflight.status_code >= 400
    assert "access-control-allow-origin" not in preflight.headers
    # Even a simple request is unreadable to the page: no Allow-Origin on the answer.
    assert "access-control-allow-origin" not in browser_post.headers


async def test_configured_origins_pass_the_preflight(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """With the origin listed, the preflight is granted exactly for it, with credentials."""
    app = make_app(cors_origins=(APP_ORIGIN,))
    async with make_client(app) as c:
        preflight = await c.options(
            "/login",
            headers={**PREFLIGHT, "Access-Control-Request-Headers": "content-type, x-csrf-token"},
        )
        post = await c.post(
            "/login",
            json={"username": "john", "password": "password123"},
            headers={"Origin": APP_ORIGIN},
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf-token" in preflight.headers["access-control-allow-headers"].lower()
    assert post.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "Retry-After" in post.headers["access-control-expose-headers"]


async def test_a_browser_app_may_send_dpop_proofs_and_read_the_nonce(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """A single-page app on a listed origin: its preflight for the DPoP header is granted, and
    the DPoP-Nonce of an answer is readable to it (RFC 9449 8)."""
    app = make_app(cors_origins=(APP_ORIGIN,))
    async with make_client(app) as c:
        preflight = await c.options(
            "/oauth/token",
            headers={**PREFLIGHT, "Access-Control-Request-Headers": "dpop, content-type"},
        )
        post = await c.post("/login", json={}, headers={"Origin": APP_ORIGIN})
    assert preflight.status_code == 200, preflight.text
    assert "dpop" in preflight.headers["access-control-allow-headers"].lower()
    assert "DPoP-Nonce" in post.headers["access-control-expose-headers"]


async def test_unlisted_origins_are_still_refused(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Configuring one origin does not open the API to others (never a wildcard)."""
    app = make_app(cors_origins=(APP_ORIGIN,))
    async with make_client(app) as c:
        r = await c.options("/login", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert r.status_code == 400
    assert r.headers.get("access-control-allow-origin") != "*"
    assert "access-control-allow-origin" not in r.headers
