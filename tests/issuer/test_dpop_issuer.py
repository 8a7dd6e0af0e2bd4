"""DPoP (RFC 9449) at the issuer, over HTTP against ``jotauth serve``: every grant, ``/login``
and ``/refresh`` bind their tokens to the key a proof proves, and what must be refused is.

Clients are registered with ``jotauth client add`` and proofs made by ``jotauth.client.DPoPAuth``
(or by ``jose.dpop.make_proof`` where a test needs a proof the helper would never make).
"""

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.issuer.client_server import add_client, add_user, client_server
from tests.issuer.oidc_support import form_fields, pkce, query
from tests.serve_process import ServeProcess

from jotauth import jose
from jotauth.client import DPoPAuth
from jotauth.jose.dpop import make_proof
from jotauth.jose.jwt import peek_claims

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
REDIRECT = "http://127.0.0.1:9/callback"

Served = tuple[ServeProcess, dict[str, str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with client_server(
        tmp_path_factory.mktemp("dpop"),
        JOTAUTH_PASSWORD_GRANT="true",
        JOTAUTH_COOKIE_INSECURE_DEV="true",
    ) as served:
        add_user(served[1], "john", PASSWORD, "reports:read")
        yield served


@pytest.fixture
def http(server: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].base, timeout=10) as client:
        yield client


def _claims(token: str) -> dict[str, Any]:
    return peek_claims(token)


def _jkt(key: jose.Key) -> str:
    return key.public().thumbprint()


def _basic(registered: dict[str, Any]) -> tuple[str, str]:
    return registered["client_id"], registered["client_secret"]


def _basic_header(registered: dict[str, Any]) -> str:
    pair = f"{registered['client_id']}:{registered['client_secret']}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _assert_bound(body: dict[str, Any], key: jose.Key) -> None:
    assert body["token_type"] == "DPoP"
    assert _claims(body["access_token"])["cnf"] == {"jkt": _jkt(key)}


def _login(http: httpx.Client, auth: httpx.Auth | None) -> httpx.Response:
    return http.post("/login", json={"username": "john", "password": PASSWORD}, auth=auth)


# -- /login and /refresh -----------------------------------------------------------------------


def test_login_binds_the_access_token_and_the_session_to_the_key(http: httpx.Client) -> None:
    """A proof at /login: ``cnf.jkt`` and ``token_type: DPoP``, and the refresh token works
    only with a proof by the same key (another key, or none, is invalid_grant and burns
    nothing: the owner refreshes afterwards)."""
    key = jose.Key.generate("ES256")
    first = _login(http, DPoPAuth(key))
    assert first.status_code == 200, first.text
    _assert_bound(first.json(), key)
    refresh = {"refresh_token": first.json()["refresh_token"]}
    thief = http.post("/refresh", json=refresh, auth=DPoPAuth(jose.Key.generate("ES256")))
    assert thief.status_code == 401
    assert thief.json()["error"] == "invalid_grant"
    assert "bound to a DPoP key" in thief.json()["error_description"]
    bare = http.post("/refresh", json=refresh)
    assert (bare.status_code, bare.json()["error"]) == (401, "invalid_grant")
    owner = http.post("/refresh", json=refresh, auth=DPoPAuth(key))
    assert owner.status_code == 200, owner.text
    _assert_bound(owner.json(), key)


def test_login_without_a_proof_stays_bearer(http: httpx.Client) -> None:
    """No proof, no binding: the answer is what it always was."""
    body = _login(http, None).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in _claims(body["access_token"])
    again = http.post("/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200, again.text


def test_eddsa_and_rsa_proofs_are_accepted(http: httpx.Client) -> None:
    """Every asymmetric algorithm discovery lists signs a usable proof."""
    for alg in ("EdDSA", "PS256"):
        key = jose.Key.generate(alg)
        answer = _login(http, DPoPAuth(key))
        assert answer.status_code == 200, (alg, answer.text)
        _assert_bound(answer.json(), key)


# -- /oauth/token, every grant -----------------------------------------------------------------


def test_client_credentials_with_a_proof_is_bound(server: Served, http: httpx.Client) -> None:
    """A confidential client's own token carries the proof's key: the first token (the key
    ring read from the database, in a worker thread) and the next ones (signed on the event
    loop with the ring's ready signer) alike."""
    registered = add_client(server[1], "dpop-service")
    key = jose.Key.generate("ES256")
    for _ in range(3):
        answer = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=DPoPAuth(key),
            headers={"Authorization": _basic_header(registered)},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        _assert_bound(answer.json(), key)


def _client_credentials(
    http: httpx.Client, registered: dict[str, Any], **headers: str
) -> httpx.Response:
    return http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": _basic_header(registered), **headers},
    )


def _proof(key: jose.Key, url: str, **options: Any) -> str:
    return make_proof(key, "POST", url, **options)


def test_password_grant_of_a_public_client_binds_its_refresh_token(
    server: Served, http: httpx.Client
) -> None:
    """A public client's refresh token is bound (RFC 9449 5): another key is invalid_grant."""
    public = add_client(
        server[1], "dpop-public", "--public", "--grant", "password", "--grant", "refresh_token"
    )
    key = jose.Key.generate("ES256")
    form = {"grant_type": "password", "username": "john", "password": PASSWORD,
            "client_id": public["client_id"]}  # fmt: skip
    answer = http.post("/oauth/token", data=form, auth=DPoPAuth(key))
    assert answer.status_code == 200, answer.text
    _assert_bound(answer.json(), key)
    refresh = {"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"],
               "client_id": public["client_id"]}  # fmt: skip
    other = http.post("/oauth/token", data=refresh, auth=DPoPAuth(jose.Key.generate("ES256")))
    assert (other.status_code, other.json()["error"]) == (400, "invalid_grant")
    none = http.post("/oauth/token", data=refresh)
    assert (none.status_code, none.json()["error"]) == (400, "invalid_grant")
    same = http.post("/oauth/token", data=refresh, auth=DPoPAuth(key))
    assert same.status_code == 200, same.text
    _assert_bound(same.json(), key)


