"""Configuration shared by the two example services, from the environment.

JOTAUTH_ISSUER            the auth server's URL (its tokens' "iss"); keys are discovered
                          from $JOTAUTH_ISSUER/.well-known/openid-configuration
JOTAUTH_AUDIENCE          the audience the tokens carry (default: jotauth's demo audience)
JOTAUTH_SERVICE_TOKEN     a service token for the revocation feed (one of the server's
                          JOTAUTH_SERVICE_TOKENS); without it revocations are not followed
JOTAUTH_REVOCATIONS_URL   default $JOTAUTH_ISSUER/revocations
JOTAUTH_POLL_INTERVAL     seconds between revocation polls (default: what the server says)
JOTAUTH_CORS_ORIGINS      comma-separated browser origins that may call the service (the
                          single-page app's, e.g. http://127.0.0.1:8004); default: none
"""

import os
from typing import Any

from jotauth.guard import RevocationFeed


def guard_options() -> dict[str, Any]:
    """Keyword arguments for a Guard configured from the environment."""
    issuer = os.environ.get("JOTAUTH_ISSUER", "http://127.0.0.1:8000")
    options: dict[str, Any] = {
        "issuer": issuer,
        "audience": os.environ.get("JOTAUTH_AUDIENCE", "jotauth"),
        # After a key rotation the new key is already in the JWKS; keep the cooldown short
        # so a restarted issuer's new keys are learnt quickly in a demo.
        "jwks_cooldown": float(os.environ.get("JOTAUTH_JWKS_COOLDOWN", "5")),
    }
    service_token = os.environ.get("JOTAUTH_SERVICE_TOKEN")
    if service_token:
        interval = os.environ.get("JOTAUTH_POLL_INTERVAL")
        options["revocation"] = RevocationFeed(
            os.environ.get("JOTAUTH_REVOCATIONS_URL"),  # None: found by discovery
            issuer=issuer,
            service_token=service_token,
            interval=None if interval is None else float(interval),
        )
    return options


def cors_origins() -> tuple[str, ...]:
    """The browser origins allowed to call the service, exact (never ``*``)."""
    raw = os.environ.get("JOTAUTH_CORS_ORIGINS", "")
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    if "*" in origins:
        raise SystemExit("JOTAUTH_CORS_ORIGINS lists origins exactly; '*' is not accepted")
    return origins
