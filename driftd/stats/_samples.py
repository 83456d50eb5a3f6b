"""Numeric samples prepared for two-sample statistics: a sorted live sample and a reference ECDF.

Every numeric statistic in driftd is computed from the two empirical CDFs. The reference side is a
:class:`NumericReference`: a sorted grid of values with the exact count of reference values at or
below each grid point. When the reference has at most ``max_grid`` distinct values the grid holds
all of them and the reference is *lossless* (statistics are exact); beyond that it is a quantile
sketch whose KS error is at most the reference mass inside one grid cell (about ``1/max_grid``).
The live side is a :class:`Sample`: sorted values (optionally with counts), so that counts and
integrals of its ECDF at the grid points cost one binary search each and one O(n) pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from driftd.errors import StatsError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SKETCH_GRID = 16_384  # grid points of a sketched reference: KS error <= ~7e-5
_TAIL = 1_024  # extreme reference values kept exactly in a sketch (heavy tails stay exact)


def finite_array(values: npt.ArrayLike, which: str) -> FloatArray:
    """``values`` as a 1-D float64 array; StatsError when empty, non-numeric or non-finite."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{which} sample is not numeric: {exc}") from None
    if arr.ndim != 1:
        raise StatsError(f"{which} sample must be one-dimensional (got shape {arr.shape})")
    if arr.size == 0:
        raise StatsError(f"{which} sample is empty")
    bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise StatsError(f"{which} sample has {bad} NaN or infinite values; drop them first")
    return arr


def sorted_finite(values: FloatArray) -> tuple[FloatArray, int, int]:
    """The finite values of ``values`` sorted (a view into one sorted copy), the number of
    NaNs and the number of infinities. One sort, no mask copy: numpy sorts NaN last."""
    ordered = np.sort(values)
    lo = int(np.searchsorted(ordered, -np.inf, side="right"))
    hi = int(np.searchsorted(ordered, np.inf, side="left"))
    nan = int(ordered.size - np.searchsorted(ordered, np.nan, side="left"))
    return ordered[lo:hi], nan, ordered.size - nan - (hi - lo)


def split_finite(values: FloatArray) -> tuple[FloatArray, int, int]:
    """The finite values of ``values`` in their order (``values`` itself when all are finite),
    the number of NaNs and the number of infinities; no sort."""
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(np.add.reduce(values)):  # a NaN or an infinity would show in the sum
            return values, 0, 0
    finite = np.isfinite(values)
    n_finite = int(np.count_nonzero(finite))
    if n_finite == values.size:  # the sum overflowed
        return values, 0, 0
    n_nan = int(np.count_nonzero(np.isnan(values)))
    return values[finite], n_nan, values.size - n_finite - n_nan


