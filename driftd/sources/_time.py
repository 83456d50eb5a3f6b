"""Timestamps: parse a column to tz-aware UTC, select half-open windows, measure how much of a
window the rows cover, format bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from driftd.durations import format_duration
from driftd.errors import DataError

# Epoch seconds beyond this are not seconds (milliseconds since 1970 are ~1.7e12): refuse them
# instead of dating a row in the year 55,000. It is also where int64 nanoseconds end (2262).
_EPOCH_LIMIT = 9.2e9


def parse(series: pd.Series, column: str, where: str) -> pd.Series:
    """``series`` as datetime64 with tz UTC; DataError naming one bad value if any is unusable.

    Accepted: datetimes (naive ones are UTC), ISO-8601 strings (with or without an offset;
    naive ones are UTC) and numbers of seconds since 1970-01-01 UTC. Missing values are an
    error: a row without a time cannot be placed in a window.
    """
    dtype = series.dtype
    out: pd.Series
    if isinstance(dtype, pd.DatetimeTZDtype):
        out = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(dtype):
        out = series.dt.tz_localize("UTC")
    elif pd.api.types.is_bool_dtype(dtype):
        raise DataError(f"{where}: column {column!r} holds booleans, not timestamps")
    elif pd.api.types.is_numeric_dtype(dtype):
        out = _from_epoch(series, column, where)
    else:
        out = _from_text(series, column, where)
    missing = out.isna().to_numpy()
    if missing.any():
        first = int(np.argmax(missing))
        raise DataError(
            f"{where}: column {column!r} has {int(missing.sum())} missing timestamp(s) "
            f"(first in row {first + 1} of {len(out)})"
        )
    return out


def _from_epoch(series: pd.Series, column: str, where: str) -> pd.Series:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ~(np.abs(values) < _EPOCH_LIMIT)
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(
            f"{where}: column {column!r}: {series.iloc[first]!r} (row {first + 1}) is not a time "
            "in epoch seconds (milliseconds? expected |value| < 9.2e9)"
        )
    out: pd.Series = pd.to_datetime(series, unit="s", utc=True)
    return out


def _from_text(series: pd.Series, column: str, where: str) -> pd.Series:
    try:
        out = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    except (TypeError, ValueError, OverflowError) as exc:  # mixed objects pandas cannot coerce
        raise DataError(f"{where}: column {column!r} is not a timestamp column: {exc}") from None
    bad = (out.isna() & series.notna()).to_numpy()
    if bad.any():
        first = int(np.argmax(bad))
        shown = str(series.iloc[first])
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise DataError(
            f"{where}: column {column!r}: cannot parse {shown!r} (row {first + 1}) as an ISO-8601 "
            "timestamp"
        )
    return out


def aware(moment: datetime) -> datetime:
    """``moment`` with tzinfo, naive values taken as UTC (driftd's rule for every time)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def by_time(frame: pd.DataFrame, column: str, where: str) -> pd.DataFrame:
    """``frame`` with ``column`` parsed to UTC and its rows in time order (stable)."""
    out = frame.copy()
    out[column] = parse(frame[column], column, where)
    return out.sort_values(column, kind="stable", ignore_index=True)


def select(frame: pd.DataFrame, column: str, start: datetime | None, end: datetime) -> pd.DataFrame:
    times = frame[column]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = parse(times, column, "window")
    keep = times <= pd.Timestamp(aware(end))
    if start is not None:
        keep &= times > pd.Timestamp(aware(start))
    return frame.loc[keep.to_numpy()].reset_index(drop=True)


def show(moment: datetime | None) -> str:
    """A compact UTC form for messages: ``2026-01-01T00:00Z``; seconds only when nonzero.

    >>> show(datetime(2026, 1, 1, tzinfo=UTC)), show(datetime(2026, 1, 1, 6, 0, 30))
    ('2026-01-01T00:00Z', '2026-01-01T06:00:30Z')
    """
    if moment is None:
        return "-inf"
    moment = aware(moment).astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if moment.second:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%MZ")


# A spacing counts as "normal" up to this quantile of the spacings seen: irregular (event) data
# has long gaps by chance (1 % of Poisson spacings exceed 4.6 mean spacings), regular data none.
_NORMAL_GAP_QUANTILE = 0.99
_MIN_DISTINCT = 3  # timestamps needed before a cadence (a median of spacings) means anything


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a window ``(start, end]`` its rows cover, by the rows' own cadence.

    ``share`` is None when the window holds fewer than three distinct timestamps: no cadence
    can be inferred, so coverage is not judged. ``first`` and ``last`` are the window's first
    and last row times.
    """

    start: datetime
    end: datetime
    share: float | None
    cadence: timedelta | None = None
    first: datetime | None = None
    last: datetime | None = None

    def describe(self) -> str:
        """The covered span in words, for a check's reason.

        >>> day = datetime(2026, 3, 1, tzinfo=UTC)
        >>> print(Coverage(day, day + timedelta(days=1), 0.5, timedelta(hours=1),
        ...                day + timedelta(hours=13), day + timedelta(hours=24)).describe())
        ... # doctest: +NORMALIZE_WHITESPACE
        rows cover 50 % of (2026-03-01T00:00Z, 2026-03-02T00:00Z]: 2026-03-01T13:00Z to
        2026-03-02T00:00Z, one row time every 1h
        """
        window = f"({show(self.start)}, {show(self.end)}]"
        if self.share is None or self.cadence is None:
            return f"{window} has too few distinct timestamps to infer a cadence"
        return (
            f"rows cover {round(100 * self.share)} % of {window}: {show(self.first)} to "
            f"{show(self.last)}, one row time every {format_duration(self.cadence)}"
        )


def coverage(times: pd.Series, start: datetime, end: datetime) -> Coverage:
    """The share of ``(start, end]`` covered by the rows at ``times``, by their own cadence.

    The cadence is the median spacing between distinct timestamps (of every time given up to
    ``end``: pass the source's history to learn it from more than the window). Each row stands
    for one cadence of time; a gap (from ``start`` to the first row, between rows, from the last
    row to ``end``) longer than the normal spacing (the 99th percentile of the spacings seen,
    and at least one cadence) leaves ``gap - cadence`` uncovered. So hourly rows of only the
    afternoon cover about half of a day, while a day of randomly timed events, whose spacings
    vary but have no unusual hole, covers nearly all of it.

    >>> day = datetime(2026, 3, 1, tzinfo=UTC)
    >>> hourly = pd.Series(pd.date_range("2026-03-01 01:00", periods=24, freq="h", tz="UTC"))
    >>> coverage(hourly, day, day + timedelta(days=1)).share
    1.0
    >>> coverage(hourly[12:], day, day + timedelta(days=1)).share
    0.5
    """
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = parse(times, "timestamp", "coverage")
    lo, hi = pd.Timestamp(aware(start)).value, pd.Timestamp(aware(end)).value
    ticks = np.unique(times.to_numpy(dtype="datetime64[ns]").view(np.int64))
    known = ticks[ticks <= hi]
    inside = known[known > lo]
    if len(known) < _MIN_DISTINCT or len(inside) == 0:
        return Coverage(aware(start), aware(end), None)
    spacings = np.diff(known)
    cadence = int(np.median(spacings))
    normal = max(cadence, int(np.quantile(spacings, _NORMAL_GAP_QUANTILE, method="higher")))
    gaps = np.diff(np.concatenate(([lo], inside, [hi])))
    uncovered = float(np.sum(gaps[gaps > normal] - normal))
    share = min(1.0, max(0.0, 1.0 - uncovered / (hi - lo)))
    return Coverage(
        aware(start),
        aware(end),
        round(share, 4),
        timedelta(microseconds=cadence // 1000),
        _moment(inside[0]),
        _moment(inside[-1]),
    )


def _moment(ticks: int) -> datetime:
    moment: datetime = pd.Timestamp(ticks - ticks % 1000, tz="UTC").to_pydatetime()
    return moment
