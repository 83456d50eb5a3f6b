"""Crontab checks done at load time, where a bad field would otherwise stop the daemon later."""

from __future__ import annotations

import calendar
from datetime import date

from driftd.durations import cron_problem

_CRON_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler: 0 = Monday


def problem(expr: str) -> str | None:
    """Why ``expr`` is refused, or None.

    >>> problem("0 0 30 feb *")
    'names no date that exists (day, month and day_of_week must all match): never fires'
    >>> problem("*/15 * * * mon-fri") is None
    True
    """
    return cron_problem(expr) or _never_fires(expr)


def _never_fires(expr: str) -> str | None:
    """Why a well-formed crontab names no date at all ("0 0 30 feb *"), or None.

    APScheduler fires only on dates that match day, month *and* day_of_week. 28 years
    (2000-2027) hold every combination of leap year and weekday of 1 January.
    """
    _, _, day, month, weekday = expr.lower().split()
    days = _values(day, 1, 31, ())
    months = _values(month, 1, 12, _CRON_MONTHS)
    weekdays = _values(weekday, 0, 6, _CRON_DAYS)
    for year in range(2000, 2028):
        for m in months:
            last = calendar.monthrange(year, m)[1]
            wanted = days | ({last} if "last" in day.split(",") else set())
            if any(d <= last and date(year, m, d).weekday() in weekdays for d in wanted):
                return None
    return "names no date that exists (day, month and day_of_week must all match): never fires"


def _values(field_text: str, lo: int, hi: int, names: tuple[str, ...]) -> set[int]:
    """The values of one crontab field already checked by ``cron_problem``."""
    base = 1 if names == _CRON_MONTHS else 0
    values: set[int] = set()
    for item in field_text.split(","):
        if item == "last":
            continue
        span, _, step = item.partition("/")
        if span == "*":
            first, last = lo, hi
        else:
            ends = [names.index(v) + base if v in names else int(v) for v in span.split("-")]
            first, last = ends[0], hi if len(ends) == 1 and step else ends[-1]
        values.update(range(first, last + 1, int(step or 1)))
    return values
