"""Effect thresholds calibrated from the reference itself (``threshold = "auto"``).

Without drift, the effect size between a reference of ``n`` rows and a live window of ``m`` rows
is pure sampling noise, and that noise shrinks like ``sqrt(1/n + 1/m)``. So the threshold for a
window is the ``auto_quantile`` of the effect between the reference and 1 000 synthetic windows of
``n*m/(n+m)`` rows drawn from the reference's own distribution (numeric: from 1 024 evenly spaced
reference quantiles; categorical: from the category shares). Window sizes are rounded down to a
grid of four steps per doubling (a smaller window gives a larger, more cautious threshold), and
each result is cached in the summary, so a stream of similar windows calibrates once.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from driftd import stats
from driftd.detect.summary import ColumnSummary, ReferenceSummary
from driftd.domain import FeatureKind
from driftd.errors import StatsError

RESAMPLES = 1_000
QUANTILE_POINTS = 1_024
STEPS_PER_DOUBLING = 4
_CELLS_PER_CHUNK = 1_000_000


def window_bucket(n: int) -> int:
    """The largest size on the grid 2**(k/4) that is <= n.

    >>> [window_bucket(n) for n in (1, 30, 1000, 100_000)]
    [1, 26, 861, 92681]
    """
    if n < 1:
        return 1
    step = math.floor(math.log2(n) * STEPS_PER_DOUBLING + 1e-9)
    return max(1, math.floor(2 ** (step / STEPS_PER_DOUBLING) + 1e-9))


def auto_threshold(
    summary: ReferenceSummary,
    column: ColumnSummary,
    effect: stats.StatTest,
    n_live: int,
    *,
    quantile: float,
    seed: int,
) -> float:
    """The cached or freshly calibrated threshold for ``column`` at a live window of ``n_live``."""
    bucket = window_bucket(n_live)
    key = (column.name, effect.name, bucket, quantile)
    with summary.lock:
        cached = summary.thresholds.get(key)
    if cached is not None:
        return cached
    rng = np.random.default_rng([seed, zlib.crc32(column.name.encode()), bucket])
    value = _calibrate(column, effect, bucket, quantile, rng)
    with summary.lock:
        return summary.thresholds.setdefault(key, value)


def _calibrate(
    column: ColumnSummary,
    effect: stats.StatTest,
    bucket: int,
    quantile: float,
    rng: np.random.Generator,
) -> float:
    n_ref = column.n_usable
    n_eff = max(1, round(n_ref * bucket / (n_ref + bucket)))
    values: list[float] = []
    if column.kind is FeatureKind.NUMERIC:
        if column.numeric is None:
            raise StatsError(f'{column.name}: "auto" thresholds need the exact reference summary')
        ref = column.numeric.coarse(QUANTILE_POINTS)
        atoms = ref.atom_counts()
        for draws in _multinomial(rng, n_eff, atoms / ref.n):
            for row in draws:
                live = stats.Sample.weighted(ref.grid, row, ref.mean)
                values.append(effect.run(FeatureKind.NUMERIC, ref, live).statistic)
    else:
        assert column.counts is not None
        counts = column.counts
        for draws in _multinomial(rng, n_eff, counts / counts.sum()):
            for row in draws:
                values.append(effect.run(FeatureKind.CATEGORICAL, counts, row).statistic)
    return float(np.quantile(values, quantile, method="higher"))


def _multinomial(
    rng: np.random.Generator, n: int, probs: npt.NDArray[np.float64]
) -> Iterator[npt.NDArray[np.int64]]:
    """``RESAMPLES`` multinomial count vectors, a bounded chunk at a time."""
    chunk = max(1, _CELLS_PER_CHUNK // probs.size)
    done = 0
    while done < RESAMPLES:
        size = min(chunk, RESAMPLES - done)
        if n * 4 < probs.size:  # few draws over many cells: count sampled indices instead
            idx = rng.choice(probs.size, size=(size, n), p=probs)
            idx += np.arange(size)[:, None] * probs.size
            flat = np.bincount(idx.ravel(), minlength=size * probs.size)
            yield flat.reshape(size, probs.size).astype(np.int64)
        else:
            yield rng.multinomial(n, probs, size=size).astype(np.int64)
        done += size
