"""``DPoPAuth``: an ``httpx.Auth`` that sends a fresh DPoP proof (RFC 9449) with every request.

::

    key = jose.Key.generate("ES256")            # keep it: the tokens are bound to it
    auth = DPoPAuth(key)                        # at the token endpoint: a proof, no token
    with httpx.Client() as http:
        answer = http.post(f"{issuer}/oauth/token", auth=auth, data=form)  # + client auth
        token = answer.json()["access_token"]   # token_type "DPoP": bound to key
        http.get("https://api.example/reports", auth=auth.with_token(token))

Each request gets its own proof (a new ``jti``) for its method and URL; with an access token
set, the request carries ``Authorization: DPoP <token>`` and the proof its hash (``ath``).
A server that asks for a nonce (``use_dpop_nonce`` with ``DPoP-Nonce``, RFC 9449 8 and 9)
gets the request again, once, with a proof carrying it; nonces are remembered per origin
(scheme, host, port), and any ``DPoP-Nonce`` a server sends replaces the one kept for it, so
later requests need no second round trip. Response bodies are read before they reach the
caller (httpx's ``requires_response_body``): the token endpoint says "nonce" in its JSON.
"""

import json
from collections.abc import Generator
from typing import Final

from jotauth.errors import MissingDependencyError
from jotauth.jose.dpop import make_proof
from jotauth.jose.jwk import Key

try:
    import httpx
except ModuleNotFoundError as exc:  # pragma: no cover - tests/test_missing_extras.py
    raise MissingDependencyError("jotauth.client needs httpx", "guard", exc) from None

__all__ = ["DPoPAuth"]

_NONCE_ERROR: Final = "use_dpop_nonce"
_MAX_NONCES: Final = 256


def _origin(url: httpx.URL) -> str:
    """The key nonces are kept under: scheme and netloc as httpx normalizes them (IDNA host,
    IPv6 in brackets, default port dropped), so two origins never share one key."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def _asks_for_nonce(response: httpx.Response) -> bool:
    """Whether ``response`` is RFC 9449's nonce request: a token endpoint's 400 JSON error, or
    a resource server's 401 ``WWW-Authenticate: DPoP error="use_dpop_nonce"``."""
    if "dpop-nonce" not in response.headers:
        return False
    if response.status_code == 401:
        return _NONCE_ERROR in response.headers.get("www-authenticate", "")
    if response.status_code != 400:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == _NONCE_ERROR


class DPoPAuth(httpx.Auth):
    """Signs a DPoP proof with ``key`` (a private asymmetric JWK) for every request.

    ``access_token``: the DPoP-bound token to present (``Authorization: DPoP``); None at the
    token endpoint, where ``Authorization`` is the client's own authentication. Works with
    ``httpx.Client`` and ``httpx.AsyncClient`` alike (no I/O of its own).
    """

    requires_response_body = True  # a token endpoint's nonce request is in its JSON body

    def __init__(self, key: Key, access_token: str | None = None) -> None:
        self.key = key
        self.access_token = access_token
        self._nonces: dict[str, str] = {}

    def with_token(self, access_token: str | None) -> "DPoPAuth":
        """The same key (and the same remembered nonces) presenting ``access_token``: one
        auth for the token endpoint, whose ``Authorization`` is the client's own, and one per
        token for the APIs."""
        other = DPoPAuth(self.key, access_token)
        other._nonces = self._nonces
        return other

    def nonce_for(self, url: str | httpx.URL) -> str | None:
        """The server nonce remembered for ``url``'s origin, if any."""
        return self._nonces.get(_origin(httpx.URL(url)))

    def _sign(self, request: httpx.Request) -> None:
        url = request.url.copy_with(query=None, fragment=None)
        proof = make_proof(
            self.key,
            request.method,
            str(url),
            access_token=self.access_token,
            nonce=self._nonces.get(_origin(request.url)),
        )
        request.headers["DPoP"] = proof
        if self.access_token is not None:
            request.headers["Authorization"] = f"DPoP {self.access_token}"

    def _remember(self, request: httpx.Request, response: httpx.Response) -> None:
        nonce = response.headers.get("dpop-nonce")
        if nonce:
            if len(self._nonces) >= _MAX_NONCES:
                self._nonces.clear()  # a client talking to that many origins: start over
            self._nonces[_origin(request.url)] = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """One request, and its retry with the server's nonce when it asks for one."""
        self._sign(request)
        response = yield request
        self._remember(request, response)
        if not _asks_for_nonce(response):
            return
        self._sign(request)
        response = yield request
        self._remember(request, response)
