"""Feature kinds, and the reference summary computed once per reference and reused every cycle.

A numeric column is summarised by a :class:`~driftd.stats.NumericReference` (all distinct values
with their counts, or a 16 384-point quantile sketch when there are more) or, when it has at
least ``BINNED_MIN_ROWS`` values and the configured tests allow it, by a
:class:`~driftd.stats.BinnedReference` (bucket counts; no sort, and the live side is counted in
one pass too); a categorical column by its category counts. Missing values (NaN, None, NaT)
and, for numeric columns, infinite values are counted, not summarised: detect compares their
rates separately.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftd import stats
from driftd.domain import FeatureKind
from driftd.errors import DataError

PARALLEL_CELLS = 500_000  # below this many values a thread pool costs more than it saves
BINNED_MIN_ROWS = 100_000  # below this a sort is cheap and the exact path costs nothing extra

T = TypeVar("T")
R = TypeVar("R")


def infer_kinds(
    columns: Mapping[str, Any] | pd.DataFrame, categorical: Sequence[str] = ()
) -> dict[str, FeatureKind]:
    """Kind of each column by the shared rule of :func:`driftd.schema.infer` (the one the trainer
    encodes by): listed ``categorical`` ones, and bool/string/object/category dtypes, are
    categorical; other numbers are numeric. Dates and other dtypes are a DataError.

    >>> infer_kinds({"age": "int64", "plan": "object", "zip": "int64"}, categorical=["zip"])
    {'age': <FeatureKind.NUMERIC: 'numeric'>, 'plan': <FeatureKind.CATEGORICAL: 'categorical'>, \
'zip': <FeatureKind.CATEGORICAL: 'categorical'>}
    """
    from driftd import schema

    return {
        c.name: FeatureKind.CATEGORICAL if c.kind == schema.CATEGORICAL else FeatureKind.NUMERIC
        for c in schema.infer(columns, categorical).columns
    }


@dataclass(frozen=True, slots=True, eq=False)
class ColumnSummary:
    """One reference column. ``n_missing`` counts NaN/None and (numeric) infinite values."""

    name: str
    kind: FeatureKind
    n_rows: int
    n_missing: int
    n_infinite: int = 0
    numeric: stats.NumericReference | None = None  # None when no finite value exists
    binned: stats.BinnedReference | None = None  # instead of ``numeric`` for large columns
    categories: pd.Index | None = None
    counts: npt.NDArray[np.int64] | None = None
    tau: float = 1.0  # integrated autocorrelation time of the rows in stored (time) order

    @property
    def n_usable(self) -> int:
        return self.n_rows - self.n_missing


@dataclass(frozen=True, slots=True, eq=False)
class ReferenceSummary:
    """Everything detect needs from a reference, computed once by :func:`summarize`.

    ``thresholds`` caches effect thresholds calibrated for ``threshold = "auto"``, keyed by
    (column, effect, window-size bucket, quantile); it is filled on first use and thread-safe.
    """

    fingerprint: str
    n_rows: int
    kinds: dict[str, FeatureKind]
    columns: dict[str, ColumnSummary]
    thresholds: dict[tuple[str, str, int, float], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def summarize(
    reference: pd.DataFrame,
    kinds: Mapping[str, FeatureKind],
    fingerprint: str | None = None,
    *,
    max_grid: int = stats.SKETCH_GRID,
    binned: bool = False,
    ordered: bool = True,
) -> ReferenceSummary:
    """Summarise the ``kinds`` columns of ``reference``; ``fingerprint`` defaults to a sha256
    of the summary itself (so equal summaries share thresholds cached under that name).
    ``binned`` allows bucket summaries for large numeric columns (see
    :func:`driftd.detect.binnable` for the configs that can use them). ``ordered`` says the rows
    are in time order, so their autocorrelation means something; otherwise ``tau`` stays 1
    (a file sorted by a feature would look endlessly autocorrelated).

    >>> import pandas as pd
    >>> s = summarize(pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]}),
    ...               {"x": FeatureKind.NUMERIC, "c": FeatureKind.CATEGORICAL})
    >>> s.n_rows, s.columns["x"].n_missing, s.columns["c"].counts.tolist()
    (3, 1, [2, 1])
    """
    missing = [name for name in kinds if name not in reference.columns]
    if missing:
        raise DataError(f"reference lacks column(s) {', '.join(map(repr, missing))}")
    series = [(name, FeatureKind(kind), reference[name]) for name, kind in kinds.items()]
    large = binned and len(reference) >= BINNED_MIN_ROWS  # these columns are counted, not sorted
    numeric = sum(FeatureKind(kind) is FeatureKind.NUMERIC for kind in kinds.values())
    columns = parallel_map(
        lambda item: _summarize_column(*item, max_grid=max_grid, binned=binned, ordered=ordered),
        series,
        0 if large else len(reference) * numeric,
    )
    by_name = {c.name: c for c in columns}
    return ReferenceSummary(
        fingerprint=fingerprint or _fingerprint(columns),
        n_rows=len(reference),
        kinds={name: FeatureKind(kind) for name, kind in kinds.items()},
        columns=by_name,
    )


def _summarize_column(
    name: str, kind: FeatureKind, column: pd.Series, max_grid: int, binned: bool, ordered: bool
) -> ColumnSummary:
    if kind is FeatureKind.NUMERIC:
        values = numeric_values(column, name)
        tau = numeric_tau(values) if ordered else 1.0
        if binned and values.size >= BINNED_MIN_ROWS:
            bins = stats.BinnedReference.build(values)
            if bins is not None and bins.n >= BINNED_MIN_ROWS:
                missing = bins.n_nan + bins.n_inf
                return ColumnSummary(
                    name, kind, values.size, missing, bins.n_inf, binned=bins, tau=tau
                )
        finite, n_nan, n_inf = stats.sorted_finite(values)
        ref = stats.NumericReference.from_sorted(finite, max_grid) if finite.size else None
        return ColumnSummary(name, kind, values.size, n_nan + n_inf, n_inf, numeric=ref, tau=tau)
    categories, counts, n_missing, tau = categorical_column(column, ordered)
    return ColumnSummary(
        name, kind, len(column), n_missing, categories=categories, counts=counts, tau=tau
    )


def numeric_tau(values: npt.NDArray[np.float64]) -> float:
    """:func:`~driftd.stats.integrated_time` of the newest finite values (bounded cost)."""
    tail = values[-stats.dependence.MAX_ROWS :]
    return stats.integrated_time(tail[np.isfinite(tail)])


def categorical_tau(column: pd.Series) -> float:
    """:func:`~driftd.stats.indicator_time` of the newest non-missing values."""
    tail = column.iloc[-stats.dependence.MAX_ROWS :]
    codes, _ = pd.factorize(tail, use_na_sentinel=True)
    return stats.indicator_time(codes[codes >= 0])


def categorical_column(
    column: pd.Series, ordered: bool
) -> tuple[pd.Index, npt.NDArray[np.int64], int, float]:
    """:func:`category_counts` and, when ``ordered``, :func:`categorical_tau`, from one pass
    over the values: a categorical's codes, or the codes of ``pd.factorize`` of strings, plain
    Python (``object``) or pandas' own (hashing a million strings is the cost of such a column;
    a second hashing for the tail's autocorrelation is not needed)."""
    array = column.array
    # Arrow counts pandas' own strings faster than a factorize and a bincount (about 17 against
    # 21 ms a million rows), but on a column not much longer than the tail a second hashing of
    # the tail costs more than it saves (0.11 + 0.07 ms against 0.05 ms at 1,000 rows).
    few = len(column) <= 2 * stats.dependence.MAX_ROWS
    strings = column.dtype == object or (isinstance(column.dtype, pd.StringDtype) and few)
    if isinstance(column.dtype, pd.CategoricalDtype) or strings:
        chunked = None if column.dtype != object else _chunked_factorize(column.to_numpy())
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = np.asarray(array.codes)
            categories, counts, n_missing = _code_counts(array)
        elif chunked is not None:
            categories, counts, n_missing, codes = chunked  # codes of the newest rows only
        else:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            # Missing values (-1) counted in slot 0 of the same pass: no mask, no copy.
            tally = np.bincount(codes + 1, minlength=len(uniques) + 1)
            n_missing = int(tally[0])
            counts = tally[1:].astype(np.int64, copy=False)
            categories = pd.Index(uniques)
        if not ordered:
            return categories, counts, n_missing, 1.0
        tail = codes[-stats.dependence.MAX_ROWS :]
        return categories, counts, n_missing, stats.indicator_time(tail[tail >= 0])
    categories, counts, n_missing = category_counts(column)
    return categories, counts, n_missing, categorical_tau(column) if ordered else 1.0


