"""Public endpoints services rely on: JWKS, discovery, the revocation feed, health."""

import hmac
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import JSONResponse

from jotauth.guard import InvalidRequestError as GuardInvalidRequestError, MissingTokenError
from jotauth.issuer.api import models
from jotauth.issuer.api.deps import authenticate, client_registry, service
from jotauth.issuer.api.errors import RETRY_AFTER
from jotauth.issuer.api.openapi import BEARER, SERVICE_TOKEN, errors
from jotauth.issuer.errors import InvalidRequestError, InvalidTokenError
from jotauth.issuer.services.clients import ASSERTION_ALGORITHMS, AUTH_METHODS
from jotauth.issuer.services.dpop import DPOP_ALGORITHMS
from jotauth.issuer.services.identity_scopes import CLAIMS_SUPPORTED, IDENTITY_SCOPES
from jotauth.issuer.settings import Settings

__all__ = ["router"]

router = APIRouter(tags=["discovery"])

_JWKS_CACHE = "public, max-age=300"
_PAGE = 1000


class JWKSetResponse(JSONResponse):
    """A JWK Set, as RFC 7517 section 8.5 names its media type."""

    media_type = "application/jwk-set+json"


@router.get(
    "/.well-known/jwks.json",
    summary="Public signing keys (JWK Set)",
    response_class=JWKSetResponse,
    response_model=models.JWKSet,
)
async def jwks(request: Request) -> JSONResponse:
    """Next, active and retiring public keys; revoked keys leave at once."""
    ring = service(request).ring
    body = await anyio.to_thread.run_sync(ring.jwks)
    return JWKSetResponse(body, headers={"Cache-Control": _JWKS_CACHE})


def metadata(settings: Settings, scopes: list[str], id_algs: list[str]) -> dict[str, object]:
    """What this server offers, and only that (RFC 8414 2 / OpenID Connect Discovery 3).

    Built from the same facts the endpoints use (the client authentication methods and
    assertion algorithms of ``services.clients``, the password grant setting, the algorithms
    ID tokens can be signed with), so the document cannot promise a grant or method the token
    endpoint refuses. ``tests/issuer/test_discovery.py`` calls every endpoint it names.
    """
    base = settings.issuer
    grants = ["authorization_code", "client_credentials", "refresh_token"]
    if settings.password_grant_enabled:
        grants.append("password")
    return {
        "issuer": base,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "userinfo_endpoint": f"{base}/oauth/userinfo",
        "end_session_endpoint": f"{base}/oauth/logout",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "grant_types_supported": grants,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_algs,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "scopes_supported": sorted({*IDENTITY_SCOPES, *scopes}),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "jotauth_revocations_endpoint": f"{base}/revocations",
        "jotauth_login_endpoint": f"{base}/login",
        "jotauth_refresh_endpoint": f"{base}/refresh",
        "jotauth_me_endpoint": f"{base}/me",
        "jotauth_access_token_signing_alg_values_supported": [settings.signing_alg],
        "claims_supported": sorted({
            *CLAIMS_SUPPORTED, "jti", "client_id", "scope", "roles", "permissions", "tier",
            "rate_limit",
        }),
    }  # fmt: skip


async def _metadata(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    scopes = await client_registry(request).advertised_scopes()
    id_tokens = request.app.state.id_tokens
    id_algs = [] if id_tokens is None else id_tokens.algorithms
    return JSONResponse(metadata(settings, scopes, id_algs), headers={"Cache-Control": _JWKS_CACHE})


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
    response_model=models.Discovery,
)
async def authorization_server(request: Request) -> JSONResponse:
    """Endpoints, grants, client authentication methods and scopes (RFC 8414)."""
    return await _metadata(request)


@router.get(
    "/.well-known/openid-configuration",
    summary="Discovery document",
    response_model=models.Discovery,
)
async def discovery(request: Request) -> JSONResponse:
    """The same metadata at the OpenID Connect Discovery address (guards read ``jwks_uri``)."""
    return await _metadata(request)


