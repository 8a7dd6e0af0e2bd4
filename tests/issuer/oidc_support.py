"""Test support for the OpenID provider: an in-memory client lookup and a browser-like driver.

``MemoryClients`` is a test double of the client registry's two lookups only (the real
registry, with hashed secrets and ``private_key_jwt``, is its own module); it implements
public clients (``client_id`` in the form) and ``client_secret_basic``/``_post``.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from jotauth.issuer.errors import InvalidClientError
from jotauth.issuer.services.client_auth import ClientCredentials

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
    secret: str | None = field(default=None, repr=False)


class MemoryClients:
    """The client registry's lookups, over a dict (a test double)."""

    def __init__(self, *clients: Client) -> None:
        self.clients = {c.client_id: c for c in clients}

    def add(self, client: Client) -> None:
        self.clients[client.client_id] = client

    def get_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    async def authenticate_client(self, credentials: ClientCredentials) -> Client:
        client = self.clients.get(credentials.client_id or "")
        if client is None or client.disabled:
            raise InvalidClientError("unknown client")
        secret = credentials.secret
        if client.client_type == "confidential":
            if not secret or not hmac.compare_digest(secret, client.secret or ""):
                raise InvalidClientError("client authentication failed")
        elif secret:
            raise InvalidClientError("a public client has no secret")
        return client


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
