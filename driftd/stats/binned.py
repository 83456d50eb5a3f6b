"""Binned numeric samples: KS and Wasserstein on a million rows without sorting them.

A large reference column is summarised once as counts in ``BUCKETS`` equal-width buckets
(:mod:`driftd.stats.buckets`, which also holds the counting pass) placed between two robust
quantiles (see TAILS), plus the exact sorted values of the two open-ended tail buckets and of
every bucket holding more than ``TOLERANCE`` of the reference (atoms such as
integer values, spikes, dense clusters). A live window is counted into the same buckets in one
chunked pass, and only its values inside those exact buckets are kept.

Why the KS statistic stays within ``TOLERANCE`` of the exact one: both ECDFs are known exactly at
every bucket edge, and inside a bucket holding reference mass r and live mass l the gap between
them can exceed its value at the edges by at most min(r, l). Buckets with r > TOLERANCE are
evaluated exactly at every value they hold, so the error is at most TOLERANCE, and the estimate
never exceeds the exact statistic (every point evaluated is a real point of both ECDFs).
Wasserstein-1 is exact on the exact buckets and a trapezoid elsewhere; the trapezoid errs by at
most one bucket width in total, and Chebyshev bounds the bucketed span by 200 reference SDs, so
the normalised distance is off by at most 200 / BUCKETS (about 0.003 SD). The reference SD that
normalises it is taken from the same counts, each value at its bucket's midpoint: off by at most
half a bucket width, 0.0015 SD at worst and about 1e-7 of it on the families in the tests.

Costs that shaped the code: the reference is read once (a contiguous probe places the buckets and
foretells the atoms, then one counting pass); no BLAS call (OpenBLAS threads spin after one).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = BinnedReference.build(rng.normal(size=200_000))
>>> live = BinnedSample.build(ref, rng.normal(0.1, 1, size=100_000))
>>> round(ks_statistic(ref, live), 2), round(wasserstein_raw(ref, live) / ref.sd, 2)
(0.04, 0.1)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from driftd.stats.buckets import (
    BoolArray,
    Buckets,
    Counted,
    FloatArray,
    IntArray,
    count_values,
    spread_sample,
)

TOLERANCE = 5e-4  # largest reference mass in a bucket evaluated only at its edges
# Reference mass left outside the buckets at each end (kept exactly): the first that leaves no
# bucket near the mode denser than DENSE. A heavy tail (lognormal, say) stretches the 0.01 %
# quantiles so far that the buckets at the mode approach TOLERANCE and would all be kept exactly.
TAILS = (1e-4, 1e-3, 1e-2)
DENSE = 0.6 * TOLERANCE  # well below TOLERANCE once the sliding mean smooths the probe's noise
ATOMS_ONLY = 0.99  # share of reference values at atoms above which a live scan checks atoms alone


def _densest(hits: IntArray, run: int = 64) -> float:
    """The largest mean of ``hits`` over ``run`` consecutive buckets: a bucket's own count of
    probe values is too noisy to tell a dense region from luck."""
    total = _cumulative(hits)
    return float((total[run:] - total[:-run]).max()) / run


@functools.cache
def _midpoints(m: int) -> tuple[FloatArray, FloatArray]:
    mid = np.arange(m, dtype=np.float64) + 0.5
    return mid, np.square(mid)


def _moments(
    buckets: Buckets,
    counts: IntArray,
    exact: npt.NDArray[np.intp],
    values: FloatArray,
    weights: IntArray,
) -> tuple[float, float]:
    """Mean and SD with each value of a counted bucket at the bucket's midpoint and the values
    of the ``exact`` buckets as they are: off by at most half a bucket width (Minkowski), about
    6e-5 SD for a normal column, and no pass over the data (one costs as much as the scan's
    counting). Overflow shows as an infinite or NaN SD."""
    m, n, width = buckets.m, float(counts.sum()), 1.0 / buckets.scale
    inner = counts[1 : m + 1]
    mid, mid2 = _midpoints(m)  # in bucket widths from ``lo``, and their squares
    held = exact[(exact > 0) & (exact <= m)] - 1  # exact inner buckets, 0-based like ``inner``
    with np.errstate(over="ignore", invalid="ignore"):
        off = values - buckets.lo
        w = weights.astype(np.float64)
        # einsum, not a BLAS dot: OpenBLAS threads spin after each call and double the CPU
        c1 = float(np.einsum("i,i->", inner, mid) - np.einsum("i,i->", inner[held], mid[held]))
        c2 = float(np.einsum("i,i->", inner, mid2) - np.einsum("i,i->", inner[held], mid2[held]))
        s1 = c1 * width + float(np.einsum("i,i->", w, off))
        s2 = c2 * width * width + float(np.einsum("i,i,i->", w, off, off))
        mean = s1 / n
        return buckets.lo + mean, math.sqrt(max(s2 / n - mean * mean, 0.0))


def _exact_values(
    buckets: Buckets,
    values: FloatArray,
    scan: Counted,
    exact: BoolArray,
    listed: npt.NDArray[np.intp],
    keep: BoolArray,
    guess: FloatArray,
) -> tuple[FloatArray, IntArray]:
    """Distinct values and their counts in the ``exact`` buckets (``listed`` by number), from a
    scan that kept the values of the ``keep`` buckets other than their ``guess``."""
    kept = scan.kept[exact[buckets.index(scan.kept)]]
    if not keep[listed].all():  # a heavy bucket the probe did not foresee (rare)
        missed = exact & ~keep
        finite = values if scan.n_nan + scan.n_inf == 0 else values[np.isfinite(values)]
        kept = np.concatenate((kept, finite[missed[buckets.index(finite)]]))
    loose, loose_n = np.unique(kept, return_counts=True)
    at = listed[scan.at_atom[listed] > 0]
    values = np.concatenate((loose, guess[at]))
    weights = np.concatenate((loose_n, scan.at_atom[at])).astype(np.int64)
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
    n: int  # finite values
    mean: float
    sd: float
    n_nan: int = 0
    n_inf: int = 0
    # cumulative() computed once: every check against this reference needs it (0.25 ms a column).
    memo: dict[str, npt.NDArray[np.generic]] = field(default_factory=dict, repr=False)

    def cumulative(self) -> tuple[IntArray, FloatArray]:
        """Reference values in the buckets before each bucket (then ``n``), and those as shares
        of ``n``; read-only arrays, shared by every check."""
        if "share" not in self.memo:
            cum = _cumulative(self.counts)
            share = np.multiply(cum, 1.0 / self.n, dtype=np.float64)
            cum.flags.writeable = share.flags.writeable = False
            self.memo["cum"], self.memo["share"] = cum, share
        return self.memo["cum"], self.memo["share"]  # type: ignore[return-value]

    @property
    def atom_share(self) -> float:
        """Share of the values that sit at their bucket's atom."""
        at = self.atoms[self.value_buckets] == self.values
        return float(self.weights[at].sum()) / self.n

    @classmethod
    def build(cls, values: FloatArray) -> BinnedReference | None:
        """From values in any order (NaNs and infinities are tallied, not counted); None when
        the finite values cannot be bucketed (no spread)."""
        probe = spread_sample(values)  # a strided read costs a pass over the column: draw it once
        probe = probe[np.isfinite(probe)]
        if probe.size == 0:
            return None
        # The probe foretells the atoms (a bucket whose probe values are all one value, like an
        # integer column's), so the scan counts their copies instead of keeping them; a heavy
        # bucket holding many values is found by the counts and gathered after the scan.
        for tail in TAILS:
            buckets = Buckets.place(values, tail, probe)
            if buckets is None:
                return None
            at = buckets.index(probe)
            hits = np.bincount(at, minlength=buckets.m + 2)
            keep = hits >= math.ceil(TOLERANCE * probe.size / 4)  # could hold TOLERANCE or more
            near = keep[at]
            at, seen = at[near], probe[near]
            guess = np.full(buckets.m + 2, np.nan)
            guess[at] = seen  # the last write wins: any probe value of the bucket
            keep[at[seen != guess[at]]] = False  # two distinct probe values: not an atom
            spread = np.where(keep, 0, hits)  # probe values outside atoms ...
            spread[[0, -1]] = 0  # ... and outside the tails, which are kept exactly anyway
            dense = DENSE * probe.size
            if spread.max() < dense or _densest(spread) < dense:  # max: a cheap first look
                break
        assert buckets is not None  # the loop ran at least once
        guess[~keep] = np.nan
        at_atoms = float(hits[keep].sum()) / probe.size  # the tails hold no atom (yet)
        keep[[0, -1]] = True
        scan = count_values(buckets, values, keep, guess, atoms_only=at_atoms > ATOMS_ONLY)
        n = scan.n
        counts = scan.counts
        # Few buckets are exact: work on their numbers, not on masks of all 65,002 buckets.
        listed = np.union1d(np.flatnonzero(counts > TOLERANCE * n), [0, buckets.m + 1])
        exact = np.zeros(buckets.m + 2, dtype=np.bool_)
        exact[listed] = True
        distinct, weights = _exact_values(buckets, values, scan, exact, listed, keep, guess)
        mean, sd = _moments(buckets, counts, listed, distinct, weights)
        n_nan, n_inf = scan.n_nan, scan.n_inf
        del scan
        atoms = np.full(buckets.m + 2, np.nan)
        ids = buckets.index(distinct)
        held, first, per_bucket = np.unique(ids, return_index=True, return_counts=True)
        atoms[held[per_bucket == 1]] = distinct[first[per_bucket == 1]]
        return cls(buckets, counts, exact, atoms, distinct, weights, ids, n, mean, sd, n_nan, n_inf)


