"""Read reference, live and labelled data (CSV, Parquet, SQLite) and select time windows.

A source (:class:`~driftd.config.SourceConfig`) is one of

- a ``.csv`` or ``.parquet`` file;
- a glob of them (``data/live/*.csv``): the matches are read in name order and concatenated, and
  must all have the same columns; a header-only file in a glob adds no rows;
- ``sqlite:///abs/path.db`` with a ``query``, run on a read-only connection.

Every failure is a one-line :class:`~driftd.errors.DataError` that names the file and, where it
applies, the column: a missing file, a glob matching nothing, a FIFO / directory / device
(refused without opening it), a symlink leaving ``allowed_root``, an empty or header-only file,
invalid UTF-8 (with its byte offset and line), rows with too many fields, corrupt Parquet, a
failing query, a missing column, a column name used twice (pandas would rename the second copy
and the first would be monitored silently), or an unparseable timestamp (one bad value is
shown, never the rows). Values are passed through as read: ``inf`` stays infinite, no row is
dropped. :func:`check_features` then refuses feature columns that hold nested values or mix
numbers with text, on the reference and the live side alike.

Times follow one rule everywhere: a timestamp column becomes tz-aware UTC (naive values are UTC,
numbers are epoch seconds), and a window is half-open, ``start < ts <= end``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from driftd.config import SourceConfig
from driftd.errors import DataError
from driftd.sources import _files, _formats, _memo, _time
from driftd.sources._time import Coverage, by_time, coverage
from driftd.sources._values import check_features
from driftd.sources._write import write_parquet_atomic

__all__ = [
    "Coverage",
    "SourceConfig",
    "by_time",
    "check_features",
    "coverage",
    "nonempty_window",
    "read",
    "read_window",
    "require_columns",
    "window",
    "write_parquet_atomic",
]

_SQLITE = "sqlite:///"
_Reader = Callable[[BinaryIO, Sequence[str] | None, str], pd.DataFrame]


def read(
    source: SourceConfig,
    columns: Sequence[str] | None = None,
    *,
    timestamp: str | None = None,
    label: str = "",
    allowed_root: Path | None = None,
    keep: bool = False,
) -> pd.DataFrame:
    """Every row of ``source``; with ``timestamp``, that column parsed to UTC and sorted by it.

    ``columns`` reads only those columns (plus ``timestamp``), in that order: large files are
    not parsed in full. ``label`` ("reference", "live window", ...) starts every error message.
    ``allowed_root``, when given, refuses any file whose real path (symlinks resolved) lies
    outside it. ``keep`` (the daemon's live and labelled sources, read at every cycle) keeps
    each parsed file for the next read while it is unchanged on disk (:mod:`._memo`). The index
    of the result is 0..n-1.

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp, "a.csv")
    ...     _ = path.write_text("ts,x\\n2026-01-02,2\\n2026-01-01T12:00Z,1\\n")
    ...     frame = read(SourceConfig(str(path)), timestamp="ts")
    >>> frame
                             ts  x
    0 2026-01-01 12:00:00+00:00  1
    1 2026-01-02 00:00:00+00:00  2
    """
    need = None if columns is None else _unique([*columns, *([timestamp] if timestamp else [])])
    prefix = f"{label} " if label else ""
    if source.path.startswith(_SQLITE):
        frame = _read_sqlite(source, need, timestamp, prefix, allowed_root)
    else:
        frame = _read_files(source.path, need, timestamp, prefix, allowed_root, keep)
    if timestamp is not None:
        frame = frame.sort_values(timestamp, kind="stable", ignore_index=True)
    return frame if need is None else frame[need]


def window(
    frame: pd.DataFrame, timestamp: str, start: datetime | None, end: datetime
) -> pd.DataFrame:
    """The rows with ``start < frame[timestamp] <= end``; ``start=None`` is unbounded below.

    Naive bounds are UTC. A column not yet parsed is parsed as :func:`read` would.

    >>> from datetime import datetime, UTC
    >>> f = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)})
    >>> len(window(f, "ts", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)))
    1
    """
    require_columns(frame, [timestamp], "window")
    return _time.select(frame, timestamp, start, end)


def read_window(
    source: SourceConfig,
    timestamp: str,
    start: datetime | None,
    end: datetime,
    *,
    columns: Sequence[str] | None = None,
    label: str = "",
    allowed_root: Path | None = None,
) -> pd.DataFrame:
    """:func:`read` then :func:`window`; DataError when the window holds no rows.

    The error says which window and what the source does hold, e.g. ``live window
    (2026-01-01T00:00Z, 2026-01-02T00:00Z] of data/live/*.csv has no rows (the source has 4000
    rows from 2025-12-20T00:00Z to 2025-12-31T23:59Z)``.
    """
    frame = read(source, columns, timestamp=timestamp, label=label, allowed_root=allowed_root)
    return nonempty_window(frame, source, timestamp, start, end, label=label)


def nonempty_window(
    frame: pd.DataFrame,
    source: SourceConfig,
    timestamp: str,
    start: datetime | None,
    end: datetime,
    *,
    label: str = "",
) -> pd.DataFrame:
    """:func:`window` of rows already read from ``source``, with :func:`read_window`'s error
    when it holds none (for a caller that needs the source's other rows too)."""
    selected = window(frame, timestamp, start, end)
    if len(selected) == 0:
        times = frame[timestamp]
        held = (
            f"{len(frame)} rows from {_time.show(times.iloc[0])} to {_time.show(times.iloc[-1])}"
            if len(frame)
            else "no rows"
        )
        raise DataError(
            f"{label or 'window'} ({_time.show(start)}, {_time.show(end)}] of {source.path} "
            f"has no rows (the source has {held})"
        )
    return selected


def require_columns(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """DataError naming ``where`` and every column of ``columns`` that ``frame`` lacks.

    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "data/x.csv")
    Traceback (most recent call last):
    ...
    driftd.errors.DataError: data/x.csv: missing column(s) 'b' (has 'a')
    """
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        names = [repr(c) for c in frame.columns]
        has = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
        missing = ", ".join(repr(c) for c in absent)
        raise DataError(f"{where}: missing column(s) {missing} (has {has or 'no columns'})")


def _read_sqlite(
    source: SourceConfig,
    need: list[str] | None,
    timestamp: str | None,
    prefix: str,
    allowed_root: Path | None,
) -> pd.DataFrame:
    database = source.path[len(_SQLITE) :]
    where = f"{prefix}{database}"
    if not source.query:
        raise DataError(f"{where}: a sqlite:/// source needs a query")
    database = _files.confine(database, allowed_root, where)
    _files.check_regular(database, where)
    try:
        frame = _formats.read_sqlite(database, source.query, where)
    except DataError:
        raise
    except Exception as exc:  # the boundary: nothing foreign gets past a data read
        raise DataError(f"{where}: cannot read: {_formats.describe(exc)}") from None
    if len(frame) == 0:
        raise DataError(f"{where}: the query returned no rows")
    return _finish(frame, need, timestamp, where)


def _read_files(
    pattern: str,
    need: list[str] | None,
    timestamp: str | None,
    prefix: str,
    allowed_root: Path | None,
    keep: bool = False,
) -> pd.DataFrame:
    paths = _files.expand(pattern, f"{prefix}{pattern}")
    frames: list[pd.DataFrame] = []
    first: tuple[str, list[str]] | None = None
    alone = len(paths) == 1
    for path in paths:
        where = f"{prefix}{path}"
        variant = (None if need is None else tuple(need), timestamp, alone, str(allowed_root))
        load = partial(_load, path, need, timestamp, where, allowed_root, alone)
        frame = _memo.MEMO.cached(path, variant, load) if keep else load()
        names = [str(c) for c in frame.columns]
        if first is None:
            first = (path, names)
        elif set(names) != set(first[1]):
            lacks = [c for c in first[1] if c not in names]
            extra = [c for c in names if c not in first[1]]
            raise DataError(
                f"{where}: columns differ from {Path(first[0]).name}"
                + (f"; lacks {', '.join(map(repr, lacks))}" if lacks else "")
                + (f"; has extra {', '.join(map(repr, extra))}" if extra else "")
            )
        if len(frame):  # header-only frames would turn every column's dtype into object
            frames.append(frame)
    if not frames:
        raise DataError(f"{prefix}{pattern}: none of the {len(paths)} matching files has rows")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _load(
    path: str,
    need: list[str] | None,
    timestamp: str | None,
    where: str,
    allowed_root: Path | None,
    alone: bool,
) -> pd.DataFrame:
    """One file read and, when it has rows, its timestamps parsed: what the memo keeps."""
    frame = _read_file(path, need, where, allowed_root, alone=alone)
    return _finish(frame, need, timestamp, where) if len(frame) else frame


def _read_file(
    path: str, need: list[str] | None, where: str, allowed_root: Path | None, *, alone: bool
) -> pd.DataFrame:
    path = _files.confine(path, allowed_root, where)
    reader = _reader(path, where)
    for attempt in range(2):  # a file rewritten in place during the read is read once more
        try:
            with _files.open_regular(path, where) as fh:
                frame = reader(fh, need, where)
            break
        except _files.ChangedWhileReading:
            if attempt:
                raise DataError(f"{where}: changed while being read, twice") from None
        except (DataError, KeyboardInterrupt):
            raise
        except Exception as exc:  # the boundary: nothing foreign gets past a data read
            raise DataError(f"{where}: cannot read: {_formats.describe(exc)}") from None
    if need is not None:
        require_columns(frame, need, where)
    if len(frame) == 0 and alone:
        what = "a header" if reader is _formats.read_csv else "a schema"
        raise DataError(f"{where}: has {what} but no rows")
    return frame


def _reader(path: str, where: str) -> _Reader:
    name = path.lower()
    if name.endswith(_formats.CSV_SUFFIXES):
        return _formats.read_csv
    if name.endswith(_formats.PARQUET_SUFFIXES):
        return _formats.read_parquet
    # A directory is most often a partitioned Parquet dataset: name the engine that reads one.
    hint = (
        '; a directory of Parquet partitions is read by --engine dask (data.engine = "dask")'
        if Path(path).is_dir()
        else ""
    )
    raise DataError(f"{where}: unknown file type (expected .csv, .parquet or sqlite:///){hint}")


def _finish(
    frame: pd.DataFrame, need: list[str] | None, timestamp: str | None, where: str
) -> pd.DataFrame:
    if need is not None:
        require_columns(frame, need, where)
    if timestamp is not None:
        require_columns(frame, [timestamp], where)
        frame = frame.assign(**{timestamp: _time.parse(frame[timestamp], timestamp, where)})
    return frame


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
