"""What a verified principal may do on a route: its scopes, the clients and tiers a route admits,
and the client's rate limit (``Guard.admit``, ``Guard.authorize``).

A base class of ``Guard`` rather than a part of ``guard.py``: verifying a token (who speaks)
and admitting it to a route (what it may do there) are two concerns, and the second one
needs of the guard only its refusal counter (``_count``) and its ``rate_limiter``.
"""

from collections.abc import Callable, Collection, Iterable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from jotauth import jose
from jotauth.errors import JotauthError
from jotauth.guard.access import AccessRule
from jotauth.guard.errors import InsufficientScopeError
from jotauth.guard.principal import Principal, parse_requirement

if TYPE_CHECKING:
    from jotauth.guard.ratelimit import ClientRateLimiter

__all__ = ["Admission"]

_COUNTED: Final = "jotauth.rate_counted"
"""The request-state key (ASGI scope, WSGI environ) saying its request was counted once."""


class Admission:
    """Route admission for ``Guard``: scopes, clients and tiers, the per-client rate limit."""

    rate_limiter: "ClientRateLimiter | None"

    def _count(self, exc: JotauthError) -> None:
        """Count a refusal (``Guard`` keeps the counters)."""
        raise NotImplementedError

    def authorize(self, principal: Principal, requirements: Sequence[str]) -> None:
        """Raise InsufficientScopeError unless ``principal`` meets every requirement.

        A grant claim of a shape the guard cannot read (``scope``, ``roles``, ``permissions``)
        is an ``InvalidClaimError`` here, when a requirement needs it, not at authentication.
        """
        try:
            granted = principal.granted_scopes  # computed once per cached principal
            for requirement in requirements:
                if requirement not in granted:
                    break
            else:
                return  # every requirement is a scope the token grants: the common case
            missing = principal.missing(requirements)
        except jose.ClaimError as exc:
            self._count(exc)
            raise
        if missing:
            error = InsufficientScopeError(missing)
            self._count(error)
            raise error

    def rule(
        self,
        requirements: Iterable[str] = (),
        *,
        clients: Collection[str] | None = None,
        tiers: Collection[str] | None = None,
    ) -> AccessRule:
        """A route's requirements, checked once at definition (``ValueError`` if malformed)."""
        return AccessRule.build(self.check_requirements(requirements), clients, tiers)

    def admit_sync(
        self, principal: Principal, rule: AccessRule, state: MutableMapping[str, Any]
    ) -> None:
        """Apply ``rule`` (scopes, clients, tiers) and the client's rate limit to a request.

        ``state`` is the request's scope or environ: a request seen by two adapters (the
        middleware and a route's dependency) is counted against the limit once.
        """
        self._check_rule(principal, rule)
        counted = self._to_count(principal, state)
        if counted is not None and self.rate_limiter is not None:
            self._limit(self.rate_limiter.hit, *counted)

    async def admit(
        self, principal: Principal, rule: AccessRule, state: MutableMapping[str, Any]
    ) -> None:
        """Async twin of ``admit_sync``: a limiter that does I/O (Redis) runs in a thread."""
        self._check_rule(principal, rule)
        counted = self._to_count(principal, state)
        limiter = self.rate_limiter
        if counted is None or limiter is None:
            return
        if not limiter.blocking:
            self._limit(limiter.hit, *counted)
            return
        import anyio.to_thread  # a dependency of httpx

        await anyio.to_thread.run_sync(self._limit, limiter.hit, *counted)

    def _check_rule(self, principal: Principal, rule: AccessRule) -> None:
        if rule.scopes:
            self.authorize(principal, rule.scopes)
        if rule.clients is not None or rule.tiers is not None:
            try:
                rule.check_client(principal)
            except JotauthError as exc:
                self._count(exc)
                raise

    def _to_count(
        self, principal: Principal, state: MutableMapping[str, Any]
    ) -> tuple[str, int, int] | None:
        if self.rate_limiter is None or state.get(_COUNTED):
            return None
        from jotauth.guard.ratelimit import limit_of

        try:
            found = limit_of(principal.claims)
        except jose.ClaimError as exc:
            self._count(exc)
            raise
        if found is None:
            return None
        state[_COUNTED] = True
        return principal.client_id or principal.sub, *found

    def _limit(self, hit: Callable[[str, int, int], None], *counted: Any) -> None:
        try:
            hit(*counted)
        except JotauthError as exc:
            self._count(exc)
            raise

    @staticmethod
    def check_requirements(requirements: Iterable[str]) -> tuple[str, ...]:
        """Validate requirement strings once, at route definition time."""
        checked = tuple(requirements)
        for requirement in checked:
            if not requirement.strip():
                raise ValueError("requirements are non-empty strings like 'articles:read'")
            parse_requirement(requirement)
        return checked
