"""``create_app(settings)``: the auth server as a FastAPI application.

Everything stateful lives in the database (users, sessions, keys, revocations, audit), so any
number of workers or instances can serve the same app. On ``app.state``: ``settings``,
``store``, ``events`` (the EventBus), ``auth`` (AuthService) and ``guard`` (the issuer's own
guard, used by its protected routes and by the hardening layer's admin routes).
"""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from jotauth.errors import MissingDependencyError

try:  # first, so that a missing FastAPI is named before the modules that import it fail
    from fastapi import FastAPI
except ModuleNotFoundError as exc:
    raise MissingDependencyError("the jotauth auth server needs FastAPI", "issuer", exc) from None

from jotauth.guard import Guard
from jotauth.issuer.api import (
    admin,
    auth,
    authorize,
    end_session,
    home,
    oauth,
    userinfo,
    wellknown,
)
from jotauth.issuer.api.docs import install_docs
from jotauth.issuer.api.errors import install_error_handlers
from jotauth.issuer.bootstrap import resolve_master_key
from jotauth.issuer.hardening import HardeningSettings, install_hardening
from jotauth.issuer.keysource import RingKeySource
from jotauth.issuer.revocations import StoreRevocationSource
from jotauth.issuer.runtime import Runtime, build_runtime
from jotauth.issuer.services.authorization import AuthorizationService
from jotauth.issuer.services.backchannel import BackchannelSender
from jotauth.issuer.services.id_tokens import IdTokens
from jotauth.issuer.services.logout import SessionLogout
from jotauth.issuer.services.oauth_clients import ClientRegistry, NoClients
from jotauth.issuer.services.sso import SSOSessions
from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore

__all__ = ["create_app"]

_EDDSA_NAMES = ("EdDSA", "Ed25519", "Ed448")


def _verified_algorithms(signing_alg: str) -> list[str]:
    """The names the server's own tokens may carry: its setting, and for EdDSA every name of it.

    Moving ``JOTAUTH_SIGNING_ALG`` from ``EdDSA`` to ``Ed25519`` (RFC 9864) changes the name of
    new keys only; the keys already in the ring sign under the old name until rotated out, and
    their tokens must keep working here meanwhile. Each key still answers only to the names of
    its own curve (``jose.Key.accepts``).
    """
    return list(_EDDSA_NAMES) if signing_alg in _EDDSA_NAMES else [signing_alg]


def create_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (what ``jotauth serve`` runs in each worker)."""
    return create_app(Settings.from_env())


def create_app(
    settings: Settings | None = None,
    *,
    store: SQLStore | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    hardening: HardeningSettings | None = None,
    clients: ClientRegistry | None = None,
    backchannel: BackchannelSender | None = None,
) -> FastAPI:
    """The auth server for ``settings`` (default: from the environment).

    ``hardening``: the limits, cookie, CORS and monitoring settings; by default read from the
    ``JOTAUTH_*`` variables (tests pass them instead of setting the environment).
    ``clients``: the client registry the authorization endpoint looks clients up in (none:
    no client can sign in). ``backchannel``: how logout tokens are delivered (tests pass
    one on an ``httpx.MockTransport``).
    """
    settings = settings or Settings.from_env()
    runtime = build_runtime(resolve_master_key(settings), store=store, clock=clock, sleep=sleep)
    settings, ring, service = runtime.settings, runtime.ring, runtime.auth
    publisher = None
    if settings.redis_url:
        from jotauth.store.redis_pubsub import RedisPublisher  # redis only when configured

        publisher = RedisPublisher(settings.redis_url)
    revocations = StoreRevocationSource(runtime.store, clock=clock, publisher=publisher)
    runtime.events.subscribe(revocations.observe)
    guard = Guard(
        key_source=RingKeySource(ring),
        issuer=settings.issuer,
        audience=settings.audience,
        algorithms=_verified_algorithms(settings.signing_alg),
        require=("exp", "sub", "iat", "jti"),
        revocation=revocations,
        clock=clock,
    )
    guard.start()  # load the revocations now, so the first revoking event can be pushed

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        guard.close()
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
    _install_openid(app, runtime, clients or NoClients(), backchannel or BackchannelSender())
    install_error_handlers(app)
    install_docs(app)
    for module in (home, auth, oauth, authorize, userinfo, end_session, wellknown, admin):
        app.include_router(module.router)

    from jotauth.tools.web import router as tools_router

    app.include_router(tools_router)
    install_hardening(app, settings, hardening=hardening)
    return app


def _install_openid(
    app: FastAPI, runtime: Runtime, clients: ClientRegistry, backchannel: BackchannelSender
) -> None:
    """The OpenID provider's services, on ``app.state`` for the authorize, userinfo and
    logout routes (``authorization``, ``sso``, ``logout``, ``id_tokens``, ``clients``)."""
    clock, tokens = runtime.auth.clock, runtime.auth.tokens
    id_tokens = (
        None if runtime.id_ring is None else IdTokens(runtime.id_ring, runtime.settings, clock)
    )
    app.state.clients = clients
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
