"""Where a guard gets its verification keys: the ``KeySource`` protocol and static keys.

The guard asks a key source for keys without I/O first (``cached``) and only calls the blocking
methods when it must: on first use, when the cache went stale, or when a token names a kid
it does not know. Blocking methods run in a worker thread for async callers, so a slow
issuer never stalls the event loop.
"""

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from jotauth import jose

__all__ = ["KeySource", "StaticKeySource", "as_key_set"]


@runtime_checkable
class KeySource(Protocol):
    """Supplies the current public key set."""

    def cached(self, now: float) -> jose.KeySet | None:
        """Keys usable right now without any I/O, or None when ``load`` must run first."""

    def load(self, now: float) -> jose.KeySet:
        """Fetch (or return) the keys, blocking; raise KeySourceError when there are none."""

    def load_unknown(self, kid: str | None, now: float) -> jose.KeySet:
        """A token named a kid not in the set: refetch unless rate-limited, return the set."""


def as_key_set(keys: jose.Key | jose.KeySet | Iterable[jose.Key]) -> jose.KeySet:
    """Public keys only: a guard never needs a private key, so private ones are reduced."""
    if isinstance(keys, jose.Key):
        keys = [keys]
    loaded = list(keys)
    if not loaded:
        raise ValueError("keys= needs at least one key")
    return jose.KeySet(
        key.public() if key.is_private and key.kty != "oct" else key for key in loaded
    )


class StaticKeySource:
    """A fixed key set (a shared HMAC secret, or public keys distributed with the service)."""

    __slots__ = ("keys",)

    def __init__(self, keys: jose.Key | jose.KeySet | Iterable[jose.Key]) -> None:
        self.keys = as_key_set(keys)

    def cached(self, now: float) -> jose.KeySet:
        return self.keys

    def load(self, now: float) -> jose.KeySet:
        return self.keys

    def load_unknown(self, kid: str | None, now: float) -> jose.KeySet:
        return self.keys
