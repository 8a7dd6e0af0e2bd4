"""``uvicorn --factory tests.browser.oidc_server:create``: the issuer with two registered
clients (the in-memory lookup double) and user john, for the browser sign-in tests.

The server process reads its settings from the environment as ``jotauth serve`` does; only
the client registry is the test's, since the registry module is another piece of work.
"""

import contextlib
import os
import threading

import anyio
from fastapi import FastAPI
from tests.issuer.oidc_support import Client, RegistryClients

from jotauth.issuer.app import create_app
from jotauth.issuer.errors import ConflictError
from jotauth.issuer.settings import Settings


def create() -> FastAPI:
    """The app, with clients app-a and app-b (their callbacks on the test's relying-party
    server, ``JOTAUTH_TEST_RP``) and the user john / password123."""
    rp = os.environ["JOTAUTH_TEST_RP"]
    clients = RegistryClients(
        Client(
            "app-a",
            redirect_uris=(rp + "/a/callback",),
            post_logout_redirect_uris=(rp + "/a/signed-out",),
        ),
        Client(
            "app-b",
            redirect_uris=(rp + "/b/callback",),
            post_logout_redirect_uris=(rp + "/b/signed-out",),
        ),
    )
    app = clients.bind(create_app(Settings.from_env()))

    async def add_john() -> None:
        with contextlib.suppress(ConflictError):
            await app.state.auth.create_user("john", "password123")

    # uvicorn calls the factory inside its event loop: make the user in a thread of its own.
    worker = threading.Thread(target=anyio.run, args=(add_john,))
    worker.start()
    worker.join()
    return app
