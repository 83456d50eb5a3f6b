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
from decimal import Decimal

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# ASCII only: Python's \d also matches other scripts' digits. Units are lower case only, so that
# "1M" (a month?) is an error rather than one minute.
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])", re.ASCII)
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+", re.ASCII)
_MAX_SECONDS = timedelta.max.days * 86400


def parse_duration(text: str) -> timedelta:
    """Parse a positive whole number of seconds; raise ValueError with the reason otherwise.

    >>> parse_duration("0.5s")
    Traceback (most recent call last):
    ValueError: must be a whole number of seconds
    """
    cleaned = text.strip().replace(" ", "")
    if cleaned.startswith("-"):
        raise ValueError("must be positive")
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError('must be a duration such as "90s", "15m", "6h" or "7d"')
    # Decimal, not float: "1.1m" is exactly 66 s, and a huge count cannot overflow to inf.
    seconds = sum((Decimal(n) * _UNITS[u] for n, u in _PART.findall(cleaned)), Decimal(0))
    if seconds <= 0:
        raise ValueError("must be positive")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"is too long (at most {_MAX_SECONDS // 86400}d)")
    # Sub-second durations would round to zero in timedelta and in format_duration.
    if seconds != seconds.to_integral_value():
        raise ValueError("must be a whole number of seconds")
    return timedelta(seconds=int(seconds))


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling, largest units first; sub-second parts are dropped.

    Zero and negative durations (never produced by :func:`parse_duration`) print as ``0s``.

    >>> format_duration(parse_duration("90m"))
    '1h30m'
    """
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


# (name, lowest, highest) of the five crontab fields, as APScheduler 3 reads them.
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("day_of_week", 0, 6),
)
_CRON_NAMES = {
    "month": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    "day_of_week": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
}
_CRON_ITEM = re.compile(r"(\*|[0-9]+(?:-[0-9]+)?|[a-z]+(?:-[a-z]+)?)(?:/([0-9]+))?", re.ASCII)


def cron_problem(expr: str) -> str | None:
    """Why a 5-field crontab expression would be refused or misread by the scheduler, or None.

    Stricter than APScheduler 3 where it is silently surprising: weekdays must be names,
    because APScheduler counts them from 0 = Monday where cron counts from 0 = Sunday, and a
    step after a name (which APScheduler ignores) is refused.

    >>> cron_problem("*/15 6-18 * * mon-fri") is None
    True
    >>> cron_problem("61 * * * *")
    "minute field '61': values must be in 0-59"
    >>> cron_problem("0 9 * * 1-5")
    "day_of_week field '1-5': use names such as mon-fri (APScheduler counts 0 = Monday)"
    """
    fields = expr.split()
    if len(fields) != len(_CRON_FIELDS):
        return "must have 5 fields: minute hour day month day_of_week"
    for text, (name, lo, hi) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.lower().split(","):
            why = _cron_item_problem(item, name, lo, hi)
            if why:
                return f"{name} field {text!r}: {why}"
    return None


def _cron_item_problem(item: str, name: str, lo: int, hi: int) -> str | None:
    if name == "day" and item == "last":
        return None
    match = _CRON_ITEM.fullmatch(item)
    if not match:
        return f"{item!r} is not a value, a range or a step"
    span, step = match.groups()
    if span == "*":
        first, last = lo, hi
    elif span[0].isdigit():
        if name == "day_of_week":
            return "use names such as mon-fri (APScheduler counts 0 = Monday)"
        ends = [int(v) for v in span.split("-")]
        first, last = ends[0], ends[-1]
        if len(ends) == 1 and step is not None:
            last = hi  # "5/10": from 5 up to the field's maximum, in steps of 10
        if first < lo or last > hi:
            return f"values must be in {lo}-{hi}"
    else:
        names = _CRON_NAMES.get(name, ())
        if any(v not in names for v in span.split("-")):
            return f"{span!r} is not a {name} name" if names else "names are not allowed here"
        if step is not None:
            return "a step needs numbers, not names"
        ends = [names.index(v) for v in span.split("-")]
        first, last = ends[0], ends[-1]
    if first > last:
        return "the range is reversed"
    if step is not None and not 0 < int(step) <= last - first:
        return f"the step must be between 1 and {last - first}"
    return None
