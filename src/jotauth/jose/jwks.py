"""JWK Sets (RFC 7517 section 5): an immutable collection of keys looked up by ``kid``.

A token's ``kid`` is only ever a dictionary lookup here: it never becomes a path, a URL or a
query, and a key is never taken from the token itself (``jwk``, ``jku``, ``x5u``, ``x5c``).
A set may hold signature keys and encryption keys side by side (a service's own decryption
keys beside its issuers' verification keys); a lookup names the use it wants, and a key of the
other use never answers it.
"""

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, Final

from jotauth.jose._json import loads_object
from jotauth.jose.errors import InvalidKeyError, MalformedTokenError, NoMatchingKeyError
from jotauth.jose.jwk import Key

__all__ = ["KeySet"]

_RSA_FAMILY: Final = ("RS", "PS")


def _describe_kid(kid: str) -> str:
    return repr(kid if len(kid) <= 64 else kid[:61] + "...")


def _alg_for_rsa(default_alg: str | None, algorithms: Collection[str] | None) -> str:
    """The algorithm for an RSA JWK without ``alg`` (RFC 7517 makes it optional), or why none.

    Microsoft Entra ID, Amazon Cognito and Ping publish such keys. An RSA key fits six
    algorithms, so only the caller can say which: ``default_alg``, or ``algorithms=`` when it
    allows exactly one RSA algorithm. Anything else stays a refusal that says what to change.
    """
    if default_alg is not None:
        return default_alg
    if algorithms is None:
        raise InvalidKeyError(
            'this RSA key has no "alg" (RFC 7517 makes it optional) and RSA keys fit several '
            "algorithms: pass algorithms=['RS256'] (the one the issuer signs with)"
        )
    rsa = sorted(alg for alg in algorithms if alg[:2] in _RSA_FAMILY)
    if len(rsa) == 1:
        return rsa[0]
    if not rsa:
        raise InvalidKeyError(
            'this RSA key has no "alg" and algorithms= allows no RSA algorithm '
            f"(allowed: {', '.join(sorted(algorithms))})"
        )
    raise InvalidKeyError(
        f'this RSA key has no "alg" and algorithms= allows several RSA algorithms '
        f"({', '.join(rsa)}); narrow algorithms= to the one the issuer signs with"
    )


