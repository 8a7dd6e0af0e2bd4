"""jotauth.issuer: the auth server.

``jotauth.issuer.app.create_app(settings)`` builds the FastAPI app; ``Settings`` reads the
``JOTAUTH_*`` configuration; ``EventBus``/``AuthEvent`` carry audit events to subscribers.
This package imports FastAPI only through ``app`` and ``api``.
"""

from jotauth.issuer.events import AuthEvent, EventBus
from jotauth.issuer.settings import Settings

__all__ = ["AuthEvent", "EventBus", "Settings"]
