"""Binned numeric samples: KS and Wasserstein on a million rows without sorting them.

A large reference column is summarised once as counts in ``BUCKETS`` equal-width buckets placed
between two robust quantiles, plus the exact sorted values of the two open-ended tail buckets and
of every bucket holding more than ``TOLERANCE`` of the reference (atoms such as integer values,
spikes, dense clusters). A live window is counted into the same buckets in one chunked pass, and
only its values inside those exact buckets are kept.

Why the KS statistic stays within ``TOLERANCE`` of the exact one: both ECDFs are known exactly at
every bucket edge, and inside a bucket holding reference mass r and live mass l the gap between
them can exceed its value at the edges by at most min(r, l). Buckets with r > TOLERANCE are
evaluated exactly at every value they hold, so the error is at most TOLERANCE, and the estimate
never exceeds the exact statistic (every point evaluated is a real point of both ECDFs).
Wasserstein-1 is exact on the exact buckets and a trapezoid elsewhere; the trapezoid errs by at
most one bucket width in total, and Chebyshev bounds the bucketed span by 200 reference SDs, so
the normalised distance is off by at most 200 / BUCKETS (about 0.003 SD).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = BinnedReference.build(rng.normal(size=200_000))
>>> live = BinnedSample.build(ref, rng.normal(0.1, 1, size=100_000))
>>> round(ks_statistic(ref, live), 2), round(wasserstein_raw(ref, live) / ref.sd, 2)
(0.04, 0.1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

BUCKETS = 65_536
TOLERANCE = 5e-4  # largest reference mass in a bucket evaluated only at its edges
TAIL = 1e-4  # reference mass left outside the buckets at each end (kept exactly)
CHUNK = 32_768  # values per step: a chunk and its temporaries stay in the L2 cache
PROBE = 65_536  # reference values used to place the buckets


@dataclass(frozen=True, slots=True)
class Buckets:
    """Bucket 0 is (-inf, lo), buckets 1..m split [lo, hi) evenly, bucket m+1 is [hi, inf).

    The index is a monotone function of the value (each floating-point step is), so reference
    and live agree on which bucket holds every value, whatever the rounding.
    """

    lo: float
    scale: float  # buckets per unit
    m: int

    @classmethod
    def place(cls, values: FloatArray, m: int = BUCKETS) -> Buckets | None:
        """Buckets between the TAIL and 1 - TAIL quantiles of a sample of ``values``; None when
        the values have no spread to divide (the caller then uses the exact path)."""
        probe = values[:: max(1, values.size // PROBE)]
        k = int(probe.size * TAIL)
        lo, hi = (float(v) for v in np.partition(probe, (k, probe.size - 1 - k))[[k, -1 - k]])
        if not hi > lo:
            lo, hi = float(values.min()), float(values.max())
        with np.errstate(over="ignore"):
            scale = m / (hi - lo) if hi > lo else math.inf
        if not (math.isfinite(scale) and math.isfinite(lo * scale)):
            return None
        return cls(lo, scale, m)

    def index(
        self,
        x: FloatArray,
        out: npt.NDArray[np.intp] | None = None,
        scratch: FloatArray | None = None,
    ) -> npt.NDArray[np.intp]:
        """The bucket of each value; ``out`` and ``scratch`` (as long as ``x``) save allocations."""
        t = np.multiply(x, self.scale, out=scratch)
        t += 1.0 - self.lo * self.scale
        np.minimum(t, self.m + 1, out=t)  # ufuncs directly: np.clip's wrapper costs per call
        np.maximum(t, 0.0, out=t)
        if out is None:
            return t.astype(np.intp)
        out[...] = t  # truncation, like astype
        return out

    def left_edges(self) -> FloatArray:
        """Left edge of buckets 1..m+1."""
        return self.lo + np.arange(self.m + 1) / self.scale


@dataclass(frozen=True, slots=True)
class _Scan:
    counts: IntArray  # values per bucket
    kept: FloatArray  # sorted values in kept buckets, except those at their bucket's atom
    at_atom: IntArray  # values at their bucket's atom, per bucket
    index: npt.NDArray[np.intp]  # the bucket of every value


def _scan(
    buckets: Buckets,
    values: FloatArray,
    keep: BoolArray,
    atoms: FloatArray | None = None,
) -> _Scan:
    """Count ``values`` per bucket in one chunked pass, keeping those in ``keep`` buckets."""
    size = buckets.m + 2
    index = np.empty(values.size, dtype=np.intp)
    scratch = np.empty(min(CHUNK, values.size))
    kept: list[FloatArray] = []
    # When only the two tails are kept, two comparisons with a margin of one bucket find a
    # superset of their values far more cheaply than looking up every value's bucket.
    tails_only = np.count_nonzero(keep[1:-1]) == 0
    below = buckets.lo + 1.0 / buckets.scale
    above = buckets.lo + (buckets.m - 1) / buckets.scale
    for start in range(0, values.size, CHUNK):
        x = values[start : start + CHUNK]
        b = buckets.index(x, index[start : start + x.size], scratch[: x.size])
        if tails_only:
            near = x < below
            near |= x >= above
        elif atoms is not None:
            near = x != atoms[b]  # a value at its bucket's atom is only counted
        else:
            near = keep[b]
        if np.count_nonzero(near):
            xs = x[near]
            kept.append(xs[keep[buckets.index(xs)]])
    # One count over the whole index: a per-chunk count would clear and add the whole table.
    counts = np.bincount(index, minlength=size).astype(np.int64, copy=False)
    rest = np.sort(np.concatenate(kept)) if kept else np.zeros(0)
    at_atom = np.zeros(size, dtype=np.int64)
    if atoms is not None:
        off = np.bincount(buckets.index(rest), minlength=size)
        has = ~np.isnan(atoms)
        at_atom[has] = counts[has] - off[has]
    return _Scan(counts, rest, at_atom, index)


def _heavy_values(
    finite: FloatArray,
    index: npt.NDArray[np.intp],
    exact: BoolArray,
    counts: IntArray,
) -> tuple[FloatArray, IntArray]:
    """Distinct values and counts in the exact buckets. A bucket holding one value only (an
    integer column's buckets) is found without sorting its copies."""
    first = np.full(counts.size, np.nan)
    first[index[::-1]] = finite[::-1]  # the first value seen in each bucket (the last write wins)
    mixed = np.zeros(counts.size, dtype=np.bool_)
    mixed[index[finite != first[index]]] = True
    mixed &= exact
    single = np.flatnonzero(exact & ~mixed & (counts > 0))
    loose = mixed[index]
    loose_values, loose_n = np.unique(finite[loose] if loose.any() else [], return_counts=True)
    values = np.concatenate((loose_values, first[single]))
    weights = np.concatenate((loose_n, counts[single])).astype(np.int64)
    order = np.argsort(values, kind="stable")
    return values[order], weights[order]


@dataclass(frozen=True, slots=True, eq=False)
class BinnedReference:
    """A large reference column: bucket counts, and exact values where the buckets are coarse."""

    buckets: Buckets
    counts: IntArray
    exact: BoolArray  # buckets whose values are kept: the tails and the heavy ones
    atoms: FloatArray  # an exact bucket's only distinct value, else NaN
    values: FloatArray  # distinct reference values in exact buckets, sorted
    weights: IntArray  # how many reference values equal each of ``values``
    value_buckets: npt.NDArray[np.intp]  # the bucket of each of ``values``
    edges: FloatArray  # left edge of buckets 1..m+1
    n: int
    mean: float
    sd: float

    @classmethod
    def build(cls, finite: FloatArray) -> BinnedReference | None:
        """From finite values (any order); None when they cannot be bucketed (no spread)."""
        buckets = Buckets.place(finite)
        if buckets is None:
            return None
        n = int(finite.size)
        tails = np.zeros(buckets.m + 2, dtype=np.bool_)
        tails[[0, -1]] = True
        scan = _scan(buckets, finite, tails)
        counts = scan.counts
        exact = counts > TOLERANCE * n
        exact[[0, -1]] = True
        atoms = np.full(buckets.m + 2, np.nan)
        if np.count_nonzero(exact) > 2:
            values, weights = _heavy_values(finite, scan.index, exact, counts)
        else:
            values, weights = np.unique(scan.kept, return_counts=True)
        del scan
        ids = buckets.index(values)
        distinct = np.bincount(ids, minlength=buckets.m + 2)
        single = np.flatnonzero(exact & (distinct == 1))
        atoms[single] = values[np.searchsorted(ids, single, side="left")]
        with np.errstate(over="ignore", invalid="ignore"):  # overflow shows as a NaN SD
            mean = float(np.mean(finite))
            sd = float(np.std(finite))
        edges = buckets.left_edges()
        return cls(buckets, counts, exact, atoms, values, weights, ids, edges, n, mean, sd)


@dataclass(frozen=True, slots=True, eq=False)
class BinnedSample:
    """A live column counted into a reference's buckets."""

    counts: IntArray
    values: FloatArray  # sorted live values in the reference's exact buckets, off their atom
    at_atom: IntArray  # live values equal to their exact bucket's atom
    n: int
    # The gaps between the ECDFs, computed once: KS and Wasserstein share them.
    memo: dict[int, tuple[BinnedReference, FloatArray, _Points]] = field(default_factory=dict)

    @classmethod
    def build(cls, ref: BinnedReference, finite: FloatArray) -> BinnedSample:
        scan = _scan(ref.buckets, finite, ref.exact, ref.atoms)
        return cls(scan.counts, scan.kept, scan.at_atom, int(finite.size))


@dataclass(frozen=True, slots=True)
class _Points:
    """Every distinct value in an exact bucket, with both CDF gaps at and just below it."""

    x: FloatArray
    bucket: npt.NDArray[np.intp]
    gap_le: FloatArray
    gap_lt: FloatArray


def _cumulative(counts: IntArray) -> IntArray:
    """Observations in the buckets before each bucket, then the total."""
    return np.concatenate(([0], np.cumsum(counts)))


def _points(ref: BinnedReference, live: BinnedSample, cum_r: IntArray, cum_l: IntArray) -> _Points:
    b = ref.buckets
    used = np.flatnonzero(live.at_atom)
    lv = np.concatenate((live.values, ref.atoms[used]))
    lw = np.concatenate((np.ones(live.values.size, dtype=np.int64), live.at_atom[used]))
    order = np.argsort(lv, kind="stable")
    lv, lw = lv[order], lw[order]
    cw = _cumulative(lw)
    x = np.union1d(ref.values, lv)
    k = b.index(x)
    start_r = np.searchsorted(ref.value_buckets, k, side="left")
    cwr = _cumulative(ref.weights)
    start_l = np.searchsorted(b.index(lv), k, side="left")

    def gap(side: Literal["left", "right"]) -> FloatArray:
        r = cum_r[k] + cwr[np.searchsorted(ref.values, x, side=side)] - cwr[start_r]
        li = cum_l[k] + cw[np.searchsorted(lv, x, side=side)] - cw[start_l]
        return np.asarray(r / ref.n - li / live.n, dtype=np.float64)

    return _Points(x, k, gap("right"), gap("left"))


def _gaps(ref: BinnedReference, live: BinnedSample) -> tuple[FloatArray, _Points]:
    """F_ref - F_live just below the left edge of buckets 0..m+1 (then 0 after the last), and
    at every value of the exact buckets."""
    hit = live.memo.get(id(ref))
    if hit is None or hit[0] is not ref:
        cum_r, cum_l = _cumulative(ref.counts), _cumulative(live.counts)
        edges = np.asarray(cum_r / ref.n - cum_l / live.n, dtype=np.float64)
        hit = (ref, edges, _points(ref, live, cum_r, cum_l))  # holding ``ref`` pins its id
        live.memo[id(ref)] = hit
    return hit[1], hit[2]


def ks_statistic(ref: BinnedReference, live: BinnedSample) -> float:
    """The largest ECDF gap, within TOLERANCE of the exact two-sample KS statistic."""
    edge, pts = _gaps(ref, live)
    best = float(np.abs(edge).max())
    if pts.x.size:
        best = max(best, float(np.abs(pts.gap_le).max()), float(np.abs(pts.gap_lt).max()))
    return best


def wasserstein_raw(ref: BinnedReference, live: BinnedSample) -> float:
    """Area between the two ECDFs in the feature's units (see the module note on its error)."""
    b = ref.buckets
    m = b.m
    edge, pts = _gaps(ref, live)  # edge[k] = gap just below bucket k's left edge
    width = 1.0 / b.scale
    absd = np.abs(edge)
    inner = np.arange(1, m + 1)
    coarse = inner[~ref.exact[inner]]
    area = float(((absd[coarse] + absd[coarse + 1]) * 0.5).sum()) * width
    left = np.concatenate(([-np.inf], ref.edges))  # left edge of buckets 0..m+1
    right = np.concatenate((ref.edges, [np.inf]))  # right edge of buckets 0..m+1
    exact = np.flatnonzero(ref.exact)
    has = np.zeros(m + 2, dtype=np.bool_)
    has[pts.bucket] = True
    empty = exact[~has[exact] & (exact > 0) & (exact <= m)]
    area += float(absd[empty].sum()) * width  # an exact bucket without values: gap constant
    if pts.x.size:
        k, x = pts.bucket, pts.x
        first = np.concatenate(([True], k[1:] != k[:-1]))
        last = np.concatenate((k[1:] != k[:-1], [True]))
        nxt = np.concatenate((x[1:], [0.0]))
        end = np.where(last, np.where(k == m + 1, x, right[k]), nxt)
        area += float((np.abs(pts.gap_le) * np.clip(end - x, 0.0, None)).sum())
        start = np.where(k == 0, x, left[k])
        lead = np.clip(x - start, 0.0, None)[first]
        area += float((absd[k[first]] * lead).sum())
    return area


def decile_counts(
    ref: BinnedReference, live: BinnedSample, bins: int = 10
) -> tuple[IntArray, IntArray]:
    """Counts in bins cut at the bucket edges nearest the reference quantiles 1/bins, ...;
    open-ended end bins (the binned counterpart of reference-decile bins)."""
    cum_r, cum_l = _cumulative(ref.counts), _cumulative(live.counts)
    cuts = np.searchsorted(cum_r, np.arange(1, bins) * (ref.n / bins), side="left")
    cuts = np.unique(np.clip(cuts, 1, ref.buckets.m + 1))
    idx = np.concatenate(([0], cuts, [cum_r.size - 1]))
    return np.diff(cum_r[idx]), np.diff(cum_l[idx])