@dataclass(frozen=True, slots=True, eq=False)
class Sample:
    """A sorted numeric sample; ``counts`` (None = each value once) lets one value stand for many.

    >>> s = Sample.of([3.0, 1.0, 2.0])
    >>> s.n, s.values.tolist(), s.count_le(np.array([2.0])).tolist()
    (3, [1.0, 2.0, 3.0], [2])
    """

    values: FloatArray
    counts: IntArray | None
    n: int
    center: float  # subtracted before summing, so that large offsets keep their precision
    cum: IntArray | None  # [0, cumsum(counts)]; None when counts is None
    # Positions of a reference grid in ``values``, memoised: KS and Wasserstein share them.
    memo: dict[int, tuple[FloatArray, IntArray, IntArray]] = field(default_factory=dict)

    @classmethod
    def of(cls, values: npt.ArrayLike, center: float | None = None) -> Sample:
        """Sort ``values`` (finite, non-empty) into a sample."""
        return cls.sorted(np.sort(finite_array(values, "live")), center)

    @classmethod
    def sorted(cls, arr: FloatArray, center: float | None = None) -> Sample:
        """A sample from values already sorted and finite (not checked: the caller sorted them)."""
        c = float(arr[arr.size // 2]) if center is None else center
        return cls(arr, None, int(arr.size), c, None)

    @classmethod
    def weighted(cls, values: FloatArray, counts: IntArray, center: float) -> Sample:
        """Distinct sorted ``values`` holding ``counts`` observations each (zeros allowed)."""
        cum = np.zeros(values.size + 1, dtype=np.int64)
        np.cumsum(counts, out=cum[1:])
        return cls(values, counts, int(cum[-1]), center, cum)

    def count(self, pos: IntArray) -> IntArray:
        """Observations before each position of ``values``."""
        return pos if self.cum is None else self.cum[pos]

    def count_le(self, points: FloatArray) -> IntArray:
        """Number of observations <= each point."""
        return self.count(np.searchsorted(self.values, points, side="right"))

    def count_lt(self, points: FloatArray) -> IntArray:
        """Number of observations < each point."""
        return self.count(np.searchsorted(self.values, points, side="left"))

    def grid_positions(self, grid: FloatArray) -> tuple[IntArray, IntArray]:
        """Positions of ``grid`` in ``values`` (side right, side left), computed once per grid."""
        hit = self.memo.get(id(grid))
        if hit is None and self.values is grid:  # a sample on the grid itself (resampling)
            hit = (grid, np.arange(1, grid.size + 1), np.arange(grid.size))
            self.memo[id(grid)] = hit
        if hit is None or hit[0] is not grid:
            right = np.searchsorted(self.values, grid, side="right")
            # Sides differ only where a grid value occurs in the sample: search just those.
            tied = np.flatnonzero(self.values[np.maximum(right - 1, 0)] == grid)
            left = right.copy()
            left[tied] = np.searchsorted(self.values, grid[tied], side="left")
            hit = (grid, right, left)  # holding ``grid`` keeps its id from being reused
            self.memo[id(grid)] = hit
        return hit[1], hit[2]

    def prefix_sums(self, pos: IntArray) -> FloatArray:
        """Sum of the centred observations before each position of ``values``."""
        if self.counts is not None:
            sums = np.zeros(self.values.size + 1)
            np.cumsum(self.counts * (self.values - self.center), out=sums[1:])
            return sums[pos]
        # Segment sums between the wanted positions: O(n) with no n-sized prefix array.
        marks = np.sort(np.concatenate(([0], pos)))
        marks = marks[np.concatenate(([True], marks[1:] != marks[:-1]))]
        starts = marks[marks < self.n]
        seg = np.add.reduceat(self.values - self.center, starts)
        prefix = np.concatenate(([0.0], np.cumsum(seg)))  # prefix[i] = sum before starts[i]
        return prefix[np.searchsorted(starts, pos, side="left")]

    def order_stat(self, j: IntArray) -> FloatArray:
        """The j-th smallest observation (1-based), for j in [1, n]."""
        if self.cum is None:
            return self.values[j - 1]
        return self.values[np.searchsorted(self.cum, j, side="left") - 1]

    def expanded(self) -> FloatArray:
        """Every observation, sorted (for tests that need the raw sample)."""
        return self.values if self.counts is None else np.repeat(self.values, self.counts)

    def mean_var(self) -> tuple[float, float]:
        w = np.ones(self.values.size) if self.counts is None else self.counts
        mean = float(np.sum(w * self.values)) / self.n
        var = float(np.sum(w * (self.values - mean) ** 2)) / self.n
        return mean, var


@dataclass(frozen=True, slots=True, eq=False)
class NumericReference:
    """The reference side of numeric tests, built once per reference and reused.

    ``grid`` holds sorted distinct values; ``le``/``lt`` count reference values <= / < each.
    ``cell_mean[k]`` is the mean of the reference CDF over ``[grid[k], grid[k+1]]``.

    >>> ref = NumericReference.of([1.0, 2.0, 2.0, 5.0])
    >>> ref.lossless, ref.grid.tolist(), ref.le.tolist(), ref.sd
    (True, [1.0, 2.0, 5.0], [1, 3, 4], 1.5)
    """

    grid: FloatArray
    le: IntArray
    lt: IntArray
    cell_mean: FloatArray
    n: int
    mean: float
    sd: float
    lossless: bool

    @classmethod
    def of(cls, values: npt.ArrayLike, max_grid: int | None = None) -> NumericReference:
        """From raw finite values; a sketch of ``max_grid`` points when there are more distinct."""
        return cls.from_sorted(np.sort(finite_array(values, "reference")), max_grid)

    @classmethod
    def from_sorted(cls, v: FloatArray, max_grid: int | None = None) -> NumericReference:
        n = int(v.size)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow shows as a NaN SD
            mean = float(np.add.reduce(v)) / n
            centred = v - mean
            # einsum, not np.dot: after a BLAS call OpenBLAS threads spin and burn a core
            sd = math.sqrt(float(np.einsum("i,i->", centred, centred)) / n)
        picked = grid = None
        if max_grid is not None and n > max_grid:
            tail = min(_TAIL, max_grid // 8)
            body = np.linspace(0, n - 1, max_grid - 2 * tail).round().astype(np.int64)
            pos = np.sort(np.concatenate((np.arange(tail), n - tail + np.arange(tail), body)))
            picked = v[pos]
            grid = picked[np.concatenate(([True], picked[1:] != picked[:-1]))]
        # max_grid distinct values among the picked ones already rules out a lossless grid.
        if grid is None or grid.size < (max_grid or 0):
            change = v[1:] != v[:-1]
            if max_grid is None or int(np.count_nonzero(change)) + 1 <= max_grid:
                lt = np.flatnonzero(np.concatenate(([True], change))).astype(np.int64)
                le = np.append(lt[1:], n).astype(np.int64)
                return cls(v[lt], le, lt, le[:-1] / n, n, mean, sd, True)
            del change
        assert grid is not None
        le = np.searchsorted(v, grid, side="right").astype(np.int64)
        lt = le - 1  # each grid value occurs in v; search only the ones that occur repeatedly
        tied = np.flatnonzero(v[np.maximum(le - 2, 0)] == grid)
        lt[tied] = np.searchsorted(v, grid[tied], side="left")
        # Integral of the reference CDF over each cell [g_k, g_k+1], from segment sums of v:
        # values <= g_k add the cell width, values inside add (g_k+1 - x).
        # Values near the float limit overflow here; the cell means then come out non-finite
        # and detect reports the feature as invalid, so the warning would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            inside = np.add.reduceat(centred, le[:-1])  # sum of v over (g_k, g_k+1]
            width = np.diff(grid)
            area = le[:-1] * width + np.diff(le) * (grid[1:] - mean) - inside
            cell_mean = np.clip(area / n / width, le[:-1] / n, lt[1:] / n)
        return cls(grid, le, lt, cell_mean, n, mean, sd, False)

    def expanded(self, size: int = SKETCH_GRID) -> FloatArray:
        """The reference values; for a sketch, ``min(n, size)`` evenly spaced quantiles of it."""
        if self.lossless:
            return np.repeat(self.grid, self.le - self.lt)
        return self.quantiles(min(self.n, size))

    def quantiles(self, m: int) -> FloatArray:
        """``m`` evenly spaced quantiles, at probabilities (i + 0.5) / m."""
        rank = (np.arange(m) + 0.5) * (self.n / m)
        if self.lossless:  # the order statistic holding that rank
            return self.grid[np.searchsorted(self.le, rank, side="left")]
        # Piecewise-linear inverse of the sketched CDF, through (lt, grid) and (le, grid).
        xs = np.column_stack((self.lt, self.le)).ravel().astype(np.float64)
        return np.asarray(np.interp(rank, xs, np.repeat(self.grid, 2)), dtype=np.float64)

    def quantile_edges(self, bins: int) -> FloatArray:
        """Distinct grid values at the reference quantiles 1/bins, ..., (bins-1)/bins."""
        need = np.ceil(np.arange(1, bins) * (self.n / bins)).astype(np.int64)
        idx = np.minimum(np.searchsorted(self.le, need, side="left"), self.grid.size - 1)
        return np.unique(self.grid[idx])

    def coarse(self, size: int) -> NumericReference:
        """A lossless reference of ``size`` evenly spaced quantiles (for fast resampling)."""
        if self.lossless and self.n <= size:
            return self
        return NumericReference.from_sorted(self.quantiles(size), None)

    def atom_counts(self) -> IntArray:
        """Reference observations at each grid value (lossless references only)."""
        return self.le - self.lt


def as_reference(values: npt.ArrayLike | NumericReference) -> NumericReference:
    return values if isinstance(values, NumericReference) else NumericReference.of(values)


def as_sample(values: npt.ArrayLike | Sample, center: float) -> Sample:
    return values if isinstance(values, Sample) else Sample.of(values, center)
