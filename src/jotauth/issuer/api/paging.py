"""Keyset cursors for the admin listings: ``?limit=&after=<cursor>``, answered with ``next``.

A cursor is the sort key of the last row of a page (a user's id; a session's ``created_at``
and id), so the next page is one index range read from there, however deep, where ``OFFSET``
read and discarded every row before it (438 ms at offset 900,000). It is opaque to clients
(base64url of a small JSON array naming its listing), so its form can change; it is not
secret and not signed: a forged one only moves where a listing the caller may read starts.
Anything that is not a cursor of this listing is a 400 ``invalid_request``, never a 500.
"""

import base64
import binascii
import json
import math
from typing import Any, Final

from jotauth.issuer.errors import InvalidRequestError

__all__ = ["MAX_CURSOR", "decode_session_cursor", "decode_user_cursor", "encode_cursor"]

MAX_CURSOR: Final = 200
"""Characters a cursor may have (a session's is about 90)."""
_MAX_ID: Final = 2**63 - 1
_NOT_A_CURSOR: Final = "after is not a cursor of this listing (pass the 'next' it answered)"


def encode_cursor(kind: str, *key: Any) -> str:
    """The opaque cursor for the row whose sort key is ``key`` in listing ``kind``."""
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(kind: str, cursor: str) -> list[Any]:
    refused = InvalidRequestError(_NOT_A_CURSOR)
    if len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise refused
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise refused from None
    if not isinstance(value, list) or not value or value[0] != kind:
        raise refused
    return value[1:]


def decode_user_cursor(cursor: str) -> int:
    """The user id a users cursor names; InvalidRequestError for anything else."""
    key = _decode("u", cursor)
    if len(key) != 1 or type(key[0]) is not int or not 0 <= key[0] <= _MAX_ID:
        raise InvalidRequestError(_NOT_A_CURSOR)
    return int(key[0])


def decode_session_cursor(cursor: str) -> tuple[float, str]:
    """The ``(created_at, id)`` a sessions cursor names; InvalidRequestError for anything else."""
    key = _decode("s", cursor)
    if (
        len(key) != 2
        or type(key[0]) not in (int, float)
        or not math.isfinite(key[0])
        or not isinstance(key[1], str)
        or not 0 < len(key[1]) <= 64
        or "\x00" in key[1]
    ):
        raise InvalidRequestError(_NOT_A_CURSOR)
    return float(key[0]), key[1]