async def _service_caller(request: Request) -> None:
    """A service token or an access token with ``revocations:read``, else the refusal.

    No bearer credential at all (no header, or another scheme) is the guard's
    ``MissingTokenError``, whose challenge carries no error code (RFC 6750 section 3.1); the
    issuer's ``InvalidTokenError`` is for a credential that was sent and is wrong.
    """
    settings: Settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "dpop" and credential:  # a DPoP-bound access token, with its proof
        principal = await authenticate(request)
        if "revocations:read" not in principal.scopes:
            raise InvalidTokenError("the access token lacks the revocations:read scope")
        return
    if scheme.lower() != "bearer":
        raise MissingTokenError(
            "the revocation feed needs Authorization: Bearer <service token or access token> "
            "(or DPoP <access token> with its proof)"
        )
    if not credential:  # as the guard answers it: a malformed request, 400 invalid_request
        raise GuardInvalidRequestError(
            'the Authorization header says Bearer but carries no token; send "Bearer <token>"'
        )
    matched = False
    for secret in settings.service_tokens:
        matched |= hmac.compare_digest(secret.encode(), credential.encode())
    if matched:
        return
    if credential.count(".") != 2:
        raise InvalidTokenError("the service token is not valid")
    try:
        principal = await authenticate(request)
    except Exception as exc:
        raise InvalidTokenError("the service token is not valid") from exc
    if "revocations:read" not in principal.scopes:
        raise InvalidTokenError("the access token lacks the revocations:read scope")


@router.get(
    "/revocations",
    summary="Revocation feed for services",
    # Either credential: a service secret, or an access token whose scope holds
    # revocations:read (a missing scope is 401 here, as for a wrong secret).
    dependencies=[Security(SERVICE_TOKEN), Security(BEARER)],
    response_model=models.RevocationFeed,
    responses=errors(
        400,
        401,
        described={
            400: "`invalid_request`: `after` is not a cursor from this endpoint",
            401: "`invalid_token`: no service token, a wrong one, or an access token "
            "without the revocations:read scope",
        },
        guard=False,
    ),
)
async def revocations(
    request: Request, after: Annotated[str | None, Query(max_length=32)] = None
) -> JSONResponse:
    """Events since ``after`` (omit it to start from the beginning); poll every poll_interval s.

    A page holds at most 1,000 events; ``has_more: true`` says more are waiting, and a guard
    must ask again with the new cursor before it counts as up to date. The cursor is a feed
    position, which the store numbers in commit order, so it never passes an event that is
    still being committed (``jotauth.store.sql.revocations``), and it moves past expired
    events too: a page may hold no event and still a new cursor.
    """
    await _service_caller(request)
    if after is None or after == "":
        position = 0
    elif after.isascii() and after.isdigit() and len(after) <= 18:
        position = int(after)
    else:
        raise InvalidRequestError("after must be a cursor returned by this endpoint")
    page = await service(request).feed_page(position, limit=_PAGE)
    records, cursor, more = page.records, page.cursor, page.more
    return JSONResponse(
        {
            "cursor": str(cursor),
            "poll_interval": request.app.state.settings.poll_interval,
            "events": [record.as_event() for record in records],
            "has_more": more,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/healthz",
    summary="Liveness and database check",
    response_model=models.Health,
    responses={503: {"model": models.Health, "description": "the database or key ring fails"}},
)
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and a signing key is loaded, 503 otherwise.

    The answer comes within ``JOTAUTH_HEALTH_TIMEOUT`` seconds even when the database hangs:
    a load balancer's probe must learn "unavailable", not time out itself. The check left
    behind finishes (or fails) on its own in its worker thread, bounded by the database
    timeouts.
    """
    auth = service(request)
    settings: Settings = request.app.state.settings
    ok = False
    with anyio.move_on_after(settings.health_timeout):
        ok = await anyio.to_thread.run_sync(auth.healthy, abandon_on_cancel=True)
    headers = {"Cache-Control": "no-store"}
    if not ok:
        headers["Retry-After"] = str(RETRY_AFTER)
    return JSONResponse(
        {"status": "ok" if ok else "unavailable"},
        status_code=200 if ok else 503,
        headers=headers,
    )
