"""The ``DPoP`` header of the token-issuing endpoints, read once for ``services.dpop``."""

import dataclasses

from fastapi import Request

from jotauth.issuer.api.deps import client
from jotauth.issuer.services.auth import Client
from jotauth.issuer.services.dpop import DPoPChecks, Proof

__all__ = ["caller_with", "dpop_checks", "request_proof", "settle"]


def dpop_checks(request: Request) -> DPoPChecks:
    """The app's DPoPChecks."""
    checks: DPoPChecks = request.app.state.dpop
    return checks


def request_proof(request: Request, path: str) -> Proof | None:
    """The request's verified DPoP proof for the endpoint at ``path`` (its URL from
    ``JOTAUTH_ISSUER``), None without one; its replay check is left to the use case, which
    makes it once the caller has authenticated (``Client.proved``)."""
    return dpop_checks(request).proof_of(request.headers.getlist("dpop"), path=path)


def caller_with(request: Request, proof: Proof | None) -> Client:
    """The request's caller (``deps.client``), carrying its proof."""
    caller = client(request)
    return caller if proof is None else dataclasses.replace(caller, proof=proof)


async def settle(proof: Proof | None) -> None:
    """After the use case: a proof no step spent (a path that authenticated the caller some
    other way) is checked now, so no proof is ever accepted twice."""
    if proof is not None:
        await proof.spend()