def test_a_confidential_clients_refresh_token_is_not_bound_but_its_access_tokens_are(
    server: Served, http: httpx.Client
) -> None:
    """RFC 9449 5: the client's authentication binds its refresh token; each new access
    token is bound to the key of the proof that came with the refresh, if any."""
    confidential = add_client(
        server[1], "dpop-confidential", "--grant", "password", "--grant", "refresh_token"
    )
    key = jose.Key.generate("ES256")
    form = {"grant_type": "password", "username": "john", "password": PASSWORD}
    basic = _basic_header(confidential)
    first = http.post("/oauth/token", data=form, auth=DPoPAuth(key),
                      headers={"Authorization": basic})  # fmt: skip
    assert first.status_code == 200, first.text
    _assert_bound(first.json(), key)
    refresh = {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]}
    plain = http.post("/oauth/token", data=refresh, headers={"Authorization": basic})
    assert plain.status_code == 200, plain.text
    assert plain.json()["token_type"] == "Bearer"
    other = jose.Key.generate("EdDSA")
    refresh["refresh_token"] = plain.json()["refresh_token"]
    rebound = http.post("/oauth/token", data=refresh, auth=DPoPAuth(other),
                        headers={"Authorization": basic})  # fmt: skip
    assert rebound.status_code == 200, rebound.text
    _assert_bound(rebound.json(), other)


def test_authorization_code_of_a_public_client_is_bound(server: Served) -> None:
    """The code flow's token request with a proof: bound tokens and a bound refresh token."""
    app = add_client(
        server[1], "dpop-spa", "--public", "--first-party", "--grant", "authorization_code",
        "--grant", "refresh_token", "--redirect-uri", REDIRECT,
    )  # fmt: skip
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": REDIRECT,
              "scope": "reports:read", "state": "s1", "code_challenge": challenge,
              "code_challenge_method": "S256"}  # fmt: skip
    key = jose.Key.generate("ES256")
    with httpx.Client(base_url=server[0].base, timeout=10) as browser:
        page = browser.get("/oauth/authorize", params=params)
        assert page.status_code == 200, page.text
        fields = {**form_fields(page.text), "username": "john", "password": PASSWORD}
        redirect = browser.post("/oauth/authorize", data=fields)
        assert redirect.status_code == 303, redirect.text
        code = query(redirect.headers["location"])["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": verifier, "client_id": app["client_id"]}  # fmt: skip
        answer = browser.post("/oauth/token", data=form, auth=DPoPAuth(key))
        assert answer.status_code == 200, answer.text
        _assert_bound(answer.json(), key)
        refresh = {"grant_type": "refresh_token", "client_id": app["client_id"],
                   "refresh_token": answer.json()["refresh_token"]}  # fmt: skip
        stolen = browser.post("/oauth/token", data=refresh)
        assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
        owner = browser.post("/oauth/token", data=refresh, auth=DPoPAuth(key))
        assert owner.status_code == 200, owner.text


def test_a_client_that_requires_dpop_is_refused_without_a_proof(
    server: Served, http: httpx.Client
) -> None:
    """``--require-dpop`` (``dpop_bound_access_tokens``): no proof is invalid_dpop_proof."""
    strict = add_client(server[1], "dpop-strict", "--require-dpop")
    assert strict["dpop_bound_access_tokens"] is True
    refused = _client_credentials(http, strict)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_dpop_proof")
    key = jose.Key.generate("ES256")
    proof = _proof(key, f"{server[0].base}/oauth/token")
    accepted = _client_credentials(http, strict, DPoP=proof)
    assert accepted.status_code == 200, accepted.text
    _assert_bound(accepted.json(), key)


