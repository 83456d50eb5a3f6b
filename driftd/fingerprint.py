"""Content fingerprints: the sha256 of a data frame's values, and of a file's bytes.

:func:`frame_sha256` hashes a canonical form of the frame, so the same rows read from CSV,
Parquet or SQLite give the same digest although each reader picks different dtypes:

- columns are taken in sorted name order (their order in the frame does not matter); rows in
  the order given (the same rows shuffled are a different frame); the index is ignored;
- every value becomes a tag plus a payload: *missing* (NaN, None, NaT, pd.NA: all one marker),
  *integer* (int64; this includes whole floats and booleans, so ``1``, ``1.0`` and ``True`` are
  equal, as they are after a trip through a CSV or SQLite that drops the dtype), *float* (the
  IEEE-754 bits of a non-whole or infinite float64; ``-0.0`` counts as ``0``), *timestamp* (UTC
  nanoseconds; naive values are taken as UTC), *duration* (nanoseconds) and *string* (UTF-8 with
  a length prefix);
- a column of mixed Python objects is hashed as the ``str()`` of each value.

Strings holding dates stay strings: parse timestamps first (``sources.read(timestamp=...)``)
when a CSV and a Parquet file should hash alike. Every column is encoded with vectorised numpy
and pyarrow operations; about a million rows take well under a second per column.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from driftd.errors import DataError

__all__ = ["file_sha256", "frame_sha256", "snapshot_sha256"]

# Bumped whenever the canonical form changes, so old and new digests never collide.
_VERSION = b"driftd-frame-v1\0"

_MISSING, _INT, _FLOAT, _TIMESTAMP, _DURATION, _STRING = range(6)
_INT64_LIMIT = 2.0**63  # floats in [-2**63, 2**63) convert to int64 exactly

_Encoded = tuple["np.ndarray", "np.ndarray", bytes]  # tags (uint8), payloads (int64), blob


def frame_sha256(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """The sha256 (hex) of ``frame``'s content in canonical form (see the module docstring).

    ``columns`` restricts the hash to those columns; DataError if one is missing.

    >>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    >>> b = pd.DataFrame({"y": ["a", "b"], "x": [1.0, 2.0]})
    >>> frame_sha256(a) == frame_sha256(b)
    True
    >>> frame_sha256(a) == frame_sha256(a.iloc[::-1])
    False
    """
    if columns is None:
        positions = list(range(frame.shape[1]))
    else:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise DataError(f"cannot fingerprint: missing column(s) {', '.join(map(repr, absent))}")
        wanted = set(columns)
        positions = [i for i, c in enumerate(frame.columns) if c in wanted]
    names = [str(frame.columns[i]) for i in positions]
    order = sorted(range(len(positions)), key=lambda k: names[k])
    digest = hashlib.sha256(_VERSION)
    digest.update(struct.pack("<qq", len(frame), len(positions)))
    for k in order:
        name = names[k].encode("utf-8", "surrogatepass")
        tags, payload, blob = _encode(frame.iloc[:, positions[k]])
        digest.update(struct.pack("<q", len(name)) + name)
        digest.update(tags.tobytes())
        digest.update(payload.astype("<i8", copy=False).tobytes())
        digest.update(struct.pack("<q", len(blob)))
        digest.update(blob)
    return digest.hexdigest()


def snapshot_sha256(frame: pd.DataFrame, features: Sequence[str], target: str) -> str:
    """The fingerprint of ``frame`` as a training snapshot: its ``features`` and ``target``.

    A version's ``data_sha256`` is this over the rows it was trained on (the trainer hashes the
    columns it hands the estimator). The reference of a model with no champion yet is
    fingerprinted the same way, so when the first model trains on exactly the reference rows
    (all of them labelled), checks before and after that bootstrap name the same reference and
    count together toward K-of-N hysteresis. Other columns (the timestamp, ids) do not enter:
    they are neither monitored nor trained on. The target enters only when ``frame`` has it.

    >>> ref = pd.DataFrame({"ts": [1, 2], "x": [0.5, 1.5], "y": [0, 1]})
    >>> snapshot_sha256(ref, ["x"], "y") == frame_sha256(ref[["x", "y"]])
    True
    >>> snapshot_sha256(ref, ["x"], "y") == snapshot_sha256(ref.drop(columns="ts"), ["x"], "y")
    True
    """
    columns = [*features, *([target] if target in frame.columns else [])]
    return frame_sha256(frame, columns)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 (hex) of a file's bytes, read in 1 MiB blocks; DataError if unreadable."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _encode(series: pd.Series) -> _Encoded:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _objects(series.astype(object))
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return _integers(series)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return _numbers(series)
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return _instants(series)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return _durations(series)
    if isinstance(dtype, pd.StringDtype):
        return _strings(series)
    return _objects(series)


def _integers(series: pd.Series) -> _Encoded:
    missing = series.isna().to_numpy()
    if pd.api.types.is_unsigned_integer_dtype(series.dtype):
        big = series.to_numpy(dtype="float64", na_value=0.0) >= _INT64_LIMIT
        if big.any():  # beyond int64: keep the exact digits as text
            return _strings(series.astype("string").astype(object))
    values = series.to_numpy(dtype="int64", na_value=0)
    tags = np.where(missing, _MISSING, _INT).astype(np.uint8)
    return tags, np.where(missing, 0, values), b""


def _numbers(series: pd.Series) -> _Encoded:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(values)
    with np.errstate(invalid="ignore"):
        whole = (
            np.isfinite(values)
            & (values == np.floor(values))
            & (values >= -_INT64_LIMIT)
            & (values < _INT64_LIMIT)
        )
    tags = np.full(len(values), _FLOAT, dtype=np.uint8)
    tags[whole] = _INT
    tags[missing] = _MISSING
    payload = values.view(np.int64).copy()
    payload[whole] = values[whole].astype(np.int64)
    payload[missing] = 0
    return tags, payload, b""


def _instants(series: pd.Series) -> _Encoded:
    utc = series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
    return _ticks(utc, _TIMESTAMP)


def _durations(series: pd.Series) -> _Encoded:
    return _ticks(series, _DURATION)


def _ticks(series: pd.Series, tag: int) -> _Encoded:
    """Nanoseconds since the epoch (or of a duration), whatever unit pandas chose."""
    missing = series.isna().to_numpy()
    try:
        as_ns = series.dt.as_unit("ns")
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        # Beyond ~1677-2262 nanoseconds overflow int64: text keeps such rare values exact.
        return _strings(series.astype(str).where(~missing, None).astype(object))
    values = as_ns.to_numpy(dtype="int64", na_value=0) if tag == _DURATION else _utc_ns(as_ns)
    tags = np.where(missing, _MISSING, tag).astype(np.uint8)
    return tags, np.where(missing, 0, values), b""


def _utc_ns(series: pd.Series) -> np.ndarray:
    naive: np.ndarray = series.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return naive.view(np.int64)


def _strings(series: pd.Series) -> _Encoded:
    try:
        array = pa.array(series, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return _texts(series)
    if isinstance(array, pa.ChunkedArray):  # Arrow-backed strings of a concatenated frame
        array = array.combine_chunks()
    return _arrow_strings(array)


def _arrow_strings(array: pa.LargeStringArray) -> _Encoded:
    if array.offset:  # a slice: make the buffers start at the first value
        array = pa.concat_arrays([array])
    count = len(array)
    missing = array.is_null().to_numpy(zero_copy_only=False)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=count + 1)
    lengths = np.diff(offsets)
    blob = b"" if buffers[2] is None else buffers[2].to_pybytes()[offsets[0] : offsets[-1]]
    tags = np.where(missing, _MISSING, _STRING).astype(np.uint8)
    return tags, np.where(missing, 0, lengths), blob


def _texts(series: pd.Series) -> _Encoded:
    """Mixed Python objects: each non-missing value as its ``str()``."""
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    text = [None if gone else str(value) for value, gone in zip(values, missing, strict=True)]
    array = pa.array(text, type=pa.large_string())
    return _arrow_strings(array)


def _objects(series: pd.Series) -> _Encoded:
    """Object columns: decide by the values they hold, as a reader of another format would."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "empty":
        return np.zeros(len(series), dtype=np.uint8), np.zeros(len(series), dtype=np.int64), b""
    if kind == "boolean":
        return _numbers(series.astype("float64"))
    if kind in ("integer", "floating", "mixed-integer-float"):
        try:
            numbers = pd.to_numeric(series)
        except (TypeError, ValueError, OverflowError):
            return _texts(series)
        return _encode(numbers)
    if kind in ("datetime64", "datetime"):
        try:
            instants = pd.to_datetime(series, utc=True)
        except (TypeError, ValueError, OverflowError):
            return _texts(series)
        return _instants(instants)
    if kind in ("timedelta64", "timedelta"):
        return _durations(pd.to_timedelta(series))
    if kind == "string":
        return _strings(series)
    return _texts(series)
