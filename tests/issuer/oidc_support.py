"""Test support for the OpenID provider: clients registered in the real registry, and a
browser-like driver.

``RegistryClients`` writes each test ``Client`` into the server's clients table (the registry's
own store, secrets hashed as the registry hashes them), so every flow meets the one registry.
"""

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from jotauth.issuer.services.clients import hash_secret
from jotauth.store.records import ClientRecord

REDIRECT = "https://app-a.example/callback"
REDIRECT_B = "https://app-b.example/cb"
LOGOUT_TARGET = "https://app-a.example/signed-out"


@dataclass(frozen=True)
class Client:
    """A registered client, as the authorization endpoint reads it."""

    client_id: str
    client_type: Literal["public", "confidential"] = "public"
    redirect_uris: tuple[str, ...] = (REDIRECT,)
    post_logout_redirect_uris: tuple[str, ...] = (LOGOUT_TARGET,)
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    scopes: tuple[str, ...] = ("openid", "profile", "email", "articles:read")
    audiences: tuple[str, ...] = ("jotauth",)
    first_party: bool = True
    backchannel_logout_uri: str | None = None
    disabled: bool = False
    access_ttl: int | None = None
    id_token_signed_response_alg: str | None = None
    secret: str | None = field(default=None, repr=False)
    auth_method: str | None = None
    """How a confidential client authenticates (default ``client_secret_basic``)."""


class RegistryClients:
    """Registers test clients in the server's real client registry (the clients table), so
    the authorization endpoint, the code exchange, refresh, introspection and logout all meet
    the same registry and its authentication. Clients given before ``bind(app)`` are
    registered then; ``add`` after it registers at once."""

    def __init__(self, *clients: Client) -> None:
        self.clients = {c.client_id: c for c in clients}
        self.store: Any = None

    def bind(self, app: Any) -> Any:
        """Register the clients in ``app``'s store; the app, for ``bind(create_app(...))``."""
        self.store = app.state.store
        for client in self.clients.values():
            self.store.create_client(_record(client))
        return app

    def add(self, client: Client) -> None:
        self.clients[client.client_id] = client
        if self.store is not None:
            self.store.create_client(_record(client))


def _record(client: Client) -> ClientRecord:
    confidential = client.client_type == "confidential"
    return ClientRecord(
        client_id=client.client_id,
        name=client.client_id,
        type=client.client_type,
        token_endpoint_auth_method=client.auth_method
        or ("client_secret_basic" if confidential else "none"),
        secret_hash=None if client.secret is None else hash_secret(client.secret),
        redirect_uris=list(client.redirect_uris),
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        grant_types=list(client.grant_types),
        scopes=list(client.scopes),
        audiences=list(client.audiences),
        first_party=client.first_party,
        access_ttl=client.access_ttl,
        id_token_signed_response_alg=client.id_token_signed_response_alg,
        backchannel_logout_uri=client.backchannel_logout_uri,
        disabled=client.disabled,
        created_at=time.time(),
    )


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.buttons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")
        if tag == "button" and "name" in values:
            self.buttons.append(values["value"])


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the page's form."""
    parser = _Forms()
    parser.feed(page)
    return parser.fields


def query(location: str) -> dict[str, str]:
    """The query parameters of a redirect."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def auth_params(
    client_id: str = "app-a",
    redirect_uri: str = REDIRECT,
    challenge: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """An authorization request's parameters."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "state": "st-" + secrets.token_urlsafe(8),
        "nonce": "n-" + secrets.token_urlsafe(8),
        "code_challenge": challenge or pkce()[1],
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v != ""}


async def sign_in(
    client: httpx.AsyncClient,
    params: dict[str, str],
    username: str = "john",
    password: str = "password123",
) -> httpx.Response:
    """GET the authorization endpoint, fill the login form; the response after the POST."""
    page = await client.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    assert fields["jotauth_action"] == "login"
    fields.update(username=username, password=password)
    return await client.post("/oauth/authorize", data=fields)


async def approve(
    client: httpx.AsyncClient, consent: httpx.Response, action: str = "allow"
) -> httpx.Response:
    """Answer a consent page."""
    fields = form_fields(consent.text)
    fields["jotauth_action"] = action
    return await client.post("/oauth/authorize", data=fields)


async def exchange(
    client: httpx.AsyncClient,
    code: str,
    verifier: str,
    client_id: str = "app-a",
    redirect_uri: str = REDIRECT,
    **extra: str,
) -> httpx.Response:
    """POST the authorization_code grant."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "client_id": client_id,
        **extra,
    }
    return await client.post("/oauth/token", data={k: v for k, v in data.items() if v != ""})


async def full_flow(
    client: httpx.AsyncClient, client_id: str = "app-a", redirect_uri: str = REDIRECT, **extra: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Sign in and exchange the code: (token response, the request's parameters)."""
    verifier, challenge = pkce()
    params = auth_params(client_id, redirect_uri, challenge, **extra)
    response = await client.get("/oauth/authorize", params=params)
    if response.status_code == 200:  # no SSO session yet: the login page
        fields = form_fields(response.text)
        fields.update(username="john", password="password123")
        response = await client.post("/oauth/authorize", data=fields)
    assert response.status_code in (302, 303), response.text
    code = query(response.headers["location"])["code"]
    tokens = await exchange(client, code, verifier, client_id, redirect_uri)
    assert tokens.status_code == 200, tokens.text
    body: dict[str, Any] = tokens.json()
    return body, params
