"""Corrections for testing many features at once, and the missing-value test."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from driftd.domain import StatResult
from driftd.errors import StatsError

CORRECTIONS = ("bh", "bonferroni", "none")


def adjust(p_values: Sequence[float] | npt.ArrayLike, method: str) -> npt.NDArray[np.float64]:
    """Adjusted p-values: compare each with alpha. ``bh`` = Benjamini-Hochberg (false discovery
    rate), ``bonferroni`` = family-wise error rate, ``none`` = unchanged.

    >>> adjust([0.01, 0.04, 0.03], "bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    >>> adjust([0.01, 0.04, 0.03], "bonferroni").round(3).tolist()
    [0.03, 0.12, 0.09]
    """
    if method not in CORRECTIONS:
        raise StatsError(f"unknown correction {method!r} (known: {', '.join(CORRECTIONS)})")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if p.size and (not np.isfinite(p).all() or (p < 0).any() or (p > 1).any()):
        raise StatsError("p-values must be finite and within [0, 1]")
    m = p.size
    if method == "none" or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    # The step-up rule: each adjusted value is the smallest scaled value at or above its rank.
    ranked = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return out


def two_proportion(k_ref: int, n_ref: int, k_live: int, n_live: int) -> StatResult:
    """Two-proportion z-test (pooled): did the share of, say, missing values change?

    The statistic is the live share minus the reference share; the p-value is two-sided.

    >>> r = two_proportion(10, 1000, 40, 1000)
    >>> round(r.statistic, 3), r.p_value < 1e-4
    (0.03, True)
    """
    if n_ref <= 0 or n_live <= 0:
        raise StatsError("two_proportion needs at least one row in each sample")
    if not (0 <= k_ref <= n_ref and 0 <= k_live <= n_live):
        raise StatsError("two_proportion counts must lie within [0, n]")
    p_ref, p_live = k_ref / n_ref, k_live / n_live
    pooled = (k_ref + k_live) / (n_ref + n_live)
    if pooled in (0.0, 1.0):
        return StatResult(p_live - p_ref, 1.0)  # no variation anywhere: nothing changed
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_live))
    z = (p_live - p_ref) / se
    return StatResult(p_live - p_ref, math.erfc(abs(z) / math.sqrt(2)))