# -- refused proofs ----------------------------------------------------------------------------


def test_a_replayed_proof_is_refused(server: Served, http: httpx.Client) -> None:
    """The same proof twice: the second is invalid_dpop_proof (its jti was seen)."""
    registered = add_client(server[1], "dpop-replay")
    proof = _proof(jose.Key.generate("ES256"), f"{server[0].base}/oauth/token")
    assert _client_credentials(http, registered, DPoP=proof).status_code == 200
    again = _client_credentials(http, registered, DPoP=proof)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_dpop_proof")
    assert "used before" in again.json()["error_description"]


@pytest.mark.parametrize(
    "url",
    ["http://evil.example/oauth/token", "{base}/login", "{base}/oauth/token/x"],
    ids=["other-host", "other-endpoint", "other-path"],
)
def test_a_proof_for_another_url_is_refused(server: Served, http: httpx.Client, url: str) -> None:
    """``htu`` must be this endpoint's URL under JOTAUTH_ISSUER."""
    registered = add_client(server[1], "dpop-url")
    proof = _proof(jose.Key.generate("ES256"), url.format(base=server[0].base))
    refused = _client_credentials(http, registered, DPoP=proof)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_dpop_proof")


def test_htu_follows_the_issuer_setting_not_the_host_header(
    server: Served, http: httpx.Client
) -> None:
    """A Host header naming another site does not make a proof for that site valid, and does
    not spoil a proof for the issuer's own URL."""
    registered = add_client(server[1], "dpop-host")
    key = jose.Key.generate("ES256")
    forged = _proof(key, "http://evil.example/oauth/token")
    refused = _client_credentials(http, registered, DPoP=forged, Host="evil.example")
    assert refused.json()["error"] == "invalid_dpop_proof"
    honest = _proof(key, f"{server[0].base}/oauth/token")
    assert (
        _client_credentials(http, registered, DPoP=honest, Host="evil.example").status_code == 200
    )


def test_two_dpop_headers_and_a_bad_proof_are_invalid_dpop_proof(
    server: Served, http: httpx.Client
) -> None:
    """RFC 9449 4.3: exactly one well-formed proof, answered 400, never 5xx."""
    registered = add_client(server[1], "dpop-bad")
    url = f"{server[0].base}/oauth/token"
    key = jose.Key.generate("ES256")
    two = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth(*_basic(registered)),
        headers=[("DPoP", _proof(key, url)), ("DPoP", _proof(key, url))],
    )
    assert (two.status_code, two.json()["error"]) == (400, "invalid_dpop_proof")
    for junk in ("not-a-jwt", "a.b.c", "x" * 9000):
        answer = _client_credentials(http, registered, DPoP=junk)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_dpop_proof")


# -- introspection and discovery ---------------------------------------------------------------


def test_introspection_shows_cnf_and_token_type_dpop(server: Served, http: httpx.Client) -> None:
    """RFC 9449 6.2: a resource server learns the binding from introspection."""
    registered = add_client(server[1], "dpop-introspect")
    key = jose.Key.generate("ES256")
    token = _client_credentials(
        http, registered, DPoP=_proof(key, f"{server[0].base}/oauth/token")
    ).json()["access_token"]
    seen = http.post("/oauth/introspect", data={"token": token},
                     auth=httpx.BasicAuth(*_basic(registered))).json()  # fmt: skip
    assert seen["active"] is True
    assert seen["token_type"] == "DPoP"
    assert seen["cnf"] == {"jkt": _jkt(key)}
    plain = _client_credentials(http, registered).json()["access_token"]
    bearer = http.post("/oauth/introspect", data={"token": plain},
                       auth=httpx.BasicAuth(*_basic(registered))).json()  # fmt: skip
    assert bearer["token_type"] == "Bearer"
    assert "cnf" not in bearer


def test_discovery_lists_the_proof_algorithms(http: httpx.Client) -> None:
    """``dpop_signing_alg_values_supported``: asymmetric only."""
    algs = http.get("/.well-known/oauth-authorization-server").json()[
        "dpop_signing_alg_values_supported"
    ]
    assert {"ES256", "EdDSA", "PS256", "RS256"} <= set(algs)
    assert not {"HS256", "none"} & set(algs)


# -- server nonces -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nonce_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("dpop-nonce")
    with client_server(folder, JOTAUTH_DPOP_NONCE="true") as served:
        add_user(served[1], "john", PASSWORD)
        yield served


