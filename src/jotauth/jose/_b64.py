"""Strict base64url (RFC 7515 section 2): no padding, no stray characters, canonical trailing bits.

Lenient decoders accept many spellings of one value, which lets an attacker change a token's
bytes without changing what it says (and defeats caches keyed by the token). We accept exactly
one spelling. The work is done by ``binascii`` in C: the alphabet is mapped onto standard base64
with ``bytes.translate`` (characters outside base64url become ``!``, which strict mode rejects).
"""

import binascii

from jotauth.jose.errors import MalformedTokenError

__all__ = ["b64decode", "b64encode"]

_URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STD = bytes(
    (b"+" if c == 0x2D else b"/" if c == 0x5F else bytes([c]) if c in _URL else b"!")[0]
    for c in range(256)
)
_VALUE = [_URL.find(bytes([c])) for c in range(256)]
_PAD = (b"", b"", b"==", b"=")
# Bits of the last character that carry no data, by len % 4; they must be zero.
_UNUSED_BITS = (0, 0, 0x0F, 0x03)


_FROM_STD = bytes.maketrans(b"+/", b"-_")


def b64encode(data: bytes) -> bytes:
    """Encode without padding."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_FROM_STD)


def b64decode(data: bytes) -> bytes:
    """Decode strictly; any deviation from canonical base64url is a MalformedTokenError."""
    remainder = len(data) % 4
    if remainder == 1:
        raise MalformedTokenError("invalid base64url: impossible length")
    if remainder and _VALUE[data[-1]] > 0 and _VALUE[data[-1]] & _UNUSED_BITS[remainder]:
        raise MalformedTokenError("invalid base64url: non-canonical trailing bits")
    try:
        return binascii.a2b_base64(data.translate(_TO_STD) + _PAD[remainder], strict_mode=True)
    except binascii.Error:
        raise MalformedTokenError("invalid base64url: unexpected character") from None
