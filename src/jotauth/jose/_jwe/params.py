"""JWE header members that carry bytes (``iv``, ``tag``, ``p2s``, ``apu``, ``apv``), strictly."""

from collections.abc import Mapping
from typing import Any

from jotauth.jose._b64 import b64decode
from jotauth.jose.errors import MalformedTokenError

__all__ = ["header_bytes"]


def header_bytes(header: Mapping[str, Any], name: str, *, required: bool) -> bytes | None:
    """The base64url member ``name`` of a JWE header, or None when absent and not required."""
    value = header.get(name)
    if value is None:
        if required:
            raise MalformedTokenError(f'the JWE header has no "{name}"')
        return None
    if type(value) is not str or not value.isascii():
        raise MalformedTokenError(f'the JWE header member "{name}" must be a base64url string')
    return b64decode(value.encode("ascii"))
