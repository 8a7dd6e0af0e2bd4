"""The JWE decrypter: header checks, key resolution and the per-header plan (``jose.jwe``'s core).

``Decrypter`` is documented in ``jotauth.jose.jwe``, which re-exports it; this module holds it
so that the public module stays the size of one concern (encrypting and the one-shot calls).
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jotauth.jose import algorithms as _jws_algorithms, jws
from jotauth.jose._b64 import b64decode
from jotauth.jose._json import loads_object
from jotauth.jose._jwe import deflate, pbes2, registry
from jotauth.jose._jwe.content import ContentEncryption
from jotauth.jose.errors import (
    AlgorithmNotAllowedError,
    CriticalHeaderError,
    DecryptionError,
    InvalidKeyError,
    MalformedTokenError,
    NoMatchingKeyError,
    TokenTooLargeError,
    UnsupportedAlgorithmError,
)
from jotauth.jose.jwk import Key
from jotauth.jose.jwks import KeySet

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "DEFAULT_MAX_P2C",
    "DEFAULT_MAX_SIZE",
    "Decrypted",
    "Decrypter",
    "joint",
    "split",
]

DEFAULT_MAX_SIZE: Final = jws.DEFAULT_MAX_SIZE
# PBKDF2 iterations a token may ask for: a few ms of HMAC on one core. RFC 7518 asks for
# at least 1000; a password-encrypted token that wants more must be allowed by the caller.
DEFAULT_MAX_P2C: Final = 10_000
DEFAULT_MAX_DECOMPRESSED_SIZE: Final = 256 * 1024
_PLAN_MEMO_SIZE: Final = 64
# plan(encrypted_key, iv, ciphertext, tag, aad) -> plaintext, for one resolved header
_Plan = Callable[[bytes, bytes, bytes, bytes, bytes], bytes]


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A decrypted JWE JSON serialization: the plaintext and the headers it came with.

    ``protected`` was integrity protected; ``unprotected`` (shared) and ``recipient`` (the
    per-recipient header that decrypted) were not, so decide nothing on them.
    """

    plaintext: bytes
    protected: dict[str, Any]
    unprotected: dict[str, Any] = field(default_factory=dict)
    recipient: dict[str, Any] = field(default_factory=dict)
    aad: bytes | None = None

    @property
    def header(self) -> dict[str, Any]:
        """The JOSE header: the union of the three (RFC 7516 section 7.2.1)."""
        return {**self.unprotected, **self.recipient, **self.protected}


def split(token: object, max_size: int) -> list[bytes]:
    """The five segments of a compact JWE, size checked before anything else."""
    parts = jws.token_bytes(token, max_size).split(b".")
    if len(parts) != 5:
        if len(parts) == 3:
            raise MalformedTokenError(
                "this looks like a signed JWS (3 segments); expected an encrypted JWE"
            )
        raise MalformedTokenError(
            "a compact JWE has 5 dot-separated segments "
            f"(header.encrypted_key.iv.ciphertext.tag); this has {len(parts)}"
        )
    return parts


def _names(values: Collection[str] | None, known: Mapping[str, Any], what: str) -> Any:
    if values is None:
        return None
    if isinstance(values, str):
        values = (values,)
    allowed = frozenset(values)
    if not allowed:
        raise ValueError(f"{what} must name at least one (or be None: the key decides)")
    for name in allowed:
        if name not in known:
            raise UnsupportedAlgorithmError(
                f"unsupported {what} {name!r:.32}; supported: {', '.join(known)}"
            )
    return allowed