class KeySet:
    """Keys by ``kid``. Signature keys are all of one kind (HMAC secrets, private keys or public
    keys); encryption keys (``use == "enc"``) may be of any kind beside them.

    Two keys may not share a kid, since a lookup must have exactly one answer.
    """

    __slots__ = ("_by_kid", "_keys", "_skipped")

    def __init__(self, keys: Iterable[Key]) -> None:
        self._keys = tuple(keys)
        self._skipped: dict[str, str] = {}
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
            if key.use == "sig"
        }
        if len(kinds) > 1:
            raise InvalidKeyError(
                f"a key set must not mix {' and '.join(sorted(kinds))} keys: an HMAC secret beside "
                "public keys invites algorithm confusion, and private keys do not belong in a "
                "set of public ones"
            )

    @classmethod
    def from_jwks(
        cls,
        jwks: Mapping[str, Any] | str | bytes,
        *,
        default_alg: str | None = None,
        algorithms: Collection[str] | None = None,
        strict: bool = False,
    ) -> "KeySet":
        """Import a JWK Set.

        As RFC 7517 section 5 asks, keys that cannot be used (unknown ``kty``, missing members,
        too weak, no algorithm) are left out rather than failing the whole set, and a lookup of
        a left-out kid says why; ``strict=True`` raises instead. Keys for encryption
        (``"use": "enc"``) are loaded as JWE keys when they name their ``alg``; one that cannot
        be loaded is left out even with ``strict=True`` (published encryption keys often omit
        ``alg``, and a verifier never needs them). ``default_alg`` binds RSA signature keys that
        carry no ``alg`` (some issuers omit it).

        RSA signature keys without ``alg`` (Entra ID, Cognito, Ping omit it) are bound to
        ``default_alg``, or else to the one RSA algorithm ``algorithms`` allows; EC and Edwards
        keys are bound by their curve. With ``algorithms``, signature keys that could verify none
        of them are left out too.
        """
        if isinstance(jwks, str | bytes):
            try:
                jwks = loads_object(jwks.encode("utf-8") if isinstance(jwks, str) else jwks, "JWKS")
            except (MalformedTokenError, UnicodeEncodeError):
                raise InvalidKeyError("the JWK Set is not a JSON object") from None
        if not isinstance(jwks, Mapping):
            raise InvalidKeyError("a JWK Set must be a JSON object")
        if isinstance(algorithms, str):
            algorithms = (algorithms,)
        entries = jwks.get("keys")
        if not isinstance(entries, list):
            raise InvalidKeyError('a JWK Set needs a "keys" array')
        keys, skipped = [], {}
        for index, entry in enumerate(entries):
            for_encryption = isinstance(entry, Mapping) and entry.get("use") == "enc"
            try:
                alg = None
                if (
                    isinstance(entry, Mapping)
                    and not for_encryption
                    and "alg" not in entry
                    and entry.get("kty") == "RSA"
                ):
                    alg = _alg_for_rsa(default_alg, algorithms)
                key = Key.from_jwk(entry, alg)
                if (
                    algorithms is not None
                    and key.use == "sig"
                    and not any(key.accepts(name) for name in algorithms)
                ):
                    raise InvalidKeyError(
                        f"it is for {key.alg}, which algorithms= does not allow "
                        f"(allowed: {', '.join(sorted(algorithms))})"
                    )
                keys.append(key)
            except InvalidKeyError as exc:
                if strict and not for_encryption:
                    raise
                kid = entry.get("kid") if isinstance(entry, Mapping) else None
                kid = kid if type(kid) is str else f"#{index}"
                if kid in skipped:
                    raise InvalidKeyError(f"two keys share the kid {_describe_kid(kid)}") from None
                skipped[kid] = str(exc)
        if not skipped.keys().isdisjoint(key.kid for key in keys):
            # A kid must have one answer even when one of its keys could not be loaded.
            raise InvalidKeyError("two keys of the JWK Set share a kid")
        key_set = cls(keys)
        key_set._skipped = skipped
        return key_set

    @property
    def skipped(self) -> Mapping[str, str]:
        """Keys of the JWK Set that were left out, by kid (or ``#index``), with the reason."""
        return dict(self._skipped)

    def to_jwks(self) -> dict[str, Any]:
        """The public JWK Set, as published at a ``jwks_uri``."""
        return {"keys": [key.to_jwk() for key in self._keys]}

    def get(self, kid: str) -> Key:
        """The key with this kid, or NoMatchingKeyError."""
        try:
            return self._by_kid[kid]
        except (KeyError, TypeError):
            if kid in self._skipped:
                raise NoMatchingKeyError(
                    f"key {_describe_kid(kid)} is in the JWK Set but was not loaded: "
                    f"{self._skipped[kid]}"
                ) from None
            raise NoMatchingKeyError(
                f"no key with kid {_describe_kid(str(kid))} in the key set "
                f"(known: {', '.join(_describe_kid(k) for k in list(self._by_kid)[:8])})"
            ) from None

    def select(self, alg: str, kid: str | None, *, use: str = "sig", enc: str | None = None) -> Key:
        """The key for a token: by kid when the token names one, else the only key for ``alg``
        (and, for ``use="enc"``, the token's ``enc``). A key of another use never answers."""
        if kid is not None:
            key = self.get(kid)
            if key.use != use:
                what = "an encryption key" if key.use == "enc" else "a signature key"
                raise NoMatchingKeyError(
                    f"key {_describe_kid(kid)} is {what}; it cannot "
                    f"{'verify a signature' if use == 'sig' else 'decrypt'}"
                )
            return key
        candidates = [
            key
            for key in self._keys
            if key.use == use
            and (key.accepts(alg) if use == "sig" else key.alg == alg)
            and (key.enc is None or enc is None or key.enc == enc)
        ]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            left_out = "; ".join(
                f"{_describe_kid(kid)}: {reason}" for kid, reason in list(self._skipped.items())[:4]
            )
            raise NoMatchingKeyError(
                f"the token has no kid and no key in the set is for {alg}"
                + (f" (left out of the JWK Set: {left_out})" if left_out else "")
            )
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
