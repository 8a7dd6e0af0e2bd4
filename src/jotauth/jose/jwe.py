"""JWE (RFC 7516, algorithms of RFC 7518 and RFC 8037): encrypt and decrypt, compact and JSON.

The rules of the JWS core apply unchanged. The size limit comes before any decoding; the
protected header is strict JSON, checked (``crit``, ``zip``, types) before a key is chosen; the
key decides: a token's ``alg`` must be the one its key is bound to (and its ``enc`` the key's,
where the key names one), and header keys (``jwk``, ``jku``, ``x5u``, ``x5c``) are never a key
source; only ``epk``, the sender's half of an ECDH agreement, is read as a key, and it is
validated on our key's curve. ``RSA1_5`` and ``PBES2`` are decrypted only where named in
``algorithms=``, ``p2c`` is capped, and ``zip`` is refused unless enabled and then bounded.

Every decryption failure is the same ``DecryptionError`` with the same message: a bad tag, bad
padding, a key that does not unwrap and the wrong key cannot be told apart, and RSA carries on
with a random CEK so that the time does not tell either (RFC 7516 section 11.5).

A ``Decrypter`` is the compiled form, as ``Verifier`` is for JWS: it checks its options once
and remembers, per distinct protected header, the key and content decryption that header
resolves to, for the algorithms whose header does not change per token (``dir``, AES Key Wrap,
RSA). For ``dir`` the AES key schedule is then paid once per key.
"""

import secrets
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final

from jotauth.jose import jws
from jotauth.jose._b64 import b64decode, b64encode
from jotauth.jose._json import dumps, loads_object
from jotauth.jose._jwe import deflate, registry
from jotauth.jose._jwe.content import ContentEncryption
from jotauth.jose._jwe.decrypter import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    DEFAULT_MAX_P2C,
    DEFAULT_MAX_SIZE,
    Decrypted,
    Decrypter,
    joint,
    split,
)
from jotauth.jose.errors import (
    AlgorithmNotAllowedError,
    CriticalHeaderError,
    InvalidKeyError,
)
from jotauth.jose.jwk import Key
from jotauth.jose.jwks import KeySet

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ENC",
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "DEFAULT_MAX_P2C",
    "DEFAULT_MAX_SIZE",
    "ENCRYPTIONS",
    "Decrypted",
    "Decrypter",
    "decrypt",
    "decrypt_json",
    "encrypt",
    "encrypt_json",
    "peek_header",
]

ALGORITHMS: Final = tuple(registry.KEY_MANAGEMENT)
ENCRYPTIONS: Final = tuple(registry.CONTENT)
DEFAULT_ENC: Final = "A256GCM"
# Header members a caller may not set: the key decides alg, enc= and compress= say the rest, and
# we never emit a crit we would refuse.
_REFUSED_IN_OUTPUT: Final = frozenset({"crit", "zip", "alg", "enc"})


# -- encryption ----------------------------------------------------------------------------------


def _encryption_key(key: object) -> Key:
    if not isinstance(key, Key):
        raise InvalidKeyError("encrypt needs a jose.Key (load keys with Key.from_jwk)")
    if key.use != "enc" or key.wrap_fn is None:
        raise InvalidKeyError(
            f"key {key.kid!r} is a signature key ({key.alg}); encrypting needs a JWE key "
            "such as RSA-OAEP-256, ECDH-ES+A256KW or A256KW"
        )
    return key


def _content_for(keys: Iterable[Key], enc: str | None) -> ContentEncryption:
    bound = {key.enc for key in keys if key.enc is not None}
    if enc is None:
        if len(bound) > 1:
            raise InvalidKeyError(
                f"the keys are bound to different enc: {', '.join(sorted(bound))}"
            )
        enc = bound.pop() if bound else DEFAULT_ENC
    elif bound - {enc}:
        raise AlgorithmNotAllowedError(f"a key is bound to enc {bound.pop()}, not {enc}")
    return registry.content(enc)


def _extra_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    extra = dict(headers or {})
    refused = _REFUSED_IN_OUTPUT & extra.keys()
    if refused:
        raise CriticalHeaderError(
            f"{', '.join(sorted(refused))} cannot be set in headers= "
            "(the key decides alg; pass enc= and compress=; crit is not supported)"
        )
    return extra


def _plaintext(plaintext: bytes | str) -> bytes:
    if isinstance(plaintext, str):
        return plaintext.encode("utf-8")
    if not isinstance(plaintext, bytes):
        raise TypeError("the plaintext must be bytes or str")
    return plaintext


def encrypt(
    plaintext: bytes | str,
    key: Key,
    *,
    enc: str | None = None,
    headers: Mapping[str, Any] | None = None,
    compress: bool = False,
) -> str:
    """Encrypt ``plaintext`` to the holder of ``key`` as a compact JWE.

    ``enc`` defaults to the key's bound ``enc``, else A256GCM. The protected header gets
    ``alg`` and ``kid`` from the key; ``headers`` adds members (``cty``, ``typ``, ``apu`` and
    ``apv`` for ECDH-ES, ``p2c`` for PBES2; ``"kid": None`` leaves the kid out).
    ``compress=True`` deflates the plaintext first (``zip: DEF``).
    """
    key = _encryption_key(key)
    content = _content_for((key,), enc)
    header: dict[str, Any] = {"alg": key.alg, "enc": content.name, "kid": key.kid}
    header.update(_extra_headers(headers))
    if header["kid"] is None:
        del header["kid"]
    assert key.wrap_fn is not None  # noqa: S101 - _encryption_key checked it
    cek, encrypted_key, members = key.wrap_fn(content, header, None)
    header.update(members)
    data = _plaintext(plaintext)
    if compress:
        header["zip"] = "DEF"
        data = deflate.compress(data)
    protected = b64encode(dumps(header))
    iv, ciphertext, tag = content.encrypt(cek, data, protected)
    return b".".join(
        (protected, b64encode(encrypted_key), b64encode(iv), b64encode(ciphertext), b64encode(tag))
    ).decode("ascii")