def _check_header(header: Mapping[str, Any], protected: Mapping[str, Any]) -> None:
    """The rules for a joint JOSE header that do not depend on the key."""
    if "alg" not in header:
        raise MalformedTokenError('the JWE header has no "alg"')
    if "enc" not in header:
        raise MalformedTokenError('the JWE header has no "enc"')
    if "crit" in header:
        crit = header["crit"]
        if "crit" not in protected:
            raise MalformedTokenError('"crit" must be in the protected header')
        if not isinstance(crit, list) or not crit or not all(type(n) is str for n in crit):
            raise MalformedTokenError('"crit" must be a non-empty array of strings')
        raise CriticalHeaderError(
            f"unsupported critical header parameter(s): {', '.join(repr(n[:32]) for n in crit[:4])}"
        )
    if "zip" in header and "zip" not in protected:
        raise MalformedTokenError('"zip" must be in the protected header (RFC 7516 4.1.3)')
    kid = header.get("kid")
    if kid is not None and type(kid) is not str:
        raise MalformedTokenError('"kid" must be a string')


class Decrypter:
    """Decrypt JWEs with fixed private keys (or secrets) and fixed options.

    ``algorithms`` narrows the key-management algorithms accepted; ``None`` means whatever the
    key is bound to, except ``RSA1_5`` and ``PBES2-*``, which are accepted only when named here
    (explicit opt-in). ``encryptions`` narrows ``enc`` likewise. ``max_p2c`` caps the PBES2
    iteration count a token may ask for. ``compression=True`` accepts ``zip: DEF`` and inflates
    at most ``max_decompressed_size`` bytes.
    """

    __slots__ = (
        "_algorithms",
        "_compression",
        "_encryptions",
        "_keys",
        "_max_inflated",
        "_max_p2c",
        "_max_size",
        "_plans",
    )

    def __init__(
        self,
        keys: Key | KeySet | Iterable[Key],
        *,
        algorithms: Collection[str] | None = None,
        encryptions: Collection[str] | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
        max_p2c: int = DEFAULT_MAX_P2C,
        compression: bool = False,
        max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
    ) -> None:
        if isinstance(keys, str | bytes | Mapping):
            raise InvalidKeyError("pass a jose.Key or jose.KeySet (load keys with Key.from_jwk)")
        self._keys: Key | KeySet = keys if isinstance(keys, Key | KeySet) else KeySet(keys)
        self._algorithms: frozenset[str] | None = _names(
            algorithms, registry.KEY_MANAGEMENT, "JWE algorithm"
        )
        self._encryptions: frozenset[str] | None = _names(
            encryptions, registry.CONTENT, "JWE content encryption"
        )
        self._max_size = max_size
        self._max_p2c = max_p2c
        self._compression = compression
        self._max_inflated = max_decompressed_size
        self._plans: dict[bytes, tuple[dict[str, Any], _Plan]] = {}

    # -- key resolution -------------------------------------------------------------------

    def _resolve(self, header: Mapping[str, Any]) -> tuple[Key, ContentEncryption]:
        """The key that must decrypt this header's content, and its content encryption."""
        alg = header["alg"]
        if type(alg) is str and alg in _jws_algorithms.ALGORITHMS:
            raise UnsupportedAlgorithmError(
                f'"{alg}" is a signature algorithm; a JWE needs a key-management "alg"'
            )
        management = registry.get(alg)
        content = registry.content(header["enc"])
        if self._algorithms is None:
            if management.opt_in:
                raise AlgorithmNotAllowedError(management.opt_in)
        elif alg not in self._algorithms:
            raise AlgorithmNotAllowedError(
                f"JWE algorithm {alg} is not allowed here; allowed: "
                f"{', '.join(sorted(self._algorithms))}"
            )
        if self._encryptions is not None and content.name not in self._encryptions:
            raise AlgorithmNotAllowedError(
                f"content encryption {content.name} is not allowed here; allowed: "
                f"{', '.join(sorted(self._encryptions))}"
            )
        if "zip" in header:
            if header["zip"] != "DEF":
                raise UnsupportedAlgorithmError(
                    f'unsupported "zip" {str(header["zip"])[:16]!r}; only "DEF" is defined'
                )
            if not self._compression:
                raise AlgorithmNotAllowedError(
                    'compressed content ("zip": "DEF") is refused unless compression=True: '
                    "decompression bombs, and compression leaks the plaintext through its length"
                )
        if alg.startswith("PBES2"):
            pbes2.iteration_count(header, self._max_p2c)
        keys = self._keys
        if isinstance(keys, Key):
            key = keys
        else:
            key = keys.select(alg, header.get("kid"), use="enc", enc=content.name)
        if key.alg != alg:
            raise AlgorithmNotAllowedError(
                f"the token is encrypted with {alg}, but key {key.kid!r} is bound to {key.alg}"
            )
        if key.enc is not None and key.enc != content.name:
            raise AlgorithmNotAllowedError(
                f"the token's content is {content.name}, but key {key.kid!r} is bound to {key.enc}"
            )
        if key.unwrap_fn is None:
            raise InvalidKeyError(
                f"key {key.kid!r} is a public key; decrypting needs the private key"
                if key.use == "enc"
                else f"key {key.kid!r} is a signature key; it cannot decrypt"
            )
        return key, content

    def _plan(self, header: dict[str, Any]) -> _Plan:
        """The decryption of content under ``header``, with the key resolved once."""
        key, content = self._resolve(header)
        unwrap = key.unwrap_fn
        assert unwrap is not None  # noqa: S101 - _resolve checked it
        inflate_to = self._max_inflated if "zip" in header else None
        if key.alg == "dir":
            decrypt_content = content.decrypter(unwrap(content, header, b""))

            def plan_direct(
                encrypted_key: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes
            ) -> bytes:
                if encrypted_key:
                    raise DecryptionError()
                plaintext = decrypt_content(iv, ciphertext, tag, aad)
                return plaintext if inflate_to is None else deflate.inflate(plaintext, inflate_to)

            return plan_direct
        decrypter = content.decrypter

        def plan(
            encrypted_key: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes
        ) -> bytes:
            cek = unwrap(content, header, encrypted_key)
            plaintext = decrypter(cek)(iv, ciphertext, tag, aad)
            return plaintext if inflate_to is None else deflate.inflate(plaintext, inflate_to)

        return plan

    def _compiled(self, segment: bytes) -> tuple[dict[str, Any], _Plan]:
        header = loads_object(b64decode(segment), "JWE header")
        _check_header(header, header)
        plan = self._plan(header)
        management = registry.KEY_MANAGEMENT[header["alg"]]
        if not management.header_params:  # the same header segment always means the same
            if len(self._plans) >= _PLAN_MEMO_SIZE:
                self._plans.clear()
            self._plans[segment] = (header, plan)
        return header, plan

    # -- compact -------------------------------------------------------------------------

    def decrypt_compact(self, token: str | bytes) -> tuple[dict[str, Any], bytes]:
        """``(protected header, plaintext)`` of a compact JWE, or the JoseError saying why not."""
        if type(token) is str and len(token) <= self._max_size and token.isascii():
            parts = token.encode("ascii").split(b".")
        else:
            parts = []
        if len(parts) != 5:
            parts = split(token, self._max_size)
        protected, encrypted_key, iv, ciphertext, tag = parts
        header, plan = self._plans.get(protected) or self._compiled(protected)
        plaintext = plan(
            b64decode(encrypted_key),
            b64decode(iv),
            b64decode(ciphertext),
            b64decode(tag),
            protected,
        )
        return header, plaintext

    def decrypt(self, token: str | bytes) -> bytes:
        """The plaintext of a compact JWE."""
        return self.decrypt_compact(token)[1]

    # -- JSON ----------------------------------------------------------------------------

    def decrypt_json(self, data: str | bytes) -> Decrypted:
        """Decrypt the JWE JSON serialization (general or flattened) for whichever recipient
        one of our keys fits.

        Recipients that name no key of ours, or an algorithm not allowed here, are passed
        over; if none is left the error of the first one is raised. Recipients whose key does
        not decrypt the content are passed over too, and if no recipient decrypts, the result
        is the one ``DecryptionError``.
        """
        if not isinstance(data, str | bytes):
            raise MalformedTokenError("a JWE JSON serialization must be a str or bytes")
        if len(data) > self._max_size:
            raise TokenTooLargeError(f"token is over the size limit of {self._max_size} bytes")
        raw = data.encode("utf-8") if isinstance(data, str) else data
        document = loads_object(raw, "JWE JSON serialization")
        protected_segment = _segment(document, "protected", required=False)
        protected = (
            loads_object(b64decode(protected_segment), "JWE protected header")
            if protected_segment
            else {}
        )
        unprotected = _object(document, "unprotected")
        recipients = _recipients(document)
        iv = b64decode(_segment(document, "iv", required=True))
        ciphertext = b64decode(_segment(document, "ciphertext", required=True))
        tag = b64decode(_segment(document, "tag", required=True))
        aad_segment = _segment(document, "aad", required=False)
        aad = protected_segment if aad_segment is None else protected_segment + b"." + aad_segment
        first_error: Exception | None = None
        tried = False
        for recipient_header, encrypted_key in recipients:
            header = joint(protected, unprotected, recipient_header)
            _check_header(header, protected)
            try:
                key, content = self._resolve(header)
            except (NoMatchingKeyError, AlgorithmNotAllowedError, InvalidKeyError) as exc:
                first_error = first_error or exc
                continue
            if registry.KEY_MANAGEMENT[key.alg].direct and len(recipients) > 1:
                raise MalformedTokenError(
                    f"{key.alg} makes the content key itself; it cannot be one of many recipients"
                )
            tried = True
            unwrap = key.unwrap_fn
            assert unwrap is not None  # noqa: S101 - _resolve checked it
            try:
                cek = unwrap(content, header, encrypted_key)
                plaintext = content.decrypt(cek, iv, ciphertext, tag, aad)
            except DecryptionError:
                continue
            if "zip" in header:
                plaintext = deflate.inflate(plaintext, self._max_inflated)
            return Decrypted(
                plaintext,
                protected,
                dict(unprotected),
                dict(recipient_header),
                None if aad_segment is None else b64decode(aad_segment),
            )
        if tried or first_error is None:
            raise DecryptionError()
        raise first_error


