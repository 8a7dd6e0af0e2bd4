"""Durations and times for the token tools: ``15m`` in, ``expires in 12 min`` out.

Kept apart from the commands so the wording of times is one concern with its own tests, and so
``now`` can be handed in: nothing here reads the clock.
"""

import re
from datetime import UTC, datetime
from typing import Final

__all__ = ["format_date", "parse_duration", "relative", "time_status"]

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION: Final = re.compile(r"(\d{1,9})([smhdw])")
_MAX_SECONDS: Final = 100 * 365 * 86400


def parse_duration(text: str) -> int:
    """Seconds in ``90s``, ``15m``, ``1h``, ``7d``, ``2w`` or ``1h30m``; a bare number is seconds.

    Raises ValueError with a message a user can act on.
    """
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    else:
        pos, seconds = 0, 0
        for match in _DURATION.finditer(value):
            if match.start() != pos:
                break
            seconds += int(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(value) or not value:
            raise ValueError(
                f"{text!r} is not a duration; use a number with s, m, h, d or w (15m, 1h, 7d)"
            )
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than 100 years")
    return seconds


def format_date(timestamp: float) -> str:
    """A NumericDate as ``2026-11-29 04:25:00 UTC``, or the raw number if it is out of range."""
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):
        return f"{timestamp} (not a representable date)"


def _amount(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def relative(timestamp: float, now: float) -> str:
    """``in 12 min`` or ``3 h ago``."""
    delta = timestamp - now
    return f"in {_amount(delta)}" if delta >= 0 else f"{_amount(delta)} ago"


def time_status(name: str, timestamp: float, now: float) -> tuple[str, bool]:
    """The phrase for one time claim and whether it is a problem right now.

    ``exp`` in the past, ``nbf`` or ``iat`` in the future are problems.
    """
    when = relative(timestamp, now)
    if name == "exp":
        return ("expires " + when if timestamp > now else "expired " + when), timestamp <= now
    if name == "nbf":
        return ("not valid yet, starts " + when if timestamp > now else "valid since " + when), (
            timestamp > now
        )
    if name == "iat":
        if timestamp > now:
            return "issued " + when + " (in the future: check clocks)", True
        return "issued " + when, False
    return when, False
