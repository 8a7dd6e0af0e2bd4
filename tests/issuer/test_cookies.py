"""Browser mode: tokens in HttpOnly cookies, CSRF double submit, driven like a browser over HTTP.

httpx's cookie jar (the standard library's ``http.cookiejar``) honours Path, Secure and
Max-Age as a browser does, so what it sends back is what a browser would send.
"""

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.anyio

LOGIN = {"username": "john", "password": "password123"}
DELIVERY = {"X-Token-Delivery": "cookie"}


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def login(c: httpx.AsyncClient) -> httpx.Response:
    r = await c.post("/login", json=LOGIN, headers=DELIVERY)
    assert r.status_code == 200
    return r


async def test_login_puts_tokens_in_hardened_cookies_not_the_body(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Access in __Host- (HttpOnly, Secure, SameSite, Path=/), refresh scoped to /refresh."""
    async with make_client(make_app(cookie_mode="on")) as c:
        r = await login(c)
    body = r.json()
    assert "access_token" not in body
    assert "refresh_token" not in body
    assert body["token_delivery"] == "cookie"
    assert body["expires_in"] == 900
    cookies = set_cookies(r)
    access = cookies["__Host-access_token"]
    for flag in ("path=/;", "httponly", "secure", "samesite=strict", "max-age=900"):
        assert flag in access.lower()
    refresh = cookies["__Secure-refresh_token"]
    age = f"max-age={body['refresh_expires_in']}"
    for flag in ("path=/refresh;", "httponly", "secure", "samesite=strict", age):
        assert flag in refresh.lower()
    csrf = cookies["__Host-csrf_token"]
    assert "HttpOnly" not in csrf  # the page's script must read it to send it back
    assert "Secure" in csrf
    assert csrf.startswith(f"__Host-csrf_token={body['csrf_token']};")
    assert r.headers["cache-control"] == "no-store"


async def test_login_without_opt_in_keeps_the_body_tokens(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """In mode "on", API clients (curl, mobile) still get tokens in the body and no cookies."""
    async with make_client(make_app(cookie_mode="on")) as c:
        r = await c.post("/login", json=LOGIN)
    assert "access_token" in r.json()
    assert not r.headers.get_list("set-cookie")


async def test_always_mode_delivers_cookies_without_the_header(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """JOTAUTH_COOKIE_MODE=always: every login answers with cookies."""
    async with make_client(make_app(cookie_mode="always")) as c:
        r = await c.post("/login", json=LOGIN)
    assert "access_token" not in r.json()
    assert "__Host-access_token" in set_cookies(r)


async def test_browser_flow_read_refresh_logout_with_csrf(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Log in, read /me with the cookie alone, refresh and log out with the CSRF header."""
    async with make_client(make_app(cookie_mode="on")) as c:
        csrf = (await login(c)).json()["csrf_token"]
        me = await c.get("/me")
        assert me.status_code == 200
        assert me.json()["username"] == "john"
        old_access = c.cookies.get("__Host-access_token")

        refreshed = await c.post("/refresh", headers={"X-CSRF-Token": csrf})
        assert refreshed.status_code == 200
        assert "refresh_token" not in refreshed.json()
        assert refreshed.json()["csrf_token"] == csrf
        assert c.cookies.get("__Host-access_token") != old_access
        assert (await c.get("/me")).status_code == 200

        out = await c.post("/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200
        cleared = set_cookies(out)
        assert "Max-Age=0" in cleared["__Host-access_token"]
        assert "Max-Age=0" in cleared["__Secure-refresh_token"]
        assert (await c.get("/me")).status_code == 401


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "needs the"),
        ({"X-CSRF-Token": "forged"}, "does not match"),
    ],
)
async def test_state_changing_cookie_requests_need_the_csrf_token(
    make_app: Callable[..., FastAPI],
    make_client: Callable[..., httpx.AsyncClient],
    headers: dict[str, str],
    why: str,
) -> None:
    """A cross-site POST carries the cookies but not the token: 403, and the session survives."""
    async with make_client(make_app(cookie_mode="on")) as c:
        await login(c)
        for path in ("/logout", "/refresh"):
            r = await c.post(path, headers=headers)
            assert r.status_code == 403
            assert r.json()["error"] == "csrf_failed"
            assert why in r.json()["error_description"]
        assert (await c.get("/me")).status_code == 200  # nothing was logged out


