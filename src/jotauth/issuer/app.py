"""``create_app(settings)``: the auth server as a FastAPI application, wired in one place.

Everything stateful lives in the database (users, sessions, keys, revocations, audit), so any
number of workers or instances can serve the same app. ``create_app`` builds, in this order:
the use cases (``runtime``), the issuer's own guard (reading the access cookie in browser
mode), the rate limiter handed to the use cases, the observers subscribed to the events, the
retention task, the routers, and the HTTP middleware (outermost first: metrics, security
headers, CORS).

On ``app.state``: ``settings``, ``store``, ``events`` (the EventBus), ``auth``
(AuthService), ``guard`` (the issuer's own guard), ``cookies`` (the browser-mode
``CookiePolicy``, or None), ``limiter`` (the ``RateLimiter``, or None), ``observability``
(metrics, alerts, audit log) and ``retention`` (the background task that keeps storage
bounded, run by the app's lifespan).
"""

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from jotauth.errors import MissingDependencyError

try:  # first, so that a missing FastAPI is named before the modules that import it fail
    from fastapi import FastAPI
except ModuleNotFoundError as exc:
    raise MissingDependencyError("the jotauth auth server needs FastAPI", "issuer", exc) from None

import anyio
from starlette.middleware.cors import CORSMiddleware

from jotauth.guard import Guard, Principal
from jotauth.guard.dpop_nonce import RotatingNonce
from jotauth.guard.dpop_replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from jotauth.issuer.api import (
    admin,
    auth,
    authorize,
    clients as clients_api,
    end_session,
    home,
    introspection,
    oauth,
    userinfo,
    wellknown,
)
from jotauth.issuer.api.cookies import CookiePolicy
from jotauth.issuer.api.deps import verify_token
from jotauth.issuer.api.docs import install_docs
from jotauth.issuer.api.errors import install_error_handlers
from jotauth.issuer.bootstrap import resolve_master_key
from jotauth.issuer.http.body_limit import BodyLimitMiddleware
from jotauth.issuer.http.cors import cors_options
from jotauth.issuer.http.headers import SecurityHeadersMiddleware
from jotauth.issuer.http.metrics import MetricsMiddleware
from jotauth.issuer.keysource import RingKeySource
from jotauth.issuer.observability.audit_api import router as audit_router
from jotauth.issuer.observability.install import install_observability
from jotauth.issuer.observability.metrics import HardeningMetrics
from jotauth.issuer.retention import RetentionTask
from jotauth.issuer.revocations import FeedPublisher
from jotauth.issuer.runtime import Runtime, build_runtime
from jotauth.issuer.services.authorization import AuthorizationService
from jotauth.issuer.services.backchannel import BackchannelSender
from jotauth.issuer.services.dpop import DPoPChecks
from jotauth.issuer.services.id_tokens import IdTokens
from jotauth.issuer.services.keyring import verified_algorithms
from jotauth.issuer.services.logout import SessionLogout
from jotauth.issuer.services.oauth_clients import ClientRegistry, RegisteredClients
from jotauth.issuer.services.ratelimit import (
    RateLimiter,
    account_key,
    close_storage,
    limits_storage,
)
from jotauth.issuer.services.sealing import derive_key
from jotauth.issuer.services.sso import SSOSessions
from jotauth.issuer.settings import Settings
from jotauth.jose import DPoPProofError, normalize_htu
from jotauth.store.sql import SQLStore

__all__ = ["create_app"]


