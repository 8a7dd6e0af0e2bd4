"""What a route requires of a token beyond a valid signature: scopes, clients, tiers.

One compiled ``AccessRule`` per route, checked by ``Guard.admit`` for every adapter (ASGI,
FastAPI, Flask, WSGI), so a rule means the same wherever it is declared. ``clients`` names
the ``client_id`` values allowed (API clients, "validated at the gateway"); ``tiers`` the
``tier`` claim values. A token matching neither is 403 ``client_not_allowed``.
"""

from collections.abc import Collection
from dataclasses import dataclass

from jotauth.guard.errors import ClientNotAllowedError
from jotauth.guard.principal import Principal

__all__ = ["AccessRule"]


def _names(values: Collection[str] | None, what: str) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = (values,)
    names = frozenset(values)
    if not names or not all(names):
        raise ValueError(f"{what}= needs non-empty strings (None: any {what[:-1]})")
    return names


@dataclass(frozen=True)
class AccessRule:
    """``scopes`` (every one required), ``clients`` / ``tiers`` (one of, when given)."""

    scopes: tuple[str, ...] = ()
    clients: frozenset[str] | None = None
    tiers: frozenset[str] | None = None

    @classmethod
    def build(
        cls,
        scopes: tuple[str, ...],
        clients: Collection[str] | None = None,
        tiers: Collection[str] | None = None,
    ) -> "AccessRule":
        """A rule; ValueError (at route definition) for an empty ``clients``/``tiers``."""
        return cls(scopes, _names(clients, "clients"), _names(tiers, "tiers"))

    def check_client(self, principal: Principal) -> None:
        """ClientNotAllowedError unless the token's client and tier are allowed."""
        if self.clients is not None and principal.client_id not in self.clients:
            raise ClientNotAllowedError("this route does not serve the token's client")
        if self.tiers is not None and principal.tier not in self.tiers:
            raise ClientNotAllowedError(
                "this route serves the tiers " + ", ".join(sorted(self.tiers)) + " only"
            )
