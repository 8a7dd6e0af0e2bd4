"""``zip: DEF`` (RFC 7516 section 4.1.3): raw DEFLATE (RFC 1951), inflated with a bound.

A few kilobytes of DEFLATE inflate to gigabytes, so the output is capped while it is produced
(``decompressobj`` with ``max_length``), never after: a bomb costs at most ``max_size + 1``
bytes of memory and the work to produce them. Compression also leaks the plaintext through its
length where an attacker controls part of it (CRIME, BREACH), which is why ``zip`` is refused
unless the caller enables it.
"""

import zlib

from jotauth.jose.errors import MalformedTokenError, TokenTooLargeError

__all__ = ["compress", "inflate"]


def compress(data: bytes) -> bytes:
    """Raw DEFLATE, no zlib header or checksum (``wbits=-15``)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def inflate(data: bytes, max_size: int) -> bytes:
    """The inflated bytes, at most ``max_size`` of them; a bigger output is TokenTooLargeError."""
    decompressor = zlib.decompressobj(-15)
    try:
        output = decompressor.decompress(data, max_size + 1)
    except zlib.error:
        raise MalformedTokenError("the compressed content (zip: DEF) does not inflate") from None
    if len(output) > max_size or decompressor.unconsumed_tail:
        raise TokenTooLargeError(
            f"the compressed content inflates past the limit of {max_size} bytes "
            "(max_decompressed_size); refused (a decompression bomb?)"
        )
    if not decompressor.eof or decompressor.unused_data:
        raise MalformedTokenError(
            "the compressed content (zip: DEF) is truncated or has trailing data"
        )
    return output