def _segment(document: Mapping[str, Any], name: str, *, required: bool) -> Any:
    value = document.get(name)
    if value is None:
        if required:
            raise MalformedTokenError(f'the JWE JSON serialization has no "{name}"')
        return None if name == "aad" else b""
    if type(value) is not str or not value.isascii():
        raise MalformedTokenError(f'"{name}" must be a base64url string')
    return value.encode("ascii")


def _object(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    if value is None:
        return {}
    if type(value) is not dict:
        raise MalformedTokenError(f'"{name}" must be a JSON object')
    return value


def _recipients(document: Mapping[str, Any]) -> list[tuple[dict[str, Any], bytes]]:
    """``(per-recipient header, encrypted key)`` for each recipient, general or flattened."""
    if "recipients" in document:
        if "encrypted_key" in document or "header" in document:
            raise MalformedTokenError(
                'a JWE JSON serialization has "recipients" or a flattened recipient, not both'
            )
        entries = document["recipients"]
        if not isinstance(entries, list) or not entries:
            raise MalformedTokenError('"recipients" must be a non-empty array')
    else:
        entries = [{k: document[k] for k in ("header", "encrypted_key") if k in document}]
    recipients = []
    for entry in entries:
        if type(entry) is not dict:
            raise MalformedTokenError("each recipient must be a JSON object")
        recipients.append(
            (_object(entry, "header"), b64decode(_segment(entry, "encrypted_key", required=False)))
        )
    return recipients


def joint(*headers: Mapping[str, Any]) -> dict[str, Any]:
    """The union of the header parts, which must not share a name (RFC 7516 section 7.2.1)."""
    joint: dict[str, Any] = {}
    for header in headers:
        for name, value in header.items():
            if name in joint:
                raise MalformedTokenError(
                    f'the header member "{name[:32]}" appears in more than one header part'
                )
            joint[name] = value
    return joint
