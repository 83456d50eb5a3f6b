"""Live values in the reference's exact buckets, held as counts per cell: bounded by the reference.

The in-memory path keeps every live value that falls into an exact bucket (the reference's tails
and heavy buckets) to place it exactly. A window that leaves the reference's range puts nearly
all its values there, so a merge that kept them would grow with the window. Here they are
counted instead, into cells cut at the reference's distinct exact values:

- a live value equal to a reference value is counted at that value (``at``);
- any other is counted in the open cell between its reference neighbours within its bucket
  (``n``), with its sum (``total``) and the smallest such value (``low``).

Between two consecutive reference values the reference ECDF is constant, so ``F_ref - F_live``
is monotone across the cell and its largest absolute value is at one of the cell's ends: the KS
statistic needs only the count per cell, and placing a cell's values at one point inside it
gives the exact statistic. Wasserstein-1 integrates ``|F_ref - F_live|``, which is linear in the
positions where the gap keeps its sign: placing a cell's values at their mean is exact there,
and in particular beyond the reference's range (the gap's sign is fixed). In a cell where the
live ECDF crosses the reference's, it errs by at most the cell's live share times half its
width (:func:`wasserstein_bound`). Every array has ``len(values)`` or ``len(values) + exact
buckets`` entries whatever the window: a merge adds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from driftd import stats
from driftd.stats import binned

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """The cells of one reference column (computed once per plan)."""

    exact: IntArray  # the exact buckets' numbers, ascending
    bucket: IntArray  # per open cell: its bucket
    lower: FloatArray  # per open cell: the reference value below it in its bucket, or -inf
    upper: FloatArray  # ... and above it, or inf

    @classmethod
    def of(cls, ref: stats.BinnedReference) -> Layout:
        exact = np.flatnonzero(ref.exact).astype(np.int64)
        vb = ref.value_buckets
        starts = np.searchsorted(vb, exact, side="left")
        ends = np.searchsorted(vb, exact, side="right")
        # A bucket holding r reference values has r + 1 open cells, numbered j + rank where j
        # is the index of the next reference value (see ``tally``).
        sizes = ends - starts + 1
        bucket = np.repeat(exact, sizes).astype(np.int64)
        j = np.concatenate([np.arange(s, e + 1) for s, e in zip(starts, ends, strict=True)])
        first = np.concatenate(([True], bucket[1:] != bucket[:-1]))
        last = np.concatenate((bucket[1:] != bucket[:-1], [True]))
        vals = np.concatenate((ref.values, [np.inf]))
        prev = np.concatenate(([-np.inf], ref.values))
        lower = np.where(first, -np.inf, prev[j])
        upper = np.where(last, np.inf, vals[j])
        return cls(exact, bucket, lower, upper)


@dataclass(frozen=True, slots=True, eq=False)
class Cells:
    """Live values of exact buckets, off their bucket's atom: counted, not kept."""

    at: IntArray  # per reference value: live values equal to it
    n: IntArray  # per open cell: live values in it
    total: FloatArray  # per open cell: their sum
    low: FloatArray  # per open cell: the smallest (inf when none)

    @property
    def nbytes(self) -> int:
        return self.at.nbytes + self.n.nbytes + self.total.nbytes + self.low.nbytes


def tally(ref: stats.BinnedReference, layout: Layout, kept: FloatArray) -> Cells:
    """The cells of ``kept`` (sorted live values of exact buckets, none at its bucket's atom)."""
    values, size = ref.values, layout.bucket.size
    j = np.searchsorted(values, kept, side="left")
    equal = np.zeros(kept.size, dtype=np.bool_)
    if values.size:
        inside = j < values.size
        equal[inside] = values[j[inside]] == kept[inside]
    at = np.bincount(j[equal], minlength=values.size).astype(np.int64)
    rest = kept[~equal]
    cell = j[~equal] + np.searchsorted(layout.exact, ref.buckets.index(rest))
    n = np.bincount(cell, minlength=size).astype(np.int64)
    total = np.bincount(cell, weights=rest, minlength=size).astype(np.float64)
    low = np.full(size, np.inf)
    if rest.size:  # sorted: a cell's first value is its smallest
        held, first = np.unique(cell, return_index=True)
        low[held] = rest[first]
    return Cells(at, n, total, low)


def merge(a: Cells, b: Cells) -> Cells:
    """Both cells' counts (addition)."""
    return Cells(a.at + b.at, a.n + b.n, a.total + b.total, np.minimum(a.low, b.low))


def positions(
    ref: stats.BinnedReference, layout: Layout, cells: Cells
) -> tuple[FloatArray, IntArray]:
    """Sorted points and their weights standing for the cells: each reference value with its
    count, each open cell's values at their mean (at their smallest value where rounding puts
    the mean outside the cell or its bucket)."""
    place, used = _places(ref, layout, cells)
    hit = cells.at > 0
    points = np.concatenate((ref.values[hit], place))
    weights = np.concatenate((cells.at[hit], cells.n[used])).astype(np.int64)
    order = np.argsort(points, kind="stable")
    return points[order], weights[order]


def _places(
    ref: stats.BinnedReference, layout: Layout, cells: Cells
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The point of each open cell holding live values, and those cells' numbers."""
    used = np.flatnonzero(cells.n > 0)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = cells.total[used] / cells.n[used]
    ok = (mean > layout.lower[used]) & (mean < layout.upper[used]) & np.isfinite(mean)
    ok[ok] &= ref.buckets.index(mean[ok]) == layout.bucket[used][ok]
    return np.where(ok, mean, cells.low[used]), used


def wasserstein_bound(
    ref: stats.BinnedReference, layout: Layout, cells: Cells, sample: stats.BinnedSample
) -> float:
    """How far (in the feature's units) the Wasserstein-1 distance of ``sample`` (built from
    ``cells``) can be from the one computed from the live values themselves: the sum, over the
    open cells where ``F_ref - F_live`` changes sign, of the cell's live share times half the
    cell's width (the most its values can lie from their mean, on average)."""
    place, used = _places(ref, layout, cells)
    if used.size == 0:
        return 0.0
    # The ECDF gaps just below and at every point (the ones KS and Wasserstein are built on):
    # at a cell's point they are the gaps at the cell's two ends.
    _, pts = binned._gaps(ref, sample)
    at = np.searchsorted(pts.x, place)
    cross = pts.gap_lt[at] * pts.gap_le[at] < 0
    if not cross.any():
        return 0.0
    k = layout.bucket[used][cross]
    b = ref.buckets
    lower = np.maximum(
        layout.lower[used][cross], np.where(k < 1, -np.inf, b.lo + (k - 1) / b.scale)
    )
    upper = np.minimum(layout.upper[used][cross], np.where(k > b.m, np.inf, b.lo + k / b.scale))
    return float((cells.n[used][cross] * (upper - lower)).sum()) / (2 * sample.n)