@dataclass(frozen=True, slots=True, eq=False)
class BinnedSample:
    """A live column counted into a reference's buckets."""

    counts: IntArray
    values: FloatArray  # sorted live values in the reference's exact buckets, off their atom
    at_atom: IntArray  # live values equal to their exact bucket's atom
    n: int  # finite values
    n_nan: int
    n_inf: int
    # How many live values each of ``values`` stands for (None: one each). A merged count
    # (driftd.dask.cells) places a run of live values between two reference values at one point.
    weights: IntArray | None = None
    # The gaps between the ECDFs, computed once: KS and Wasserstein share them.
    memo: dict[int, tuple[BinnedReference, FloatArray, _Points]] = field(default_factory=dict)

    @classmethod
    def build(cls, ref: BinnedReference, values: FloatArray) -> BinnedSample:
        """From values in any order; NaNs and infinities are tallied, not counted."""
        share = ref.atom_share
        atoms = ref.atoms if share > 0 else None
        scan = count_values(ref.buckets, values, ref.exact, atoms, atoms_only=share > ATOMS_ONLY)
        n = scan.n
        return cls(scan.counts, np.sort(scan.kept), scan.at_atom, n, scan.n_nan, scan.n_inf)


@dataclass(frozen=True, slots=True)
class _Points:
    """Every distinct value in an exact bucket, with both CDF gaps at and just below it."""

    x: FloatArray
    bucket: npt.NDArray[np.intp]
    gap_le: FloatArray
    gap_lt: FloatArray


