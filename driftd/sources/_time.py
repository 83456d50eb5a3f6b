"""Timestamps: parse a column to tz-aware UTC, select half-open windows, format bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

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
