"""Durations written as "90s", "15m", "6h", "7d" (and combinations such as "1h30m").

>>> parse_duration("90s")
datetime.timedelta(seconds=90)
>>> parse_duration("1h30m").total_seconds()
5400.0
>>> format_duration(parse_duration("7d"))
'7d'
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")


def parse_duration(text: str) -> timedelta:
    """Parse a positive duration; raise ValueError with the reason otherwise."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned.startswith("-"):
        raise ValueError("must be positive")
    if not _WHOLE.match(cleaned):
        raise ValueError('must be a duration such as "90s", "15m", "6h" or "7d"')
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError("must be positive")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling, largest units first; sub-second parts are dropped."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_age(seconds: float) -> str:
    """A rough human age: '42s', '5m', '3h', '2d'.

    >>> format_age(5400)
    '1h'
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"
