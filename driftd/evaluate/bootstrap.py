"""The paired bootstrap: resample holdout rows, score both models on the same resample.

Resamples are drawn in chunks of index rows from one seeded generator, so every metric of one
evaluation sees the very same resamples, and a vectorised metric and a per-resample scorer call
give identical intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

_CHUNK_CELLS = 1_000_000  # indices per chunk: bounds memory at ~8 MB whatever n is


def resamples(n: int, b: int, seed: int) -> Iterator[np.ndarray]:
    """``b`` bootstrap resamples of ``range(n)``, as chunks of shape (rows, n).

    >>> [c.shape for c in resamples(5, 3, seed=0)]
    [(3, 5)]
    """
    rng = np.random.default_rng(seed)
    per_chunk = max(1, min(b, _CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < b:
        k = min(per_chunk, b - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


def differences_by_call(
    metric: Callable[[np.ndarray], tuple[float, float]], n: int, b: int, seed: int
) -> np.ndarray:
    """``candidate - champion`` on each resample; ``metric(rows)`` returns (champion, candidate)."""
    out = np.empty(b)
    i = 0
    for chunk in resamples(n, b, seed):
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
) -> np.ndarray:
    """The same, for vectorised metrics: each maps a (rows, n) chunk to one value per row.

    >>> hits_a, hits_b = np.array([1.0, 0, 1, 0]), np.array([1.0, 1, 1, 0])
    >>> d = differences_by_chunk(
    ...     lambda c: hits_a[c].mean(axis=1), lambda c: hits_b[c].mean(axis=1), 4, 200, seed=1
    ... )
    >>> d.shape, bool(d.min() >= 0)
    ((200,), True)
    """
    parts = [candidate(chunk) - champion(chunk) for chunk in resamples(n, b, seed)]
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
