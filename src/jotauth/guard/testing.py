"""Helpers for testing services protected by the guard, without an auth server.

    from jotauth.guard.testing import LocalIssuer

    issuer = LocalIssuer()                              # an Ed25519 key made in memory
    guard = issuer.guard()                              # a Guard trusting only that key
    token = issuer.make_token(sub="42", scope="articles:read")
    client.get("/articles", headers={"Authorization": f"Bearer {token}"})

DPoP-bound tokens: ``issuer.make_token(bound_to=client_key)`` adds ``cnf.jkt``, and
``dpop_headers(client_key, token, "GET", url)`` the ``Authorization: DPoP`` and proof headers.

``LocalIssuer.transport()`` serves the key set and discovery document through an
``httpx.MockTransport``, to test a JWKS-configured guard without a network.
"""

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jotauth import jose
from jotauth.guard.guard import Guard

__all__ = ["LocalIssuer", "ManualClock", "dpop_headers", "make_token"]


class ManualClock:
    """A clock for ``Guard(clock=...)`` that moves only when told, so tests never sleep."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


def make_token(
    key: jose.Key,
    *,
    sub: str = "user-1",
    issuer: str = "https://issuer.test",
    audience: str | list[str] = "api",
    scope: str | Iterable[str] = "",
    roles: Iterable[str] = (),
    permissions: Mapping[str, Any] | None = None,
    expires_in: float = 900,
    now: float | None = None,
    typ: str = "at+jwt",
    headers: Mapping[str, Any] | None = None,
    encrypt_to: jose.Key | None = None,
    bound_to: jose.Key | None = None,
    **claims: Any,
) -> str:
    """A signed access token shaped like jotauth's (RFC 9068); extra claims override.

    ``encrypt_to`` (a service's public ``use: enc`` key) makes it a nested JWT, as the issuer
    does for an audience listed in ``JOTAUTH_ENCRYPT_AUDIENCES``. ``bound_to`` (the client's
    DPoP key) binds it to that key: ``cnf.jkt`` is the key's thumbprint.
    """
    issued = int(time.time() if now is None else now)
    body: dict[str, Any] = {
        "iss": issuer,
        "sub": sub,
        "aud": audience,
        "iat": issued,
        "exp": int(issued + expires_in),
        "jti": uuid.uuid4().hex,
        "client_id": "test-client",
        "scope": scope if isinstance(scope, str) else " ".join(scope),
        "roles": list(roles),
    }
    if permissions is not None:
        body["permissions"] = {name: value for name, value in permissions.items()}
    if bound_to is not None:
        body["cnf"] = {"jkt": bound_to.thumbprint()}
    body.update(claims)
    return jose.encode(
        body, key, headers={"typ": typ, "kid": key.kid, **(headers or {})}, encrypt_to=encrypt_to
    )


def dpop_headers(
    key: jose.Key,
    token: str,
    method: str,
    url: str,
    *,
    nonce: str | None = None,
    iat: int | None = None,
) -> dict[str, str]:
    """The headers of one request with a DPoP-bound ``token``: the DPoP scheme and a fresh
    proof by ``key`` (the client's private key) for ``method`` and ``url``."""
    proof = jose.make_proof(key, method, url, access_token=token, nonce=nonce, iat=iat)
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


class LocalIssuer:
    """A signing key plus the issuer/audience a test guard expects: tokens on demand."""

    __test__ = False

    def __init__(
        self,
        alg: str = "EdDSA",
        *,
        issuer: str = "https://issuer.test",
        audience: str = "api",
        key: jose.Key | None = None,
    ) -> None:
        self.key = jose.Key.generate(alg) if key is None else key
        self.issuer = issuer
        self.audience = audience

    def make_token(self, **options: Any) -> str:
        """``make_token`` with this issuer's key, issuer and audience."""
        options.setdefault("issuer", self.issuer)
        options.setdefault("audience", self.audience)
        return make_token(self.key, **options)

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set, as the issuer publishes it."""
        return jose.KeySet([self.key.public()]).to_jwks()

    def guard(self, cls: Callable[..., Guard] = Guard, **options: Any) -> Guard:
        """A guard (or a subclass: ``cls=jotauth.guard.fastapi.Guard``) trusting this issuer."""
        options.setdefault("issuer", self.issuer)
        options.setdefault("audience", self.audience)
        if "jwks_url" not in options and "key_source" not in options:
            options.setdefault("keys", self.key.public() if self.key.kty != "oct" else self.key)
        return cls(**options)

    def transport(self, *, max_age: int = 300) -> Any:
        """An ``httpx.MockTransport`` answering discovery and JWKS like a jotauth server."""
        import httpx

        issuer = self.issuer.rstrip("/")

        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/.well-known/openid-configuration"):
                return httpx.Response(
                    200, json={"issuer": self.issuer, "jwks_uri": issuer + "/.well-known/jwks.json"}
                )
            if request.url.path.endswith("/.well-known/jwks.json"):
                return httpx.Response(
                    200,
                    content=json.dumps(self.jwks()),
                    headers={
                        "Cache-Control": f"public, max-age={max_age}",
                        "Content-Type": "application/json",
                    },
                )
            return httpx.Response(404)

        return httpx.MockTransport(handle)
