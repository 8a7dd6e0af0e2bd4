"""DPoP at the issuer (RFC 9449): which key a token request proves, if any.

The token endpoint, ``/login`` and ``/refresh`` take a ``DPoP`` header. Its proof is checked
by ``jotauth.jose.dpop.verify_proof`` against this server's own URL for the endpoint, built
from ``JOTAUTH_ISSUER`` (never from the ``Host`` header, which a client or a proxy chooses),
with method ``POST``; its ``jti`` must not have been seen before within the proof's lifetime
(the replay cache: memory, or Redis shared by every instance); with ``JOTAUTH_DPOP_NONCE`` it
must carry a nonce this server handed out (stateless, ``guard.dpop_nonce``). What comes out is the
key's RFC 7638 thumbprint, which the token services put in ``cnf.jkt`` and bind refresh
sessions to. Every refusal is an ``IssuerError``: 400 ``invalid_dpop_proof`` or
``use_dpop_nonce``, or a retryable 503 when the replay cache cannot answer (fail closed).
"""

from collections.abc import Callable, Sequence
from typing import Final

import anyio.to_thread

from jotauth import jose
from jotauth.guard.dpop_nonce import NonceSource
from jotauth.guard.dpop_replay import ReplayCache
from jotauth.guard.errors import ReplayCheckError
from jotauth.issuer.errors import InvalidDPoPProofError, IssuerError, UseDPoPNonceError
from jotauth.jose.dpop import DEFAULT_DPOP_ALGS, DPoPProof, verify_proof
from jotauth.jose.errors import DPoPProofError

__all__ = ["DPOP_ALGORITHMS", "DPoPChecks", "Proof", "ReplayUnavailableError", "require_proof"]

DPOP_ALGORITHMS: Final = DEFAULT_DPOP_ALGS
"""The algorithms a proof may be signed with (discovery's
``dpop_signing_alg_values_supported``): every asymmetric one jotauth verifies."""
_METHOD: Final = "POST"


class ReplayUnavailableError(IssuerError):
    """The replay cache cannot say whether a proof is new (Redis away, or full): refused
    (fail closed) with a retryable 503 rather than accepted unchecked."""

    code = "temporarily_unavailable"
    status = 503


def require_proof(jkt: str | None, required: bool) -> None:
    """InvalidDPoPProofError when a client registered ``dpop_bound_access_tokens`` (RFC 9449
    5.2) asks for tokens without a proof: it only ever gets sender-constrained ones."""
    if required and jkt is None:
        raise InvalidDPoPProofError(
            "this client must send a DPoP proof with every token request "
            "(it is registered with dpop_bound_access_tokens)"
        )


class Proof:
    """A request's verified DPoP proof: the key it proves (``jkt``) and the replay check still
    to make (``spend``, once; a replay is InvalidDPoPProofError)."""

    def __init__(self, checks: "DPoPChecks", proof: DPoPProof) -> None:
        self.jkt = proof.jkt
        self._checks = checks
        self._proof = proof
        self.spent = False

    async def spend(self) -> None:
        """Record the proof's ``jti``; refused if it was seen before (first call only)."""
        if self.spent:
            return
        self.spent = True
        if await self._checks._seen(self._proof):
            raise InvalidDPoPProofError(
                "this DPoP proof was used before: make a new proof (a new jti) per request"
            )


class DPoPChecks:
    """Verifies the ``DPoP`` header of the issuer's token-issuing endpoints.

    ``replays`` and ``nonces`` are the guard's (``jotauth.guard.dpop_replay``,
    ``jotauth.guard.dpop_nonce``): one implementation of each for resource servers and the
    issuer. ``nonces`` None: no nonce is asked for.
    """

    def __init__(
        self,
        issuer: str,
        *,
        replays: ReplayCache,
        nonces: NonceSource | None,
        clock: Callable[[], float],
    ) -> None:
        self.issuer = issuer
        self.replays = replays
        self.nonces = nonces
        self.clock = clock

    def url(self, path: str) -> str:
        """The external URL of the endpoint at ``path`` (what ``htu`` must name)."""
        return self.issuer + path

    def nonce_headers(self) -> dict[str, str]:
        """``DPoP-Nonce`` for a response when nonces are on (RFC 9449 8.2: a server may send
        a fresh one with any answer, so a client learns the next one without a failure)."""
        return {} if self.nonces is None else {"DPoP-Nonce": self.nonces.current(self.clock())}

    def proof_of(self, proofs: Sequence[str], *, path: str) -> "Proof | None":
        """The request's verified proof, its ``jti`` not yet recorded; None when it sends none.

        ``proofs``: every ``DPoP`` header of the request (RFC 9449 4.3: exactly one). The
        replay check is ``Proof.spend``, which the use cases call once the caller has
        authenticated (a password, a client's credentials, a live refresh token): a proof
        anyone can make for a key of their own must not fill the replay cache, or a flood of
        them would turn DPoP off (the cache refuses every proof when full).
        """
        if not proofs:
            return None
        if len(proofs) > 1:
            raise InvalidDPoPProofError("send exactly one DPoP header")
        return Proof(self, self._verified(proofs[0], self.url(path), self.clock()))

    async def _seen(self, proof: DPoPProof) -> bool:
        replays = self.replays
        try:
            if replays.blocking:  # Redis: off the event loop
                return await anyio.to_thread.run_sync(
                    replays.seen, proof.jti, proof.jkt, proof.expires_at
                )
            return replays.seen(proof.jti, proof.jkt, proof.expires_at)
        except ReplayCheckError as exc:
            raise ReplayUnavailableError(str(exc)) from None

    def _verified(self, proof: str, htu: str, now: float) -> DPoPProof:
        nonce = None if self.nonces is None else _nonce(self.nonces, proof, now)
        try:
            return verify_proof(
                proof, htm=_METHOD, htu=htu, now=now, algorithms=DPOP_ALGORITHMS, nonce=nonce
            )
        except DPoPProofError as exc:
            raise InvalidDPoPProofError(f"the DPoP proof is not valid: {exc}") from None


def _nonce(nonces: NonceSource, proof: str, now: float) -> str:
    """The proof's nonce if it is one this server accepts now, else UseDPoPNonceError
    (checked before the signature: the answer to a missing nonce is a nonce anyway)."""
    try:
        claimed = jose.peek_claims(proof).get("nonce")
    except (jose.JoseError, ValueError):
        raise InvalidDPoPProofError("the DPoP proof is not a well-formed JWT") from None
    if isinstance(claimed, str) and len(claimed) <= 256 and nonces.accepts(claimed, now):
        return claimed
    raise UseDPoPNonceError(
        "this server requires a nonce in DPoP proofs: prove again with the DPoP-Nonce sent",
        nonces.current(now),
    )