def create_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (what ``jotauth serve`` runs in each worker).

    The one place the server's environment is read: ``create_app`` takes what it is given.
    """
    return create_app(Settings.from_env())


def create_app(
    settings: Settings,
    *,
    store: SQLStore | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    backchannel: BackchannelSender | None = None,
) -> FastAPI:
    """The auth server for ``settings``, and nothing else: it never reads the environment.

    The config you pass is the config you get (``Settings.from_env()`` reads ``JOTAUTH_*``),
    so a test configures the server by passing ``Settings(...)``, never with ``setenv``.

    ``backchannel``: how logout tokens are delivered (tests pass one on an
    ``httpx.MockTransport``).
    """
    runtime = build_runtime(resolve_master_key(settings), store=store, clock=clock, sleep=sleep)
    settings, ring, service = runtime.settings, runtime.ring, runtime.auth
    cookies = CookiePolicy(settings) if settings.cookie_mode != "off" else None
    # DPoP proofs seen at the token endpoints and by the issuer's guard: one cache, shared by
    # every instance through Redis when there is one.
    replays: ReplayCache = (
        RedisReplayCache(settings.redis_url, prefix="jotauth:issuer:dpop:", clock=clock)
        if settings.redis_url
        else MemoryReplayCache(clock=clock)
    )
    # The issuer's own guard: signature, claims and (in browser mode) the access cookie with
    # its CSRF and Origin checks. Revocation is checked once per request, in the database
    # (api/deps.py), so the guard keeps no revocation view of its own.
    guard = Guard(
        key_source=RingKeySource(ring),
        issuer=settings.issuer,
        audience=settings.audience,
        algorithms=verified_algorithms(settings.signing_alg),
        require=("exp", "sub", "iat", "jti"),
        cookie=None if cookies is None else settings.access_cookie,
        csrf_cookie=settings.csrf_cookie,
        csrf_header=settings.csrf_header,
        csrf_origins=None if cookies is None else settings.cors_origins,
        clock=clock,
        dpop_replay=replays,
        external_url=_external_url(settings.issuer),  # what DPoP proofs name, not the Host
    )
    publisher = None
    if settings.redis_url:
        from jotauth.store.redis_pubsub import RedisPublisher  # redis only when configured

        publisher = RedisPublisher(settings.redis_url)
        runtime.events.subscribe(FeedPublisher(runtime.store, publisher, clock=clock).observe)

    # One limits storage (one Redis pool) for the brute-force limits and the alert windows.
    storage = limits_storage(settings)
    metrics = HardeningMetrics(guard=guard) if settings.metrics_enabled else None
    limiter = (
        RateLimiter(settings, storage=storage, monitor=metrics)
        if settings.ratelimit_enabled
        else None
    )
    if limiter is not None:
        service.limits = limiter  # the use cases ask it on the input their handler parsed
    observers = install_observability(
        runtime.events, settings, metrics=metrics, storage=storage, account_key=account_key
    )

    retention = RetentionTask(runtime.store, settings, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            async with anyio.create_task_group() as tasks:
                if settings.retention_interval > 0:
                    tasks.start_soon(retention.run)
                yield
                retention.stop()
                tasks.cancel_scope.cancel()
        finally:
            await observers.aclose()
            await close_storage(storage)
            guard.close()
            if isinstance(replays, RedisReplayCache):
                replays.close()
            runtime.provider.authenticator.close()
            if publisher is not None:
                publisher.close()

    app = FastAPI(
        title="jotauth",
        summary="JWT authentication server: login, refresh rotation, revocation, JWKS.",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves /docs without a CDN (and no /redoc)
        redoc_url=None,
        # Starlette would answer "/login/" with a 307 to "http://<Host header>/login": a
        # redirect built from the request's Host, which a client follows re-posting the
        # credentials. Every route has exactly one spelling; the other is a 404.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.store = runtime.store
    app.state.events = runtime.events
    app.state.auth = service
    app.state.guard = guard
    app.state.cookies = cookies
    app.state.limiter = limiter
    app.state.observability = observers
    app.state.retention = retention
    app.state.provider = runtime.provider
    app.state.clients = runtime.clients
    app.state.dpop = DPoPChecks(
        settings.issuer, replays=replays, nonces=_dpop_nonces(settings), clock=clock
    )
    registry = RegisteredClients(runtime.store, runtime.provider.authenticator)
    _install_openid(app, runtime, registry, backchannel or BackchannelSender())
    install_error_handlers(app)
    install_docs(app)
    routers = (home, auth, oauth, introspection, authorize, userinfo, end_session, wellknown)
    for module in (*routers, admin, clients_api):
        app.include_router(module.router)
    app.include_router(audit_router)

    from jotauth.tools.web import router as tools_router

    app.include_router(tools_router)

    # add_middleware puts each new one outermost: innermost first.
    options = cors_options(settings)
    if options is not None:
        app.add_middleware(CORSMiddleware, **options)
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds)
    if metrics is not None:

        async def verify(token: str) -> Principal:
            return await verify_token(guard, service, token)

        app.add_middleware(
            MetricsMiddleware,
            metrics=metrics,
            token=settings.metrics_token,
            public=settings.metrics_public,
            verify=verify,
        )
    # Added last, so outermost: no other middleware buffers a byte before it is counted.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout
    )
    return app


def _external_url(issuer: str) -> str | None:
    """The issuer URL as the base of the URLs DPoP proofs at its own routes must name; None
    (the request's own URL) only for an issuer setting that is no URL at all, where the token
    endpoints refuse every proof anyway (their htu cannot match)."""
    try:
        normalize_htu(issuer)
    except DPoPProofError:
        return None
    return issuer


def _dpop_nonces(settings: Settings) -> RotatingNonce | None:
    """The DPoP nonce source when ``JOTAUTH_DPOP_NONCE`` is on: keyed by the master key, so
    every instance that shares it hands out and accepts the same nonces."""
    if not settings.dpop_nonce:
        return None
    secret = settings.master_key or settings.hmac_secret or os.urandom(32)
    key = derive_key(secret, b"jotauth dpop nonce")
    return RotatingNonce(key, period=settings.dpop_nonce_interval)


def _install_openid(
    app: FastAPI, runtime: Runtime, clients: ClientRegistry, backchannel: BackchannelSender
) -> None:
    """The OpenID provider's services, on ``app.state`` for the authorize, userinfo and
    logout routes (``authorization``, ``sso``, ``logout``, ``id_tokens``, ``clients``)."""
    clock, tokens = runtime.auth.clock, runtime.auth.tokens
    id_tokens = IdTokens(runtime.id_rings, runtime.settings, clock) if runtime.id_rings else None
    app.state.oauth_clients = clients
    app.state.id_tokens = id_tokens
    app.state.backchannel = backchannel
    app.state.sso = SSOSessions(runtime.store, clock)
    app.state.authorization = AuthorizationService(
        runtime.store, runtime.settings, clients=clients, tokens=tokens, id_tokens=id_tokens,
        clock=clock,
    )  # fmt: skip
    app.state.logout = SessionLogout(
        runtime.store, tokens=tokens, clients=clients, id_tokens=id_tokens, clock=clock
    )