def _cumulative(counts: IntArray) -> IntArray:
    """Observations in the buckets before each bucket, then the total."""
    total = np.empty(counts.size + 1, dtype=np.int64)
    total[0] = 0
    np.cumsum(counts, out=total[1:])  # in place: concatenating a copy costs as much again
    return total


def _points(ref: BinnedReference, live: BinnedSample, cum_r: IntArray, cum_l: IntArray) -> _Points:
    b = ref.buckets
    used = np.flatnonzero(live.at_atom)
    lv = np.concatenate((live.values, ref.atoms[used]))
    ones = np.ones(live.values.size, dtype=np.int64) if live.weights is None else live.weights
    lw = np.concatenate((ones, live.at_atom[used]))
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
        (cum_r, share), cum_l = ref.cumulative(), _cumulative(live.counts)
        edges: FloatArray = share - cum_l * (1.0 / live.n)
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
    m = ref.buckets.m
    edge, pts = _gaps(ref, live)  # edge[k] = gap just below bucket k's left edge
    width = 1.0 / ref.buckets.scale
    absd = np.abs(edge)
    # Trapezoids over buckets 1..m (slices, not gathers: this runs over 65,000 buckets), less
    # those of the exact buckets, whose area is summed value by value below.
    trapezoids = absd[1 : m + 1] + absd[2 : m + 2]
    exact = np.flatnonzero(ref.exact)
    inner = exact[(exact > 0) & (exact <= m)]
    area = (float(trapezoids.sum()) - float(trapezoids[inner - 1].sum())) * 0.5 * width
    has = np.zeros(m + 2, dtype=np.bool_)
    has[pts.bucket] = True
    empty = inner[~has[inner]]
    area += float(absd[empty].sum()) * width  # an exact bucket without values: gap constant
    if pts.x.size:
        k, x = pts.bucket, pts.x
        first = np.concatenate(([True], k[1:] != k[:-1]))
        last = np.concatenate((k[1:] != k[:-1], [True]))
        nxt = np.concatenate((x[1:], [0.0]))
        lo = ref.buckets.lo
        right = lo + k * width  # the right edge of bucket k < m + 1
        end = np.where(last, np.where(k == m + 1, x, right), nxt)
        area += float((np.abs(pts.gap_le) * np.clip(end - x, 0.0, None)).sum())
        start = np.where(k == 0, x, lo + (k - 1) * width)  # the left edge of bucket k > 0
        lead = np.clip(x - start, 0.0, None)[first]
        area += float((absd[k[first]] * lead).sum())
    return area


def decile_counts(
    ref: BinnedReference, live: BinnedSample, bins: int = 10
) -> tuple[IntArray, IntArray]:
    """Counts in bins cut at the bucket edges nearest the reference quantiles 1/bins, ...;
    open-ended end bins (the binned counterpart of reference-decile bins)."""
    cum_r, cum_l = ref.cumulative()[0], _cumulative(live.counts)
    cuts = np.searchsorted(cum_r, np.arange(1, bins) * (ref.n / bins), side="left")
    cuts = np.unique(np.clip(cuts, 1, ref.buckets.m + 1))
    idx = np.concatenate(([0], cuts, [cum_r.size - 1]))
    return np.diff(cum_r[idx]), np.diff(cum_l[idx])
