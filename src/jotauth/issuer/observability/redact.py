"""Scrub secrets out of anything on its way to a log line, a webhook or an audit record.

Audit details come from many handlers; a field named ``password`` or ``refresh_token`` slipping
into one must not reach a log file. Values under secret-sounding keys are replaced, and any
string that looks like a JWT is replaced wherever it appears, whatever its key.
"""

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["REDACTED", "scrub"]

REDACTED: Final = "[redacted]"
_SECRET_KEY: Final = re.compile(
    r"pass(word|wd|phrase)?|secret|token|authorization|cookie|credential|api_?key|private|"
    r"signature|otp|pin$",
    re.IGNORECASE,
)
# Keys that merely talk about tokens and carry no secret.
_ALLOWED: Final = frozenset({"token_type", "token_delivery", "jti", "kid", "sid", "token_count"})
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_MAX_DEPTH: Final = 8


# Whether a key names a secret, per key seen: the keys are the handlers' own few names, and
# every audit line would otherwise run the pattern over each of them again. Bounded, since
# a record read back from the store may carry any keys.
_secret_keys: dict[str, bool] = {}
_MAX_KEYS: Final = 1024


def _is_secret_key(key: str) -> bool:
    known = _secret_keys.get(key)
    if known is None:
        known = key.lower() not in _ALLOWED and _SECRET_KEY.search(key) is not None
        if len(_secret_keys) < _MAX_KEYS:
            _secret_keys[key] = known
    return known


def _scrub(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, str):
        # Every match starts with "eyJ": a string without it has nothing to replace.
        return _JWT.sub(REDACTED, value) if "eyJ" in value else value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            key = str(k)
            out[key] = REDACTED if _is_secret_key(key) else _scrub(v, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _JWT.sub(REDACTED, str(value))


def scrub(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with secrets replaced by ``[redacted]``."""
    return _scrub(value, 0)
