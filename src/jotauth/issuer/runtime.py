"""Building the server's services outside HTTP (the CLI and the app factory share this)."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from jotauth.issuer.bootstrap import DEMO_CLIENT, DEMO_PASSWORD, DEMO_USER, DemoAccounts
from jotauth.issuer.errors import ConflictError
from jotauth.issuer.events import EventBus
from jotauth.issuer.recorder import AuditRecorder
from jotauth.issuer.services.auth import AuthService
from jotauth.issuer.services.client_auth import ClientAuthenticator
from jotauth.issuer.services.client_cache import ClientCache
from jotauth.issuer.services.clients import ClientService, ClientSpec
from jotauth.issuer.services.feed_view import FeedView
from jotauth.issuer.services.id_tokens import ID_TOKEN_ALGORITHMS
from jotauth.issuer.services.introspection import TokenIntrospection
from jotauth.issuer.services.keyring import KeyRing, verified_algorithms
from jotauth.issuer.services.passwords import PasswordService
from jotauth.issuer.services.provider import OAuthProvider
from jotauth.issuer.settings import Settings
from jotauth.store.sql import SQLStore

__all__ = ["Runtime", "build_runtime", "create_demo_accounts"]

logger = logging.getLogger("jotauth.store")


@dataclass(frozen=True)
class Runtime:
    """The wired services of one server process."""

    settings: Settings
    store: SQLStore
    ring: KeyRing
    events: EventBus
    auth: AuthService
    clients: ClientService
    provider: OAuthProvider
    id_rings: dict[str, KeyRing] = field(default_factory=dict)
    """The ring of each algorithm that signs ID tokens (the main ring itself for its own
    algorithm; empty for HMAC signing without a master key, where no ID token can be
    issued)."""


def build_runtime(
    settings: Settings,
    *,
    store: SQLStore | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] | None = None,
) -> Runtime:
    """Open (and migrate) the store, make sure the key ring exists, wire the services.

    The database gets ``settings.db_startup_wait`` seconds to answer; each try is told to
    ``report`` (default: a warning on the ``jotauth.store`` logger).
    """
    if store is None:
        store = SQLStore.from_url(
            settings.database_url, migrate_now=False, **settings.engine_options
        )
        try:
            store.wait_until_ready(settings.db_startup_wait, report=report or logger.warning)
            if settings.migrate_on_start:
                store.upgrade()
        except BaseException:
            store.close()
            raise
    ring, id_rings = _rings(store, settings, clock, sleep)
    events = EventBus()
    events.record_with(AuditRecorder(store))
    passwords = PasswordService(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
    )
    auth = AuthService(
        store, settings, ring=ring, passwords=passwords, events=events, clock=clock, sleep=sleep
    )
    algorithms = verified_algorithms(settings.signing_alg)
    cached = ClientCache(store, seconds=settings.client_cache_seconds, clock=clock)
    revocations = (
        FeedView(store, seconds=settings.revocation_cache_seconds, clock=clock)
        if settings.revocation_cache_seconds > 0
        else None
    )
    provider = OAuthProvider(
        auth,
        ClientAuthenticator(store, settings, clock=clock, clients=cached),
        TokenIntrospection(
            store,
            ring,
            settings,
            auth.tokens,
            algorithms=algorithms,
            clock=clock,
            clients=cached,
            revocations=revocations,
        ),
        algorithms=algorithms,
        clock=clock,
    )
    clients = ClientService(store, clock=clock, cache_seconds=settings.client_cache_seconds)
    return Runtime(settings, store, ring, events, auth, clients, provider, id_rings)


def _rings(
    store: SQLStore,
    settings: Settings,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[KeyRing, dict[str, KeyRing]]:
    """The access-token ring and the ID-token rings kept alongside it (same table).

    The access ring's own algorithm signs ID tokens with the access ring. Every other ID
    algorithm gets a ring of its own, which owns the table's keys of that algorithm, except
    another name of the access ring's family (``EdDSA`` while the server signs ``Ed25519``):
    those keys may be the access ring's (``verified_algorithms``), so no ID ring takes them.
    """
    family = set(verified_algorithms(settings.signing_alg))
    own = [alg for alg in ID_TOKEN_ALGORITHMS if alg not in family]
    ring = KeyRing(store, settings, clock=clock, sleep=sleep, owns=lambda alg: alg not in own)
    ring.ensure()
    id_rings: dict[str, KeyRing] = {}
    if settings.master_key is None:  # HMAC signing, no master key to seal a private key with
        return ring, id_rings
    last = ring
    for name in ID_TOKEN_ALGORITHMS:
        if name == settings.signing_alg:
            id_rings[name] = ring
        elif name in own:
            # Made on first use (the JWKS or the first ID token): an RSA key takes a while to
            # generate, and a server that never runs the code flow need not wait for one.
            id_rings[name] = last.alongside = last = KeyRing(
                store, settings, clock=clock, sleep=sleep, alg=name,
                owns=name.__eq__,
            )  # fmt: skip
    return ring, id_rings


def create_demo_accounts(runtime: Runtime, admin_password: str) -> DemoAccounts:
    """The tutorial's john / password123, an admin, and the public ``demo-app`` client (the
    password grant at /oauth/token is on in demo mode), unless they exist already."""

    async def create() -> DemoAccounts:
        john = True
        try:
            await runtime.auth.create_user(
                DEMO_USER,
                DEMO_PASSWORD,
                roles=["user"],
                permissions={"articles": ["create", "read"], "profile": ["read"]},
            )
        except ConflictError:
            john = False
        admin: str | None = admin_password
        try:
            await runtime.auth.create_user(
                "admin",
                admin_password,
                roles=["admin"],
                permissions={"admin": ["*"], "audit": ["read"], "articles": ["*"]},
            )
        except ConflictError:
            admin = None
        demo_app = ClientSpec(
            "Demo app", type="public", grant_types=("password", "refresh_token"),
            first_party=True,
        )  # fmt: skip
        client = True
        try:
            await runtime.clients.register(demo_app, client_id=DEMO_CLIENT)
        except ConflictError:
            client = False
        return DemoAccounts(john, admin, client)

    return anyio.run(create)
