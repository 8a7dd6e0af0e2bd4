"""Whose session a presented refresh token belongs to, before the refresh runs.

A refresh token is opaque: only the issuer's store knows its family (session) and user. The
per-account refresh limit must refuse a locked user or family *before* the token is rotated,
so the rate-limit middleware asks the store here: one indexed lookup by the token's hash,
in a worker thread. A token the store does not know has no owner (its family cannot be
known); such attempts are paced by the per-IP bucket alone, and guessing a 256-bit token is
hopeless anyway.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import anyio.to_thread

from jotauth.issuer.services.tokens import hash_refresh

__all__ = ["Owner", "OwnerLookup", "store_owner_lookup"]

# The issuer refuses refresh tokens outside these lengths without looking them up.
_MIN_LENGTH: Final = 20
_MAX_LENGTH: Final = 128


@dataclass(frozen=True)
class Owner:
    """The user and refresh family (the ``sid`` claim) a refresh token belongs to."""

    user_id: str
    family_id: str


OwnerLookup = Callable[[str], Awaitable[Owner | None]]


def store_owner_lookup(store: Any) -> OwnerLookup | None:
    """A lookup over the issuer's store, or None when ``store`` cannot find refresh tokens."""
    find = getattr(store, "find_refresh", None)
    if not callable(find):
        return None

    def lookup_sync(token: str) -> Owner | None:
        found = find(hash_refresh(token))
        if found is None:
            return None
        family = found[1]
        return Owner(str(family.user_id), str(family.id))

    async def lookup(token: str) -> Owner | None:
        if not _MIN_LENGTH <= len(token) <= _MAX_LENGTH:
            return None
        return await anyio.to_thread.run_sync(lookup_sync, token)

    return lookup