STRING_CHUNK = 131_072  # rows hashed or counted at a time (see _chunked_factorize, _code_counts)
CHUNK_LEVELS = 4_096  # beyond this many distinct values one pd.factorize of the column is cheaper


def _chunked_factorize(
    values: npt.NDArray[Any],
) -> tuple[pd.Index, npt.NDArray[np.int64], int, npt.NDArray[np.intp]] | None:
    """What one ``pd.factorize`` of ``values`` gives (distinct values in order of first
    appearance, their counts, the missing values, and the codes of the newest ``MAX_ROWS``
    rows), hashed ``STRING_CHUNK`` rows at a time and merged by the chunks' distinct values.

    A chunk's hash work stays in cache: 1M plain strings x 5 columns took 175 ms instead of
    216 ms (median of 3 on the bench's data). None (the caller factorizes the whole column)
    for a short column, one without a value, or one with more than ``CHUNK_LEVELS`` distinct
    values, where merging the chunks' distinct values would cost more than it saves.
    """
    if values.size <= STRING_CHUNK:
        return None
    tail_start = values.size - stats.dependence.MAX_ROWS
    parts: list[npt.NDArray[Any]] = []
    seen = pd.Index([], dtype=object)
    counts = np.zeros(0, dtype=np.int64)
    tail: list[npt.NDArray[np.intp]] = []
    n_missing = 0
    for start in range(0, values.size, STRING_CHUNK):
        codes, uniques = pd.factorize(values[start : start + STRING_CHUNK], use_na_sentinel=True)
        if uniques.size > CHUNK_LEVELS or counts.size > CHUNK_LEVELS:
            return None
        # Each distinct value's code in the whole column (-1: first seen in this chunk).
        slots = seen.get_indexer(pd.Index(uniques, dtype=object))
        new = slots < 0
        if new.any():
            slots[new] = counts.size + np.arange(np.count_nonzero(new))
            parts.append(uniques[new])
            counts = np.concatenate((counts, np.zeros(np.count_nonzero(new), dtype=np.int64)))
            seen = pd.Index(np.concatenate(parts), dtype=object)
        tally = np.bincount(codes + 1, minlength=uniques.size + 1)  # slot 0: missing (-1)
        n_missing += int(tally[0])
        counts[slots] += tally[1:]
        if start + codes.size > tail_start:
            whole = np.append(slots, -1)[codes]  # a missing value's -1 picks the -1 appended
            tail.append(whole[max(0, tail_start - start) :])
    if not parts:
        return None
    # dtype object, as pd.factorize gives for an object column (inference would make it "str").
    return pd.Index(np.concatenate(parts), dtype=object), counts, n_missing, np.concatenate(tail)


