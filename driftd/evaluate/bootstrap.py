"""The paired bootstrap: resample holdout rows, score both models on the same resample.

Resamples are drawn in chunks of index rows from one seeded generator, so every metric of one
evaluation sees the very same resamples, and a vectorised metric and a per-resample scorer call
give identical intervals.

Rows of one day are not independent (same weather, same schedule): resampling them one by one
makes the interval too narrow, as KS p-values were under autocorrelation. When the holdout has
timestamps, :func:`day_blocks` groups its rows into consecutive 24-hour spans and the resamples
draw whole spans (a cluster bootstrap), each resample cut to the holdout's row count so that
every metric still sees ``n`` indices. With few days the spread of such a bootstrap is too
small, so the differences are widened around the full-holdout value by
:func:`few_blocks_scale` (bench/calibration.py ``--paired`` measures the effect).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

_CHUNK_CELLS = 1_000_000  # indices per chunk: bounds memory at ~8 MB whatever n is
MIN_BLOCKS = 5  # fewer days than this: a cluster bootstrap has too few units; resample rows
_DAY_NS = 86_400 * 10**9

Blocks = Sequence[np.ndarray]


def day_blocks(timestamps: np.ndarray | None) -> Blocks | None:
    """Row indices of each consecutive 24-hour span from the first timestamp, or None.

    None (resample rows) when there are no timestamps, a missing one, fewer than
    ``MIN_BLOCKS`` non-empty spans, or one row per span (a daily series: blocks would be rows).

    >>> ts = np.array(["2024-01-01T10", "2024-01-01T20", "2024-01-02T09"], dtype="datetime64[ns]")
    >>> day_blocks(ts) is None  # two days only
    True
    >>> days = np.repeat(np.arange(6), 2) * np.timedelta64(1, "D")
    >>> [b.tolist() for b in day_blocks(np.datetime64("2024-01-01T10", "ns") + days)][:2]
    [[0, 1], [2, 3]]
    """
    if timestamps is None or len(timestamps) == 0:
        return None
    ns = np.asarray(timestamps, dtype="datetime64[ns]")
    if np.isnat(ns).any():
        return None
    ticks = ns.astype(np.int64)
    day = (ticks - ticks.min()) // _DAY_NS
    labels, inverse = np.unique(day, return_inverse=True)
    if len(labels) < MIN_BLOCKS or len(labels) == len(ticks):
        return None
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    return tuple(np.split(order, bounds))


def few_blocks_scale(blocks: int, confidence: float) -> float:
    """How much to widen a bootstrap over ``blocks`` independent units: ``sqrt(G / (G - 1))``
    (the bootstrap's variance is the plug-in one, short by that factor) times
    ``t(G - 1) / z`` at the interval's quantile (a variance estimated from G units is itself
    uncertain). 1.35 for 7 days, 1.14 for 14, 1.06 for 30: towards 1 as blocks grow.

    >>> round(few_blocks_scale(7, 0.95), 2), round(few_blocks_scale(30, 0.95), 2)
    (1.35, 1.06)
    """
    from driftd.stats.paired import t_over_z

    q = 1 - (1 - confidence) / 2
    return float(np.sqrt(blocks / (blocks - 1)) * t_over_z(q, blocks - 1))


def resamples(n: int, b: int, seed: int, blocks: Blocks | None = None) -> Iterator[np.ndarray]:
    """``b`` bootstrap resamples of ``range(n)``, as chunks of shape (rows, n).

    With ``blocks`` (a partition of ``range(n)``), each resample draws whole blocks with
    replacement until it holds ``n`` rows and keeps the first ``n``.

    >>> [c.shape for c in resamples(5, 3, seed=0)]
    [(3, 5)]
    >>> chunk = next(resamples(4, 50, seed=0, blocks=[np.array([0, 1]), np.array([2, 3])]))
    >>> sorted({(int(r[0]), int(r[1])) for r in chunk})  # whole blocks, never mixed
    [(0, 1), (2, 3)]
    """
    rng = np.random.default_rng(seed)
    per_chunk = max(1, min(b, _CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < b:
        k = min(per_chunk, b - done)
        if blocks is None:
            yield rng.integers(0, n, size=(k, n))
        else:
            yield np.stack([_block_resample(blocks, n, rng) for _ in range(k)])
        done += k


def _block_resample(blocks: Blocks, n: int, rng: np.random.Generator) -> np.ndarray:
    parts: list[np.ndarray] = []
    held = 0
    while held < n:
        for i in rng.integers(0, len(blocks), size=len(blocks)):
            parts.append(blocks[i])
            held += len(blocks[i])
            if held >= n:
                break
    return np.concatenate(parts)[:n]


def differences_by_call(
    metric: Callable[[np.ndarray], tuple[float, float]],
    n: int,
    b: int,
    seed: int,
    blocks: Blocks | None = None,
) -> np.ndarray:
    """``candidate - champion`` on each resample; ``metric(rows)`` returns (champion, candidate)."""
    out = np.empty(b)
    i = 0
    for chunk in resamples(n, b, seed, blocks):
        for rows in chunk:
            champion, candidate = metric(rows)
            out[i] = candidate - champion
            i += 1
    return out


def differences_by_chunk(
    champion: Callable[[np.ndarray], np.ndarray],
    candidate: Callable[[np.ndarray], np.ndarray],
    n: int,
    b: int,
    seed: int,
    blocks: Blocks | None = None,
) -> np.ndarray:
    """The same, for vectorised metrics: each maps a (rows, n) chunk to one value per row.

    >>> hits_a, hits_b = np.array([1.0, 0, 1, 0]), np.array([1.0, 1, 1, 0])
    >>> d = differences_by_chunk(
    ...     lambda c: hits_a[c].mean(axis=1), lambda c: hits_b[c].mean(axis=1), 4, 200, seed=1
    ... )
    >>> d.shape, bool(d.min() >= 0)
    ((200,), True)
    """
    parts = [candidate(chunk) - champion(chunk) for chunk in resamples(n, b, seed, blocks)]
    return np.concatenate(parts)


def percentile_interval(diffs: np.ndarray, confidence: float) -> tuple[float, float]:
    """The two-sided percentile interval of the finite differences.

    >>> [round(v, 6) for v in percentile_interval(np.arange(101.0), 0.9)]
    [5.0, 95.0]
    """
    finite = diffs[np.isfinite(diffs)]
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_p_value(diffs: np.ndarray) -> float:
    """Two-sided p-value for "no difference": twice the smaller tail share at 0, counted
    with the observed value as in a permutation test, ``(1 + k) / (1 + B)``, capped at 1.

    >>> bootstrap_p_value(np.full(99, 0.5))
    0.02
    >>> bootstrap_p_value(np.zeros(99))
    1.0
    """
    finite = diffs[np.isfinite(diffs)]
    tail = min(int(np.sum(finite <= 0)), int(np.sum(finite >= 0)))
    return float(min(1.0, 2 * (1 + tail) / (1 + len(finite))))
