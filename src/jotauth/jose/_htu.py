"""The ``htu`` comparison of DPoP (RFC 9449 section 4.3): one normal form for a request's URI.

A proof names the URI it was made for; the server compares it with the URI the request reached.
Both sides are reduced to one spelling first, by RFC 3986's syntax-based normalization (6.2.2:
scheme and host in lower case, percent-encodings in upper case and decoded where they name an
unreserved character, dot segments removed) and scheme-based normalization (6.2.3: the default
port dropped, an empty path made ``/``), as RFC 9449 asks servers to do. Query and fragment are
not part of ``htu`` (section 4.2).

Anything that two URL parsers might read differently is refused rather than guessed at: a
userinfo part (``https://api.example@evil.example/``), a scheme other than http(s), a port
that is not a number, control characters, spaces and non-ASCII text. Printable characters that
RFC 3986 does not allow unencoded (``|``, ``\\``, ``{`` ...) are percent-encoded on both sides,
so a client and a server that differ only in whether they escaped them still agree.
"""

from typing import Final

from jotauth.jose.errors import DPoPProofError

__all__ = ["MAX_URL_LENGTH", "normalize_htu"]

MAX_URL_LENGTH: Final = 8192
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# pchar (RFC 3986 3.3) and "/", plus "%" whose escapes are checked one by one.
_PATH_CHARS: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@/%")
_HOST_CHARS: Final = _UNRESERVED | frozenset("!$&'()*+,;=")
_HEX: Final = frozenset("0123456789ABCDEFabcdef")


def _refuse(reason: str) -> DPoPProofError:
    return DPoPProofError("htu", f"htu: {reason}")


def _normalize_path(path: str) -> str:
    if "%" not in path and _PATH_CHARS.issuperset(path):
        return _remove_dot_segments(path or "/")  # the common case: nothing to escape
    out: list[str] = []
    index, length = 0, len(path)
    while index < length:
        char = path[index]
        if char == "%":
            escape = path[index + 1 : index + 3]
            if len(escape) != 2 or not set(escape) <= _HEX:
                raise _refuse("a malformed percent-encoding in the path")
            decoded = chr(int(escape, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + escape.upper())
            index += 3
            continue
        out.append(char if char in _PATH_CHARS else f"%{ord(char):02X}")
        index += 1
    return _remove_dot_segments("".join(out) or "/")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path (it starts with ``/``)."""
    if "." not in path:
        return path
    segments = path.split("/")[1:]
    result: list[str] = []
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if segment == "..":
            if result:
                result.pop()
            if last:
                result.append("")
        elif segment == ".":
            if last:
                result.append("")
        else:
            result.append(segment)
    return "/" + "/".join(result)


def _normalize_authority(authority: str, scheme: str) -> str:
    if "@" in authority:
        raise _refuse("a userinfo part (user@host) is not allowed")
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise _refuse("an unclosed IPv6 literal")
        host, rest = authority[: end + 1].lower(), authority[end + 1 :]
        if not set(host[1:-1]) <= _HEX | frozenset(":."):
            raise _refuse("an invalid IPv6 literal")
        if rest and not rest.startswith(":"):
            raise _refuse("characters after the IPv6 literal")
        port = rest[1:]
        has_port = bool(rest)
    else:
        host, has_port_sep, port = authority.partition(":")
        has_port = bool(has_port_sep)
        host = host.lower()
        if not set(host) <= _HOST_CHARS:
            raise _refuse("invalid characters in the host")
    if not host or host == "[]":
        raise _refuse("no host")
    if has_port and port:
        if not port.isascii() or not port.isdigit() or int(port) > 65535:
            raise _refuse("the port must be a number up to 65535")
        port = str(int(port))
        if port != _DEFAULT_PORTS[scheme]:
            return f"{host}:{port}"
    return host


def normalize_htu(url: str) -> str:
    """``url`` without query and fragment, in the normal form both sides of ``htu`` compare in.

    >>> normalize_htu("HTTPS://API.Example:443/a/./b/../c?x=1#top")
    'https://api.example/a/c'

    Raises ``DPoPProofError`` (check ``htu``) for what is not an absolute http(s) URI.
    """
    if type(url) is not str:
        raise _refuse("must be a string")
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"longer than {MAX_URL_LENGTH} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise _refuse("spaces, control characters and non-ASCII text are not allowed")
    url = url.partition("#")[0].partition("?")[0]
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in _DEFAULT_PORTS:
        raise _refuse("must be an absolute http:// or https:// URI")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    return f"{scheme}://{_normalize_authority(authority, scheme)}{_normalize_path(path)}"