def encrypt_json(
    plaintext: bytes | str,
    recipients: Key | Iterable[Key],
    *,
    enc: str | None = None,
    protected: Mapping[str, Any] | None = None,
    unprotected: Mapping[str, Any] | None = None,
    aad: bytes | None = None,
    compress: bool = False,
    flatten: bool = False,
) -> str:
    """Encrypt to one or several recipients in the JWE JSON serialization.

    One content key is wrapped for each recipient; each recipient's ``alg``, ``kid`` and
    key-management members go in its own header. With a single recipient they are protected
    instead, and ``flatten=True`` gives the flattened form. ``protected`` and ``unprotected``
    add shared header members; ``aad`` is authenticated but not encrypted.
    """
    keys = [
        _encryption_key(k) for k in ((recipients,) if isinstance(recipients, Key) else recipients)
    ]
    if not keys:
        raise InvalidKeyError("encrypt_json needs at least one recipient key")
    if flatten and len(keys) != 1:
        raise ValueError("the flattened serialization has exactly one recipient")
    content = _content_for(keys, enc)
    shared = _extra_headers(protected)
    protected_header: dict[str, Any] = {"enc": content.name, **shared}
    if compress:
        protected_header["zip"] = "DEF"
    unprotected_header = dict(unprotected or {})
    if _REFUSED_IN_OUTPUT & unprotected_header.keys():
        raise CriticalHeaderError("alg, enc, zip and crit cannot be unprotected header members")
    single = len(keys) == 1
    cek: bytes | None = None if single else secrets.token_bytes(content.cek_size)
    entries: list[dict[str, Any]] = []
    for key in keys:
        if registry.KEY_MANAGEMENT[key.alg].direct and not single:
            raise InvalidKeyError(
                f"{key.alg} makes the content key itself; it allows one recipient"
            )
        header: dict[str, Any] = {"alg": key.alg, "kid": key.kid}
        assert key.wrap_fn is not None  # noqa: S101 - _encryption_key checked it
        key_cek, encrypted_key, members = key.wrap_fn(content, {**protected_header, **header}, cek)
        cek = key_cek
        header.update(members)
        entry: dict[str, Any] = {}
        if single:
            protected_header.update(header)
        else:
            entry["header"] = header
        if encrypted_key:
            entry["encrypted_key"] = b64encode(encrypted_key).decode("ascii")
        entries.append(entry)
    for entry in entries:  # the header parts must not share a name (RFC 7516 section 7.2.1)
        joint(protected_header, unprotected_header, entry.get("header", {}))
    assert cek is not None  # noqa: S101 - at least one recipient
    data = _plaintext(plaintext)
    if compress:
        data = deflate.compress(data)
    protected_segment = b64encode(dumps(protected_header))
    aad_segment = None if aad is None else b64encode(aad)
    full_aad = protected_segment if aad_segment is None else protected_segment + b"." + aad_segment
    iv, ciphertext, tag = content.encrypt(cek, data, full_aad)
    document: dict[str, Any] = {"protected": protected_segment.decode("ascii")}
    if unprotected_header:
        document["unprotected"] = unprotected_header
    if flatten:
        document.update(entries[0])
    else:
        document["recipients"] = entries
    if aad_segment is not None:
        document["aad"] = aad_segment.decode("ascii")
    document.update(
        iv=b64encode(iv).decode("ascii"),
        ciphertext=b64encode(ciphertext).decode("ascii"),
        tag=b64encode(tag).decode("ascii"),
    )
    return dumps(document).decode("utf-8")


# -- one-shot decryption -----------------------------------------------------------------------


def decrypt(
    token: str | bytes,
    key_or_keyset: Key | KeySet | Iterable[Key],
    *,
    algorithms: Collection[str] | None = None,
    encryptions: Collection[str] | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    max_p2c: int = DEFAULT_MAX_P2C,
    compression: bool = False,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
) -> bytes:
    """Decrypt a compact JWE once and return its plaintext. For many, build a ``Decrypter``."""
    return Decrypter(
        key_or_keyset,
        algorithms=algorithms,
        encryptions=encryptions,
        max_size=max_size,
        max_p2c=max_p2c,
        compression=compression,
        max_decompressed_size=max_decompressed_size,
    ).decrypt(token)


def decrypt_json(
    data: str | bytes,
    key_or_keyset: Key | KeySet | Iterable[Key],
    *,
    algorithms: Collection[str] | None = None,
    encryptions: Collection[str] | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    max_p2c: int = DEFAULT_MAX_P2C,
    compression: bool = False,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
) -> Decrypted:
    """Decrypt a JWE JSON serialization (general or flattened) once."""
    return Decrypter(
        key_or_keyset,
        algorithms=algorithms,
        encryptions=encryptions,
        max_size=max_size,
        max_p2c=max_p2c,
        compression=compression,
        max_decompressed_size=max_decompressed_size,
    ).decrypt_json(data)


def peek_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE, NOT authenticated: for tools and key choice."""
    return loads_object(b64decode(split(token, jws.PEEK_MAX_SIZE)[0]), "JWE header")