async def test_foreign_origin_is_refused_even_with_the_token(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """An Origin that is neither this host nor a CORS origin is refused (defence in depth)."""
    app = make_app(cookie_mode="on", cors_origins=("https://app.example.com",))
    async with make_client(app) as c:
        csrf = (await login(c)).json()["csrf_token"]
        evil = await c.post(
            "/logout", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        )
        assert evil.status_code == 403
        friend = await c.post(
            "/logout", headers={"X-CSRF-Token": csrf, "Origin": "https://app.example.com"}
        )
        assert friend.status_code == 200


async def test_refresh_cookie_only_travels_to_the_refresh_path(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """The browser keeps the refresh token away from every other endpoint."""
    sent: list[str] = []

    async def spy(request: httpx.Request) -> None:
        sent.append(f"{request.url.path} {request.headers.get('cookie', '')}")

    async with make_client(make_app(cookie_mode="on")) as c:
        await login(c)
        c.event_hooks["request"] = [spy]
        csrf = c.cookies["__Host-csrf_token"]
        await c.get("/me")
        await c.post("/refresh", headers={"X-CSRF-Token": csrf})
    me, refresh = sent
    assert "refresh_token" not in me
    assert "__Secure-refresh_token=" in refresh


async def test_a_refused_refresh_clears_the_cookies(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """A dead refresh cookie is removed so the page knows to log in again."""
    async with make_client(make_app(cookie_mode="on")) as c:
        csrf = (await login(c)).json()["csrf_token"]
        c.cookies.set("__Secure-refresh_token", "dead", domain="auth.test", path="/refresh")
        r = await c.post("/refresh", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 401
    assert "Max-Age=0" in set_cookies(r)["__Host-access_token"]


async def test_bearer_header_wins_over_cookies(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """An explicit Authorization header is used as is, and needs no CSRF token."""
    async with make_client(make_app(cookie_mode="on")) as c:
        token = (await c.post("/login", json=LOGIN)).json()["access_token"]
        await login(c)
        r = await c.post("/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


async def test_cookie_mode_off_ignores_cookies(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Without browser mode a cookie never authenticates anything."""
    async with make_client(make_app()) as c:
        token = (await c.post("/login", json=LOGIN)).json()["access_token"]
        c.cookies.set("__Host-access_token", token, domain="auth.test")
        assert (await c.get("/me")).status_code == 401


async def test_dev_mode_over_plain_http_drops_secure(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """Only the explicit dev switch removes Secure (and the prefixes browsers would reject)."""
    app = make_app(cookie_mode="on", cookie_insecure_dev=True)
    async with make_client(app, base="http://localhost:8000") as c:
        r = await login(c)
        cookies = set_cookies(r)
        assert "Secure" not in cookies["access_token"]
        assert "HttpOnly" in cookies["access_token"]
        assert (await c.get("/me")).status_code == 200


async def test_a_password_change_by_cookie_keeps_the_new_token_in_the_cookie(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """POST /password authenticated by the cookie answers the fresh access token as a cookie,
    with no token in the body; the old session's cookie stops working, the new one works."""
    async with make_client(make_app(cookie_mode="on")) as c:
        csrf = (await login(c)).json()["csrf_token"]
        old = c.cookies["__Host-access_token"]
        r = await c.post(
            "/password",
            json={"current_password": "password123", "new_password": "a-new-password-456"},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 200, r.text
        assert "access_token" not in r.json()
        assert r.json()["token_delivery"] == "cookie"
        assert r.json()["csrf_token"] == csrf  # the browser's CSRF token is kept
        fresh = set_cookies(r)["__Host-access_token"].split(";")[0].split("=", 1)[1]
        assert fresh != old
        assert (await c.get("/me")).status_code == 200
        bearer_old = {"Authorization": f"Bearer {old}"}
        assert (await c.get("/me", headers=bearer_old)).status_code == 401


async def test_logout_all_by_cookie_clears_the_cookies(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """logout-all from the browser expires the three cookies; a Bearer logout sets none."""
    async with make_client(make_app(cookie_mode="on")) as c:
        csrf = (await login(c)).json()["csrf_token"]
        r = await c.post("/logout-all", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
        cleared = set_cookies(r)
        assert set(cleared) == {
            "__Host-access_token",
            "__Secure-refresh_token",
            "__Host-csrf_token",
        }
        assert all("Max-Age=0" in header for header in cleared.values())
        assert "Path=/refresh" in cleared["__Secure-refresh_token"]
        token = (await c.post("/login", json=LOGIN)).json()["access_token"]
        c.cookies.clear()
        r = await c.post("/logout", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.headers.get_list("set-cookie") == []


async def test_a_refused_browser_login_clears_old_cookies_an_api_login_does_not(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """A wrong password asked for cookies clears the browser's; without the opt-in, no cookie."""
    async with make_client(make_app(cookie_mode="on")) as c:
        wrong = {"username": "john", "password": "wrong"}
        r = await c.post("/login", json=wrong, headers=DELIVERY)
        assert r.status_code == 401
        assert "Max-Age=0" in set_cookies(r)["__Host-access_token"]
        r = await c.post("/login", json=wrong)
        assert r.status_code == 401
        assert r.headers.get_list("set-cookie") == []


async def test_a_cookie_refresh_from_a_foreign_origin_is_refused(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """The refresh cookie passes the guard's CSRF and Origin check; a refusal rotates nothing."""
    app = make_app(cookie_mode="on", cors_origins=("https://app.example.com",))
    async with make_client(app) as c:
        csrf = (await login(c)).json()["csrf_token"]
        evil = await c.post(
            "/refresh", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        )
        assert evil.status_code == 403
        assert evil.json()["error"] == "csrf_failed"
        assert evil.headers.get_list("set-cookie") == []  # 403 clears nothing
        ok = await c.post(
            "/refresh", headers={"X-CSRF-Token": csrf, "Origin": "https://app.example.com"}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["token_delivery"] == "cookie"


async def test_a_cookie_refresh_takes_an_empty_body_or_an_empty_object(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """With the refresh cookie the body may be empty; a body token still wins over the cookie."""
    async with make_client(make_app(cookie_mode="on")) as c:
        csrf = (await login(c)).json()["csrf_token"]
        first = await c.post("/refresh", headers={"X-CSRF-Token": csrf})
        assert first.status_code == 200, first.text
        second = await c.post("/refresh", json={}, headers={"X-CSRF-Token": csrf})
        assert second.status_code == 200, second.text
        dead = await c.post(
            "/refresh", json={"refresh_token": "not-a-live-token"}, headers={"X-CSRF-Token": csrf}
        )
        assert dead.status_code == 401  # the body's token was used, not the cookie's


async def test_a_body_refresh_asking_for_cookies_gets_them(
    make_app: Callable[..., FastAPI], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    """An API refresh with X-Token-Delivery: cookie answers in cookies; without it, in the body."""
    async with make_client(make_app(cookie_mode="on")) as c:
        pair = (await c.post("/login", json=LOGIN)).json()
        plain = await c.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert "access_token" in plain.json()
        assert plain.headers.get_list("set-cookie") == []
        r = await c.post(
            "/refresh", json={"refresh_token": plain.json()["refresh_token"]}, headers=DELIVERY
        )
        assert r.status_code == 200
        assert "access_token" not in r.json()
        assert "__Secure-refresh_token" in set_cookies(r)