def numeric_values(column: pd.Series, name: str) -> npt.NDArray[np.float64]:
    """A numeric column as float64, missing values as NaN; DataError for non-numbers."""
    try:
        return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"column {name!r} is treated as numeric but holds non-numbers; "
            "list it in data.categorical"
        ) from None


def category_counts(column: pd.Series) -> tuple[pd.Index, npt.NDArray[np.int64], int]:
    """Distinct non-missing values, their counts, and the number of missing values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return _code_counts(column.array)
    counts = column.value_counts(dropna=True, sort=False)
    n_missing = len(column) - int(counts.sum())
    return counts.index, np.asarray(counts.to_numpy(dtype=np.int64), dtype=np.int64), n_missing


FEW_CATEGORIES = 8  # up to this many, one vectorised comparison per category beats a bincount


def _code_counts(values: pd.Categorical) -> tuple[pd.Index, npt.NDArray[np.int64], int]:
    """Counts straight from a categorical's integer codes (-1 = missing), skipping pandas'
    value_counts (a third of the time). With few categories, consecutive rows keep adding to
    the same counter and a bincount stalls on it; comparing per category is 5x faster.
    Otherwise the codes (int8/int16) are widened to the intp that bincount needs a chunk at a
    time, missing values (-1 + 1) in slot 0: widening a million at once wrote 8 MB, 3.1 ms a
    column against 1.7 ms."""
    codes = np.asarray(values.codes)
    k = len(values.categories)
    if k <= FEW_CATEGORIES:
        n_missing = int(np.count_nonzero(codes < 0))
        counts = np.array([np.count_nonzero(codes == j) for j in range(k)], dtype=np.int64)
    else:
        tally = np.zeros(k + 1, dtype=np.int64)
        for start in range(0, codes.size, STRING_CHUNK):
            shifted = np.add(codes[start : start + STRING_CHUNK], 1, dtype=np.intp)
            tally += np.bincount(shifted, minlength=k + 1)
        n_missing, counts = int(tally[0]), tally[1:]
    present = counts > 0  # a categorical also lists its unused categories
    return values.categories[present], counts[present], n_missing


def _fingerprint(columns: Iterable[ColumnSummary]) -> str:
    h = hashlib.sha256()
    for c in columns:
        h.update(f"{c.name}\0{c.kind}\0{c.n_rows}\0{c.n_missing}\0".encode())
        if c.numeric is not None:
            h.update(c.numeric.grid.tobytes())
            h.update(c.numeric.le.tobytes())
        if c.binned is not None:
            h.update(f"{c.binned.buckets}".encode())
            h.update(c.binned.counts.tobytes())
            h.update(c.binned.values.tobytes())
        if c.categories is not None and c.counts is not None:
            h.update("\0".join(map(repr, c.categories)).encode())
            h.update(c.counts.tobytes())
    return h.hexdigest()


def parallel_map(fn: Callable[[T], R], items: Sequence[T], cells: int) -> list[R]:
    """``fn`` over ``items`` on a small thread pool, or in this thread when ``cells`` (values
    to sort) are too few to repay the threads.

    Only sorting pays for a second thread. Measured on two cores, threads cut the sorted path's
    wall time by a third for ~15 % more CPU, but the bucket-count path's by under a tenth for a
    third more CPU (it is memory-bound), and counting categories or hashing strings mostly holds
    the GIL; so callers count only the values they will sort.
    """
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1 or cells < PARALLEL_CELLS:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="driftd-detect") as pool:
        return list(pool.map(fn, items))
