"""Equal-width buckets over a numeric column, and one chunked pass that counts a column into
them: the step of the binned path (:mod:`driftd.stats.binned`) that touches every value.

Costs that shaped the code: each value costs a finiteness check, a multiply, an add, a clip, a
cast, two comparisons and a count, in chunks small enough for the temporaries to stay in cache;
gathers use ``np.take``. ``bench/drift_bench.py`` prints what the count alone
(``np.bincount``) costs on its data, the part no count-based detector can skip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Not a power of two: an integer column's values sit a fixed number of buckets apart, and with
# 2**16 buckets over a range of 32 that is 2,048 counters (16 KiB), so every count lands in the
# same L1 cache set and counting runs three to six times slower.
BUCKETS = 65_000
CHUNK = 131_072  # values per step: few numpy calls, and the temporaries stay in cache
PROBE = 65_536  # reference values used to place the buckets


def spread_sample(values: FloatArray) -> FloatArray:
    """About PROBE values spread evenly through ``values``."""
    return np.ascontiguousarray(values[:: max(1, values.size // PROBE)])


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
    def place(
        cls,
        values: FloatArray,
        tail: float,
        probe: FloatArray | None = None,
        m: int = BUCKETS,
    ) -> Buckets | None:
        """Buckets between the ``tail`` and 1 - ``tail`` quantiles of ``probe`` (a sample of
        ``values``, drawn here when not given); None when the values have no spread to divide
        (the caller then uses the exact path)."""
        drawn = spread_sample(values) if probe is None else probe
        sample = drawn[::4]  # plenty, and selects faster
        k = int(sample.size * tail)
        lo, hi = (float(v) for v in np.partition(sample, (k, sample.size - 1 - k))[[k, -1 - k]])
        if not hi > lo:  # a spike holds most values: spread the buckets over all of them
            finite = values[np.isfinite(values)]
            lo, hi = float(finite.min()), float(finite.max())
        with np.errstate(over="ignore"):
            scale = m / (hi - lo) if hi > lo else math.inf
        if not (math.isfinite(scale) and scale > 0 and math.isfinite(lo * scale)):
            return None
        return cls(lo, scale, m)

    @property
    def shift(self) -> float:
        return 1.0 - self.lo * self.scale

    def index(
        self,
        x: FloatArray,
        out: npt.NDArray[np.intp] | None = None,
        scratch: FloatArray | None = None,
    ) -> npt.NDArray[np.intp]:
        """The bucket of each value; ``out`` and ``scratch`` (as long as ``x``) save allocations."""
        with np.errstate(over="ignore"):  # a huge value becomes inf, and bucket m + 1
            t = np.multiply(x, self.scale, out=scratch)
        t += self.shift
        np.minimum(t, self.m + 1.0, out=t)  # two ufuncs: np.clip's wrapper costs ~25 us a call
        np.maximum(t, 0.0, out=t)
        if out is None:
            return t.astype(np.intp)
        out[...] = t  # truncation, like astype
        return out

    def left_edges(self) -> FloatArray:
        """Left edge of buckets 1..m+1."""
        return self.lo + np.arange(self.m + 1) / self.scale


@dataclass(frozen=True, slots=True)
class Counted:
    counts: IntArray  # values per bucket
    kept: FloatArray  # values in kept buckets, except those at their bucket's atom, unsorted
    at_atom: IntArray  # values at their bucket's atom, per bucket
    n: int  # finite values
    n_nan: int  # NaNs met, neither counted nor kept
    n_inf: int  # infinities met, neither counted nor kept


def count_values(
    buckets: Buckets,
    values: FloatArray,
    keep: BoolArray,
    atoms: FloatArray | None = None,
    atoms_only: bool = False,
) -> Counted:
    """Count the finite ``values`` per bucket in one chunked pass (NaNs and infinities are only
    tallied), keeping those in ``keep`` buckets other than their bucket's atom (NaN where a
    bucket has none).
    ``atoms_only`` (for values nearly all at atoms, such as integers) looks up the atom alone
    and drops the few values kept outside ``keep`` at the end: one lookup per value, not two.
    Each chunk is counted while its buckets are in cache: 85 ms for the 20 numeric columns of
    a million rows in bench/drift_bench.py, against 98 ms writing every bucket number out and
    counting them all at the end (what changed: the bucket numbers of a chunk are read back
    from cache, not from memory)."""
    size = buckets.m + 2
    scratch = np.empty(min(CHUNK, values.size))
    index = np.empty(scratch.size, dtype=np.intp)
    counts = np.zeros(size, dtype=np.intp)
    kept: list[FloatArray] = []
    # When only the two tails are kept, two comparisons with a margin of one bucket find a
    # superset of their values far more cheaply than looking up every value's bucket.
    tails_only = np.count_nonzero(keep[1:-1]) == 0
    below = buckets.lo + 1.0 / buckets.scale
    above = buckets.lo + (buckets.m - 1) / buckets.scale
    scale, shift, top = buckets.scale, buckets.shift, buckets.m + 1.0
    near, differ = np.empty((2, scratch.size), dtype=np.bool_)
    atom = np.empty(scratch.size)
    done = n_nan = n_inf = 0
    for start in range(0, values.size, CHUNK):
        # Buckets.index spelled out, into buffers reused from chunk to chunk.
        x = values[start : start + CHUNK]
        # Checked here, while the chunk is in cache: a separate pass reads the column again.
        finite = np.isfinite(x, out=differ[: x.size])
        if not finite.all():
            odd = x[~finite]
            n_nan += int(np.count_nonzero(np.isnan(odd)))
            n_inf += int(np.count_nonzero(np.isinf(odd)))
            x = x[finite]
        with np.errstate(over="ignore"):  # a huge value becomes inf, and bucket m + 1
            t = np.multiply(x, scale, out=scratch[: x.size])
        t += shift
        np.clip(t, 0.0, top, out=t)
        b = index[: x.size]
        done += x.size
        b[...] = t
        counts += np.bincount(b, minlength=size)
        hit = near[: x.size]
        if tails_only:
            np.less(x, below, out=hit)
            hit |= np.greater_equal(x, above, out=differ[: x.size])
        elif atoms is not None:  # a value at its bucket's atom is only counted
            np.take(atoms, b, out=atom[: x.size], mode="clip")  # faster than atoms[b]
            np.not_equal(x, atom[: x.size], out=hit)
            if not atoms_only:
                hit &= np.take(keep, b, out=differ[: x.size], mode="clip")
        else:
            np.take(keep, b, out=hit, mode="clip")
        if np.count_nonzero(hit):
            xs = x[hit]
            kept.append(xs[keep[buckets.index(xs)]] if tails_only else xs)
    counts = counts.astype(np.int64, copy=False)
    rest = np.concatenate(kept) if kept else np.zeros(0)
    if atoms_only:
        rest = rest[keep[buckets.index(rest)]]
    at_atom = np.zeros(size, dtype=np.int64)
    if atoms is not None:
        off = np.bincount(buckets.index(rest), minlength=size)
        has = ~np.isnan(atoms)
        at_atom[has] = counts[has] - off[has]
    return Counted(counts, rest, at_atom, done, n_nan, n_inf)
