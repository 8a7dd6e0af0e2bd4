"""The authorization endpoint's checks: what is refused on the error page, what by redirect."""

from typing import Any

import httpx
import pytest
from tests.issuer.oidc_support import REDIRECT, Client, auth_params, query, sign_in

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://app-a.example/callback/more",  # suffix
        "https://app-a.example/call",  # prefix
        "https://APP-A.example/callback",  # case
        "https://app-a.example/Callback",
        "https://evil@app-a.example/callback",  # userinfo
        "https://app-a.example@evil.example/callback",
        "https://app-a.example/callback#frag",  # fragment
        "https://app-a.example/callback?x=1",
        "https://app-a.example:443/callback",
        "http://app-a.example/callback",  # scheme
        "https://evil.example/?next=https://app-a.example/callback",  # open redirect
        "https://app-a.example/callback/../../evil",
        "https://app-a.example/callback%2F..",
        "//evil.example/callback",
        "",
    ],
)
async def test_redirect_uri_tricks_never_redirect(
    oidc: httpx.AsyncClient, redirect_uri: str
) -> None:
    """Anything but the exact registered URI is the error page, with no Location at all."""
    response = await oidc.get("/oauth/authorize", params=auth_params(redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "cannot be completed" in response.text


@pytest.mark.parametrize("client_id", ["", "nobody", "APP-A", "app-a ", "disabled"])
async def test_unknown_or_disabled_client_never_redirects(
    oidc: httpx.AsyncClient, clients: Any, client_id: str
) -> None:
    """An unknown, disabled or mis-spelled client gets the error page, not a redirect."""
    clients.add(Client("disabled", disabled=True))
    response = await oidc.get("/oauth/authorize", params=auth_params(client_id=client_id))
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_repeated_redirect_uri_never_redirects(oidc: httpx.AsyncClient) -> None:
    """Two redirect_uri values: which would be trusted? Neither."""
    params = [*list(auth_params().items()), ("redirect_uri", "https://evil.example/")]
    response = await oidc.get("/oauth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"code_challenge": ""}, "invalid_request"),  # PKCE required
        ({"code_challenge_method": ""}, "invalid_request"),  # absent means plain
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"scope": "openid admin:write"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "bogus"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "ten"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"request": "eyJ..."}, "request_not_supported"),
        ({"request_uri": "https://x.example/r"}, "request_uri_not_supported"),
        ({"nonce": "n" * 513}, "invalid_request"),
    ],
)
async def test_bad_requests_are_redirected_with_the_rfc_error(
    oidc: httpx.AsyncClient, change: dict[str, str], error: str
) -> None:
    """With a trusted redirect URI, errors go back to the client (RFC 6749 4.1.2.1)."""
    params = auth_params(**change)
    response = await oidc.get("/oauth/authorize", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    values = query(location)
    assert values["error"] == error
    assert values["state"] == params["state"]
    assert values["iss"] == "http://testserver"


async def test_client_without_the_code_grant_is_unauthorized(
    oidc: httpx.AsyncClient, clients: Any
) -> None:
    """A client registered for client_credentials only cannot run the code flow."""
    clients.add(Client("machine", grant_types=("client_credentials",)))
    response = await oidc.get("/oauth/authorize", params=auth_params(client_id="machine"))
    assert query(response.headers["location"])["error"] == "unauthorized_client"


async def test_repeated_parameter_is_invalid_request(oidc: httpx.AsyncClient) -> None:
    """RFC 6749 3.1: parameters must not be included more than once."""
    params = [*list(auth_params().items()), ("scope", "openid")]
    response = await oidc.get("/oauth/authorize", params=params)
    assert query(response.headers["location"])["error"] == "invalid_request"


async def test_prompt_none_without_session_is_login_required(oidc: httpx.AsyncClient) -> None:
    """prompt=none and nobody signed in: login_required, no page."""
    params = auth_params(prompt="none")
    response = await oidc.get("/oauth/authorize", params=params)
    values = query(response.headers["location"])
    assert values["error"] == "login_required"
    assert values["state"] == params["state"]


async def test_without_state_the_redirect_has_none(oidc: httpx.AsyncClient) -> None:
    """State loss: no state in, none out (the client must notice; we invent nothing)."""
    params = auth_params(prompt="none", state="")
    response = await oidc.get("/oauth/authorize", params=params)
    assert "state" not in query(response.headers["location"])


async def test_authorization_request_by_post(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """OIDC Core 3.1.2.1: the request may be form-posted; the login page is the same."""
    response = await oidc.post("/oauth/authorize", data=auth_params())
    assert response.status_code == 200
    assert 'name="password"' in response.text


async def test_login_hint_fills_the_username(oidc: httpx.AsyncClient) -> None:
    """login_hint pre-fills the username (escaped) and moves focus to the password."""
    response = await oidc.get("/oauth/authorize", params=auth_params(login_hint='jo"hn<'))
    assert 'value="jo&quot;hn&lt;"' in response.text
    assert (
        'name="password" autocomplete="current-password" required maxlength="4096" autofocus'
        in response.text
    )


async def test_sso_session_signs_in_a_second_client(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """Signed in for app-a, authorizing app-b answers a code at once: no password prompt."""
    await kit.add_user(oidc_app)
    response = await sign_in(oidc, auth_params())
    assert response.status_code == 303
    second = await oidc.get(
        "/oauth/authorize", params=auth_params("app-b", "https://app-b.example/cb")
    )
    assert second.status_code == 302
    assert "code" in query(second.headers["location"])
    none = await oidc.get("/oauth/authorize", params=auth_params(prompt="none"))
    assert "code" in query(none.headers["location"])


async def test_prompt_login_and_max_age_force_a_new_sign_in(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any, clock: Any
) -> None:
    """prompt=login always, max_age once the sign-in is older, show the login page again."""
    await kit.add_user(oidc_app)
    await sign_in(oidc, auth_params())
    forced = await oidc.get("/oauth/authorize", params=auth_params(prompt="login"))
    assert forced.status_code == 200
    assert 'name="password"' in forced.text
    clock.advance(100)
    young = await oidc.get("/oauth/authorize", params=auth_params(max_age="200"))
    assert young.status_code == 302
    old = await oidc.get("/oauth/authorize", params=auth_params(max_age="50"))
    assert old.status_code == 200
    assert 'name="password"' in old.text
    silent = await oidc.get("/oauth/authorize", params=auth_params(max_age="50", prompt="none"))
    assert query(silent.headers["location"])["error"] == "login_required"
    again = await sign_in(oidc, auth_params(prompt="login"))
    assert again.status_code == 303
    assert "code" in query(again.headers["location"])


async def test_sso_cookie_is_host_only_secure_httponly_lax(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """The SSO cookie: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain."""
    await kit.add_user(oidc_app)
    response = await sign_in(oidc, auth_params())
    cookie = next(c for c in response.headers.get_list("set-cookie") if "jotauth_sso" in c)
    assert cookie.startswith("__Host-jotauth_sso=")
    lowered = cookie.lower()
    for part in ("secure", "httponly", "samesite=lax", "path=/"):
        assert part in lowered
    assert "domain=" not in lowered
    with oidc_app.state.store.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT id_hash FROM sso_sessions").all()
    value = cookie.split(";")[0].split("=", 1)[1]
    assert value not in stored[0][0]


async def test_a_session_of_a_disabled_user_signs_nobody_in(
    oidc_app: Any, oidc: httpx.AsyncClient, kit: Any
) -> None:
    """Disabling a user (or logout-everywhere) ends their SSO session too."""
    user = await kit.add_user(oidc_app)
    await sign_in(oidc, auth_params())
    from jotauth.issuer.services.auth import Client as Caller

    await oidc_app.state.auth.set_disabled(user.id, True, Caller(), "admin")
    response = await oidc.get("/oauth/authorize", params=auth_params(prompt="none"))
    assert query(response.headers["location"])["error"] == "login_required"
