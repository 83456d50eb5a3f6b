"""The saddlepoint p-value of sparse chi-square tables with large, balanced rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftd import stats
from driftd.stats import categorical, chernoff


def _table(seed: int, levels: int, small: int, big: int, shift: float) -> tuple[np.ndarray, ...]:
    """Zipf-like counts: ``big`` reference rows, ``small`` live rows with ``shift`` of their mass
    following the reversed shares."""
    rng = np.random.default_rng(seed)
    w = 1 / np.arange(1, levels + 1) ** 0.8
    p = w / w.sum()
    return rng.multinomial(big, p), rng.multinomial(small, (1 - shift) * p + shift * p[::-1])


def _statistic(ref: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, int, float]:
    """Column totals, the size of ``live`` and its sum of d**2 / c (ties counted)."""
    keep = (ref + live) > 0
    colors, row = (ref + live)[keep], live[keep]
    return colors, int(row.sum()), float((row.astype(float) ** 2) @ (1 / colors)) * (1 - 1e-9)


@pytest.mark.parametrize(
    ("levels", "small", "big", "shift"),
    [(1000, 1000, 1000, 0.2), (200, 500, 5000, 0.0), (1000, 1000, 5000, 0.05)],
)
def test_saddlepoint_agrees_with_many_random_tables(
    levels: int, small: int, big: int, shift: float
) -> None:
    """In the regime detect uses it for, the saddlepoint p-value is within 4 standard errors
    and 10 % of the share of 20,000 random tables with the same margins that are as extreme."""
    ref, live = _table(3, levels, small, big, shift)
    colors, n, observed = _statistic(ref, live)
    approx = chernoff.saddlepoint_p(colors, n, observed)
    assert approx is not None
    drawn = np.random.default_rng(0).multivariate_hypergeometric(colors, n, size=20_000)
    share = float(np.mean((drawn.astype(float) ** 2) @ (1 / colors) >= observed))
    assert abs(approx - share) <= 4 * math.sqrt(share * (1 - share) / 20_000) + 1e-4
    assert approx == pytest.approx(share, rel=0.1)


def test_large_balanced_sparse_tables_take_the_saddlepoint_small_ones_monte_carlo() -> None:
    """A sparse 1,000-level table of 1,000 rows a side (p about 0.007, where the Monte Carlo
    test would draw all 2,000 tables) reports the saddlepoint p-value of its smaller row,
    seed-independent; a table with 200 live rows against 20,000 keeps the seeded Monte Carlo
    p-value."""
    ref, live = _table(5, 1000, 1000, 1000, 0.0)
    result = stats.chi2(ref, live, seed=1)
    assert ref.sum() == live.sum()  # ties simulate the reference row
    colors, n, observed = _statistic(live, ref)
    assert result.p_value == chernoff.saddlepoint_p(colors, n, observed)
    assert result == stats.chi2(ref, live, seed=2)
    lopsided = _table(6, 1000, 200, 20_000, 0.0)
    assert not categorical._saddle_regime(*lopsided)
    p = stats.chi2(*lopsided, seed=3).p_value
    assert p is not None and 20 / p == pytest.approx(round(20 / p))  # Besag-Clifford stop


def test_saddlepoint_declines_at_the_mean() -> None:
    """At the saddlepoint (0, 0), where S sits at its mean under the independent binomial
    columns (here 4 x (1/4 + 3/4) = 4), the formula is 0/0: None (the caller then draws random
    tables)."""
    assert chernoff.saddlepoint_p(np.array([3, 3, 3, 3]), 6, 4.0) is None
    assert chernoff.saddlepoint_p(np.array([3, 3, 3, 3]), 6, 4.5) is not None
