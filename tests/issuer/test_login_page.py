"""The login and consent pages: CSRF, uniform answers, the brute-force limits, accessibility."""

import re
from typing import Any

import httpx
import pytest
from tests.issuer.oidc_support import (
    approve,
    auth_params,
    form_fields,
    query,
    sign_in,
)

pytestmark = pytest.mark.anyio

THIRD = {"client_id": "third", "redirect_uri": "https://third.example/cb"}


async def test_login_page_is_accessible_and_self_contained(oidc: httpx.AsyncClient) -> None:
    """lang, labels for every field, focus, no script, a CSP that allows only its own style."""
    page = await oidc.get("/oauth/authorize", params=auth_params())
    text = page.text
    assert '<html lang="en">' in text
    assert '<label for="username">' in text
    assert 'id="username"' in text
    assert '<label for="password">' in text
    assert 'id="password"' in text
    assert "autofocus" in text
    assert "<script" not in text
    assert "http://" not in text.replace("http://testserver", "")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", policy)
    assert "form-action 'self' https://app-a.example" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"


async def test_wrong_password_and_unknown_user_answer_alike(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """Same status, same message, announced to screen readers, fields marked invalid."""
    await kit.add_user(oidc_app)
    params = auth_params()
    bad = await sign_in(oidc, params, "john", "wrong-password")
    unknown = await sign_in(oidc, params, "nobody", "wrong-password")
    assert bad.status_code == unknown.status_code == 401
    for page in (bad, unknown):
        assert (
            '<p class="error" id="error" role="alert">Wrong username or password.</p>' in page.text
        )
        assert 'aria-invalid="true" aria-describedby="error"' in page.text
    assert "location" not in bad.headers


async def test_login_form_without_its_csrf_token_is_refused(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """A cross-site POST (no binding cookie, or a wrong token) signs nobody in."""
    await kit.add_user(oidc_app)
    page = await oidc.get("/oauth/authorize", params=auth_params())
    fields = form_fields(page.text)
    fields.update(username="john", password="password123")
    for token in ("", "forged", fields["jotauth_csrf"][:-2] + "AA"):
        response = await oidc.post("/oauth/authorize", data={**fields, "jotauth_csrf": token})
        assert response.status_code == 403
        assert "location" not in response.headers
    transport = httpx.ASGITransport(app=oidc_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        stolen = await other.post("/oauth/authorize", data=fields)  # token, no cookie
        assert stolen.status_code == 403
    cross = await oidc.post(
        "/oauth/authorize", data=fields, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    ok = await oidc.post("/oauth/authorize", data=fields)
    assert ok.status_code == 303


async def test_the_login_token_does_not_work_on_the_consent_form(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """Each form has its own token: a login token cannot approve a client."""
    await kit.add_user(oidc_app)
    consent = await sign_in(oidc, auth_params(**THIRD))
    assert consent.status_code == 200
    assert "Allow third?" in consent.text
    login_token = form_fields(
        (await oidc.get("/oauth/authorize", params=auth_params(prompt="login"))).text
    )["jotauth_csrf"]
    fields = form_fields(consent.text)
    response = await oidc.post(
        "/oauth/authorize", data={**fields, "jotauth_action": "allow", "jotauth_csrf": login_token}
    )
    assert response.status_code == 403


async def test_third_party_client_asks_consent_once(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """A third-party client needs approval; it is remembered per user, client and scopes."""
    await kit.add_user(oidc_app)
    consent = await sign_in(oidc, auth_params(**THIRD))
    assert "See your username" in consent.text
    assert "form-action 'self' https://third.example" in consent.headers["content-security-policy"]
    allowed = await approve(oidc, consent)
    assert allowed.status_code == 303
    assert "code" in query(allowed.headers["location"])
    again = await oidc.get("/oauth/authorize", params=auth_params(**THIRD))
    assert again.status_code == 302
    assert "code" in query(again.headers["location"])
    wider = await oidc.get(
        "/oauth/authorize", params=auth_params(**THIRD, scope="openid profile email")
    )
    assert wider.status_code == 200
    assert "Allow third?" in wider.text
    forced = await oidc.get("/oauth/authorize", params=auth_params(**THIRD, prompt="consent"))
    assert forced.status_code == 200
    assert "Allow third?" in forced.text


async def test_denied_consent_is_access_denied(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """Deny: the client hears access_denied with its state; nothing is remembered."""
    await kit.add_user(oidc_app)
    params = auth_params(**THIRD)
    consent = await sign_in(oidc, params)
    denied = await approve(oidc, consent, "deny")
    values = query(denied.headers["location"])
    assert values["error"] == "access_denied"
    assert values["state"] == params["state"]
    silent = await oidc.get("/oauth/authorize", params=auth_params(**THIRD, prompt="none"))
    assert query(silent.headers["location"])["error"] == "consent_required"


async def test_first_party_client_skips_consent(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """The server's own applications are not asked about."""
    await kit.add_user(oidc_app)
    response = await sign_in(oidc, auth_params())
    assert response.status_code == 303
    assert "code" in query(response.headers["location"])


async def test_login_page_counts_against_the_same_limits_as_login(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, kit: Any, clients: Any
) -> None:
    """Five wrong passwords on the page lock the account for /login too, and the reverse."""
    from jotauth.issuer.app import create_app

    settings = kit.make_settings(
        f"sqlite:///{tmp_path / 'limits.db'}", ratelimit_enabled=True, ip_burst=1000
    )  # memory limits: create_app reads no environment
    app = clients.bind(create_app(settings))
    try:
        await kit.add_user(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as web:
            statuses = [
                (await sign_in(web, auth_params(), "john", f"wrong-{i}")).status_code
                for i in range(8)
            ]
            assert 429 in statuses
            locked = await sign_in(web, auth_params(), "john", "password123")
            assert locked.status_code == 429
            assert "Too many attempts" in locked.text
            assert int(locked.headers["retry-after"]) > 0
            api = await web.post("/login", json={"username": "john", "password": "password123"})
            assert api.status_code == 429
    finally:
        app.state.store.close()
