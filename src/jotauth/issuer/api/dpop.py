"""The ``DPoP`` header of the token-issuing endpoints, read once for ``services.dpop``."""

from fastapi import Request

from jotauth.issuer.services.dpop import DPoPChecks

__all__ = ["dpop_checks", "proved_key"]


def dpop_checks(request: Request) -> DPoPChecks:
    """The app's DPoPChecks."""
    checks: DPoPChecks = request.app.state.dpop
    return checks


async def proved_key(request: Request, path: str) -> str | None:
    """The thumbprint of the key the request's DPoP proof proves for the endpoint at
    ``path`` (its URL from ``JOTAUTH_ISSUER``), None without a proof."""
    return await dpop_checks(request).key_of(request.headers.getlist("dpop"), path=path)
