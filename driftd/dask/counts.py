"""A live window counted partition by partition, then merged: no partition outlives its count.

Each partition (a Parquet row group file, or a CSV block) is cut to the window, then every
numeric feature is counted into the reference's buckets (:class:`driftd.stats.BinnedSample`)
and every categorical feature into category counts. Counts add: the merged counts are those the
in-memory path computes on the whole window, the binned KS statistic is within the same
``TOLERANCE`` of the exact one, and category counts are exact. What a merge holds is the
buckets (65,002 integers per numeric column), the categories seen, and the live values of the
reference's exact buckets (its tails, beyond its range, and its heavy buckets) as counts per
cell between the reference's values (:mod:`driftd.dask.cells`): a size set by the reference,
whatever the window, even one that leaves the reference's range altogether.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftd import sources, stats
from driftd.dask import cells
from driftd.detect import ReferenceSummary
from driftd.detect.features import Counted, CountedWindow
from driftd.detect.summary import category_counts, numeric_values
from driftd.domain import FeatureKind
from driftd.errors import DataError
from driftd.sources import _time

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """What a partition is counted against: shipped to the workers once per computation."""

    binned: Mapping[str, stats.BinnedReference]  # numeric features
    layouts: Mapping[str, cells.Layout]  # their exact buckets' cells
    categorical: tuple[str, ...]
    timestamp: str | None  # with start/end: rows outside (start, end] are dropped first
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True, eq=False)
class _Numeric:
    counts: IntArray
    cells: cells.Cells  # the values in exact buckets, off their atom
    at_atom: IntArray
    n: int
    n_nan: int
    n_inf: int


@dataclass(frozen=True, slots=True, eq=False)
class Partial:
    """The counts of some partitions; :func:`merge` adds two."""

    n_rows: int  # rows inside the window
    n_source: int  # rows read, inside the window or not
    first: pd.Timestamp | None  # earliest and latest time read (for the empty-window message)
    last: pd.Timestamp | None
    numeric: dict[str, _Numeric]
    categorical: dict[str, tuple[pd.Series, int]]  # counts by category, missing values


def count(part: pd.DataFrame, plan: Plan) -> Partial:
    """The counts of one partition."""
    n_source, first, last = len(part), None, None
    if plan.timestamp is not None and plan.end is not None:
        if plan.timestamp not in part.columns:
            raise DataError(f"live window: missing timestamp column {plan.timestamp!r}")
        times = _time.parse(part[plan.timestamp], plan.timestamp, "live window")
        if len(times):  # the span read, for the message when the window holds no row
            first, last = times.min(), times.max()
        part = sources.window(
            part.assign(**{plan.timestamp: times}), plan.timestamp, plan.start, plan.end
        )
    numeric = {}
    for name, ref in plan.binned.items():
        sample = stats.BinnedSample.build(ref, numeric_values(part[name], name))
        held = cells.tally(ref, plan.layouts[name], sample.values)
        numeric[name] = _Numeric(
            sample.counts, held, sample.at_atom, sample.n, sample.n_nan, sample.n_inf
        )
    categorical = {}
    for name in plan.categorical:
        categories, counts, n_missing = category_counts(part[name])
        categorical[name] = (pd.Series(counts, index=categories, dtype=np.int64), n_missing)
    return Partial(len(part), n_source, first, last, numeric, categorical)


def merge(a: Partial, b: Partial) -> Partial:
    """The counts of both (addition: the order of partitions does not matter)."""
    numeric = {}
    for name, x in a.numeric.items():
        y = b.numeric[name]
        numeric[name] = _Numeric(
            x.counts + y.counts,
            cells.merge(x.cells, y.cells),
            x.at_atom + y.at_atom,
            x.n + y.n,
            x.n_nan + y.n_nan,
            x.n_inf + y.n_inf,
        )
    categorical = {}
    for name, (counts, missing) in a.categorical.items():
        other, other_missing = b.categorical[name]
        both = counts.add(other, fill_value=0).astype(np.int64)
        categorical[name] = (both, missing + other_missing)
    return Partial(
        a.n_rows + b.n_rows,
        a.n_source + b.n_source,
        _pick(min, a.first, b.first),
        _pick(max, a.last, b.last),
        numeric,
        categorical,
    )


def _pick(fn: Any, x: pd.Timestamp | None, y: pd.Timestamp | None) -> pd.Timestamp | None:
    if x is None or y is None:
        return x if y is None else y
    out: pd.Timestamp = fn(x, y)
    return out


def sample(x: _Numeric, ref: stats.BinnedReference, layout: cells.Layout) -> stats.BinnedSample:
    """One column's merged counts as a binned sample: the cells' points, weighted."""
    points, weights = cells.positions(ref, layout, x.cells)
    return stats.BinnedSample(x.counts, points, x.at_atom, x.n, x.n_nan, x.n_inf, weights)


def window(total: Partial, plan: Plan) -> CountedWindow:
    """The merged counts in the form :func:`driftd.detect.detect` takes."""
    counted: dict[str, Counted] = {}
    for name, x in total.numeric.items():
        counted[name] = Counted(binned=sample(x, plan.binned[name], plan.layouts[name]))
    for name, (by_category, missing) in total.categorical.items():
        seen = by_category[by_category > 0]
        values = np.asarray(seen.to_numpy(dtype=np.int64), dtype=np.int64)
        counted[name] = Counted(categories=seen.index, counts=values, n_missing=missing)
    return CountedWindow(total.n_rows, counted)


def plan(
    summary: ReferenceSummary,
    timestamp: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Plan:
    """The plan for ``summary``'s features; DataError for a numeric one it holds no buckets for
    (see :func:`driftd.dask.reference.summarize`)."""
    binned: dict[str, stats.BinnedReference] = {}
    categorical: list[str] = []
    for name, column in summary.columns.items():
        if column.kind is FeatureKind.CATEGORICAL:
            categorical.append(name)
        elif column.binned is not None:
            binned[name] = column.binned
        else:
            raise DataError(f"column {name!r}: the reference summary holds no bucket counts")
    layouts = {name: cells.Layout.of(ref) for name, ref in binned.items()}
    return Plan(binned, layouts, tuple(categorical), timestamp, start, end)


def nbytes(total: Partial) -> int:
    """Bytes of counts a partial holds: set by the reference's buckets and cells and by the
    categories seen, not by the number of rows counted."""
    held = sum(x.counts.nbytes + x.at_atom.nbytes + x.cells.nbytes for x in total.numeric.values())
    return held + sum(16 * len(c) for c, _ in total.categorical.values())  # count, label