def test_nonce_required_then_accepted(nonce_server: Served) -> None:
    """With JOTAUTH_DPOP_NONCE: a proof without the nonce is use_dpop_nonce with DPoP-Nonce;
    the same request proved with that nonce succeeds and gets a DPoP-Nonce for the next."""
    base = nonce_server[0].base
    key = jose.Key.generate("ES256")
    credentials = {"username": "john", "password": PASSWORD}
    with httpx.Client(base_url=base, timeout=10) as http:
        first = http.post(
            "/login", json=credentials, headers={"DPoP": _proof(key, base + "/login")}
        )
        assert (first.status_code, first.json()["error"]) == (400, "use_dpop_nonce")
        nonce = first.headers["DPoP-Nonce"]
        stale = _proof(key, base + "/login", nonce="x" * 22)
        wrong = http.post("/login", json=credentials, headers={"DPoP": stale})
        assert wrong.json()["error"] == "use_dpop_nonce"
        proved = _proof(key, base + "/login", nonce=nonce)
        second = http.post("/login", json=credentials, headers={"DPoP": proved})
        assert second.status_code == 200, second.text
        assert second.headers["DPoP-Nonce"]
        _assert_bound(second.json(), key)


def test_the_client_helper_retries_once_with_the_servers_nonce(nonce_server: Served) -> None:
    """DPoPAuth answers use_dpop_nonce by itself and remembers the nonce for the origin."""
    base = nonce_server[0].base
    key = jose.Key.generate("ES256")
    auth = DPoPAuth(key)
    sent: list[httpx.Request] = []
    with httpx.Client(base_url=base, timeout=10, event_hooks={"request": [sent.append]}) as http:
        answer = _login(http, auth)
        assert answer.status_code == 200, answer.text
        assert len(sent) == 2  # the refusal asking for a nonce, then the request with it
        assert auth.nonce_for(base) == answer.headers["DPoP-Nonce"]
        refreshed = http.post(
            "/refresh", json={"refresh_token": answer.json()["refresh_token"]}, auth=auth
        )
        assert refreshed.status_code == 200, refreshed.text
        assert len(sent) == 3  # the remembered nonce: no second round trip


# -- the issuer's own protected routes ---------------------------------------------------------


def test_a_bound_token_works_at_profile_only_with_its_key(http: httpx.Client) -> None:
    """``/profile`` (the issuer's guard): ``Authorization: DPoP`` with a proof by the key is
    let in; the same token stolen (sent as Bearer, or as DPoP without the key's proof) is not."""
    key = jose.Key.generate("ES256")
    auth = DPoPAuth(key)
    token = _login(http, auth).json()["access_token"]
    welcome = http.get("/profile", auth=auth.with_token(token))
    assert welcome.status_code == 200, welcome.text
    assert welcome.json() == {"message": "Welcome, john!"}
    as_bearer = http.get("/profile", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    no_proof = http.get("/profile", headers={"Authorization": f"DPoP {token}"})
    assert no_proof.status_code == 401
    assert no_proof.headers["WWW-Authenticate"].startswith("DPoP ")
    assert no_proof.json()["error"] == "invalid_dpop_proof"
    other_key = http.get("/profile", auth=DPoPAuth(jose.Key.generate("ES256")).with_token(token))
    assert (other_key.status_code, other_key.json()["error"]) == (401, "invalid_token")


def test_a_bound_token_reads_the_revocation_feed_only_with_its_key(
    server: Served, http: httpx.Client
) -> None:
    """A guard's DPoP-bound token with ``revocations:read`` reads ``/revocations`` as
    ``Authorization: DPoP`` with its proof; the same token as Bearer is refused."""
    add_user(server[1], "feeder", PASSWORD, "revocations:read")
    auth = DPoPAuth(jose.Key.generate("ES256"))
    answer = http.post("/login", json={"username": "feeder", "password": PASSWORD}, auth=auth)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    feed = http.get("/revocations", auth=auth.with_token(token))
    assert feed.status_code == 200, feed.text
    assert "events" in feed.json()
    as_bearer = http.get("/revocations", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    johns = DPoPAuth(jose.Key.generate("ES256"))
    john = _login(http, johns).json()["access_token"]
    no_scope = http.get("/revocations", auth=johns.with_token(john))
    assert no_scope.status_code == 401
    assert "revocations:read" in no_scope.text


@pytest.mark.anyio
async def test_the_client_helper_works_with_an_async_client(nonce_server: Served) -> None:
    """The same DPoPAuth in an httpx.AsyncClient: nonce retry, then a bound call to /me, the
    token auth sharing the nonce the token endpoint taught it."""
    base = nonce_server[0].base
    auth = DPoPAuth(jose.Key.generate("EdDSA"))
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        answer = await http.post(
            "/login", json={"username": "john", "password": PASSWORD}, auth=auth
        )
        assert answer.status_code == 200, answer.text
        me = await http.get("/me", auth=auth.with_token(answer.json()["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "john"
