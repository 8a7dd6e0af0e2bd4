"""DPoP at the issuer (RFC 9449): which key a token request proves, if any.

The token endpoint, ``/login`` and ``/refresh`` take a ``DPoP`` header. Its proof is checked
by ``jotauth.jose.dpop.verify_proof`` against this server's own URL for the endpoint, built
from ``JOTAUTH_ISSUER`` (never from the ``Host`` header, which a client or a proxy chooses),
with method ``POST``; its ``jti`` must not have been seen before within the proof's lifetime
(the replay cache: memory, or Redis shared by every instance); with ``JOTAUTH_DPOP_NONCE`` it
must carry a nonce this server handed out (``services.dpop_nonce``). What comes out is the
key's RFC 7638 thumbprint, which the token services put in ``cnf.jkt`` and bind refresh
sessions to. Every refusal is an ``IssuerError`` (400 ``invalid_dpop_proof`` or
``use_dpop_nonce``), never a 5xx.
"""

import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from jotauth.issuer.errors import InvalidDPoPProofError, UseDPoPNonceError
from jotauth.issuer.services.dpop_nonce import DPoPNonces
from jotauth.issuer.settings import Settings
from jotauth.jose.dpop import DEFAULT_DPOP_ALGS, DPoPProof, verify_proof
from jotauth.jose.errors import DPoPNonceError, DPoPProofError

__all__ = ["DPOP_ALGORITHMS", "DPoPChecks", "ProofReplays", "require_proof"]

DPOP_ALGORITHMS: Final = DEFAULT_DPOP_ALGS
"""The algorithms a proof may be signed with (discovery's
``dpop_signing_alg_values_supported``): every asymmetric one jotauth verifies."""
_METHOD: Final = "POST"


class ProofReplays(Protocol):
    """Remembers proofs until they expire; ``first_use`` is atomic across instances."""

    async def first_use(self, key: str, expires_at: float) -> bool:
        """True the first time ``key`` is seen before ``expires_at``, False for a replay."""
        ...


def require_proof(jkt: str | None, required: bool) -> None:
    """InvalidDPoPProofError when a client registered ``dpop_bound_access_tokens`` (RFC 9449
    5.2) asks for tokens without a proof: it only ever gets sender-constrained ones."""
    if required and jkt is None:
        raise InvalidDPoPProofError(
            "this client must send a DPoP proof with every token request "
            "(it is registered with dpop_bound_access_tokens)"
        )


class DPoPChecks:
    """Verifies the ``DPoP`` header of the issuer's token-issuing endpoints."""

    def __init__(
        self,
        settings: Settings,
        *,
        replays: ProofReplays,
        secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = settings.issuer
        self.replays = replays
        self.clock = clock
        self.nonces = (
            DPoPNonces(secret, interval=settings.dpop_nonce_interval, clock=clock)
            if settings.dpop_nonce
            else None
        )

    def url(self, path: str) -> str:
        """The external URL of the endpoint at ``path`` (what ``htu`` must name)."""
        return self.issuer + path

    def nonce_headers(self) -> dict[str, str]:
        """``DPoP-Nonce`` for a response when nonces are on (RFC 9449 8.2: a server may send
        a fresh one with any answer, so a client learns the next one without a failure)."""
        return {} if self.nonces is None else {"DPoP-Nonce": self.nonces.current()}

    async def key_of(self, proofs: Sequence[str], *, path: str) -> str | None:
        """The thumbprint of the key the request's proof proves, None when it sends none.

        ``proofs``: every ``DPoP`` header of the request (RFC 9449 4.3: exactly one).
        """
        if not proofs:
            return None
        if len(proofs) > 1:
            raise InvalidDPoPProofError("send exactly one DPoP header")
        proof = self._verified(proofs[0], self.url(path), self.clock())
        if not await self.replays.first_use(f"{proof.jkt}:{proof.jti}", proof.expires_at):
            raise InvalidDPoPProofError(
                "this DPoP proof was used before: make a new proof (a new jti) per request"
            )
        return proof.jkt

    def _verified(self, proof: str, htu: str, now: float) -> DPoPProof:
        nonces: tuple[str | None, ...] = (None,) if self.nonces is None else self.nonces.accepted()
        for nonce in nonces:
            try:
                return verify_proof(
                    proof, htm=_METHOD, htu=htu, now=now, algorithms=DPOP_ALGORITHMS, nonce=nonce
                )
            except DPoPNonceError:
                continue  # the previous slot's nonce may still be the one in the proof
            except DPoPProofError as exc:
                raise InvalidDPoPProofError(f"the DPoP proof is not valid: {exc}") from None
        # Only reached with nonces on: without, verify_proof is asked for no nonce.
        current = "" if self.nonces is None else self.nonces.current()
        raise UseDPoPNonceError(
            "this server requires a nonce in DPoP proofs: prove again with the DPoP-Nonce sent",
            current,
        )
