"""JWK Sets (RFC 7517 section 5): an immutable collection of keys looked up by ``kid``.

A token's ``kid`` is only ever a dictionary lookup here: it never becomes a path, a URL or a
query, and a key is never taken from the token itself (``jwk``, ``jku``, ``x5u``, ``x5c``).
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jotauth.jose._json import loads_object
from jotauth.jose.errors import InvalidKeyError, MalformedTokenError, NoMatchingKeyError
from jotauth.jose.jwk import Key

__all__ = ["KeySet"]


def _describe_kid(kid: str) -> str:
    return repr(kid if len(kid) <= 64 else kid[:61] + "...")


class KeySet:
    """Keys by ``kid``, all of one kind (HMAC secrets, private keys or public keys).

    Two keys may not share a kid, since a lookup must have exactly one answer.
    """

    __slots__ = ("_by_kid", "_keys")

    def __init__(self, keys: Iterable[Key]) -> None:
        self._keys = tuple(keys)
        self._by_kid: dict[str, Key] = {}
        for key in self._keys:
            if not isinstance(key, Key):
                raise InvalidKeyError("a KeySet holds jose.Key objects")
            if key.kid in self._by_kid:
                raise InvalidKeyError(f"two keys share the kid {_describe_kid(key.kid)}")
            self._by_kid[key.kid] = key
        kinds = {
            "secret" if key.kty == "oct" else "private" if key.is_private else "public"
            for key in self._keys
        }
        if len(kinds) > 1:
            raise InvalidKeyError(
                f"a key set must not mix {' and '.join(sorted(kinds))} keys: an HMAC secret beside "
                "public keys invites algorithm confusion, and private keys do not belong in a "
                "set of public ones"
            )

    @classmethod
    def from_jwks(
        cls, jwks: Mapping[str, Any] | str | bytes, *, default_alg: str | None = None
    ) -> "KeySet":
        """Import a JWK Set.

        Keys meant for encryption (``"use": "enc"``) are skipped, since they are not for us;
        every other key must load. ``default_alg`` binds RSA keys that carry no ``alg`` (some
        issuers omit it); without it such a key is an error.
        """
        if isinstance(jwks, str | bytes):
            try:
                jwks = loads_object(jwks.encode("utf-8") if isinstance(jwks, str) else jwks, "JWKS")
            except (MalformedTokenError, UnicodeEncodeError):
                raise InvalidKeyError("the JWK Set is not a JSON object") from None
        if not isinstance(jwks, Mapping):
            raise InvalidKeyError("a JWK Set must be a JSON object")
        entries = jwks.get("keys")
        if not isinstance(entries, list):
            raise InvalidKeyError('a JWK Set needs a "keys" array')
        keys = []
        for entry in entries:
            if isinstance(entry, Mapping) and entry.get("use") == "enc":
                continue
            alg = None
            if isinstance(entry, Mapping) and "alg" not in entry and entry.get("kty") == "RSA":
                alg = default_alg
            keys.append(Key.from_jwk(entry, alg))
        return cls(keys)

    def to_jwks(self) -> dict[str, Any]:
        """The public JWK Set, as published at a ``jwks_uri``."""
        return {"keys": [key.to_jwk() for key in self._keys]}

    def get(self, kid: str) -> Key:
        """The key with this kid, or NoMatchingKeyError."""
        try:
            return self._by_kid[kid]
        except (KeyError, TypeError):
            raise NoMatchingKeyError(
                f"no key with kid {_describe_kid(str(kid))} in the key set "
                f"(known: {', '.join(_describe_kid(k) for k in list(self._by_kid)[:8])})"
            ) from None

    def select(self, alg: str, kid: str | None) -> Key:
        """The key for a token: by kid when the token names one, else the only key for ``alg``."""
        if kid is not None:
            return self.get(kid)
        candidates = [key for key in self._keys if key.alg == alg]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise NoMatchingKeyError(f"the token has no kid and no key in the set is for {alg}")
        raise NoMatchingKeyError(
            f"the token has no kid and {len(candidates)} keys are for {alg}; "
            "tokens must name their kid"
        )

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def __repr__(self) -> str:
        return f"KeySet({[key.kid for key in self._keys]!r})"
