"""Paired tests for two models on the same rows: McNemar and DeLong (driftd.stats.paired), and
the coverage of the paired bootstrap interval (driftd.evaluate.bootstrap)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from driftd.errors import StatsError
from driftd.evaluate.bootstrap import differences_by_chunk, percentile_interval
from driftd.stats.paired import delong, delong_covariance, mcnemar


def _brute_force(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) as written: the O(n_pos * n_neg) comparison matrix per scorer."""
    pos, neg = scores[:, y], scores[:, ~y]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    aucs = psi.mean(axis=(1, 2))
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    return aucs, np.cov(v10) / pos.shape[1] + np.cov(v01) / neg.shape[1]


@pytest.mark.parametrize(("b", "c"), [(0, 1), (3, 12), (12, 3), (7, 7), (0, 25), (40, 61)])
def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs(b: int, c: int) -> None:
    """McNemar's exact p-value equals scipy's two-sided binomtest(b, b + c, 1/2)."""
    expected = sps.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert mcnemar(b, c) == pytest.approx(expected, rel=1e-12)
    assert mcnemar(b, c) == mcnemar(c, b)


def test_mcnemar_without_discordant_pairs_is_one() -> None:
    """Two models that agree on every row give p = 1, not a division by zero."""
    assert mcnemar(0, 0) == 1.0


@pytest.mark.parametrize(("b", "c"), [(-1, 2), (1.5, 2), (True, 3)])
def test_mcnemar_refuses_non_counts(b: object, c: object) -> None:
    """Negative, fractional or boolean counts are a StatsError naming both values."""
    with pytest.raises(StatsError, match="counts"):
        mcnemar(b, c)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_delong_matches_the_brute_force_covariance(seed: int) -> None:
    """The O(n log n) midrank version equals the O(n^2) definition, ties included."""
    rng = np.random.default_rng(seed)
    n = 60
    y = rng.random(n) < 0.4
    a = np.round(y * 0.8 + rng.normal(size=n), 1)  # rounding creates ties
    b = np.round(y * 1.2 + rng.normal(size=n), 1)
    c = rng.integers(0, 3, n).astype(float)  # heavy ties
    scores = np.vstack([a, b, c])
    aucs, cov = delong_covariance(y, scores)
    aucs_bf, cov_bf = _brute_force(y, scores)
    np.testing.assert_allclose(aucs, aucs_bf, rtol=1e-12)
    np.testing.assert_allclose(cov, cov_bf, rtol=1e-10, atol=1e-15)
    for row, auc in zip(scores, aucs, strict=True):
        assert auc == pytest.approx(roc_auc_score(y, row), rel=1e-12)


def test_delong_test_statistic_uses_the_paired_covariance() -> None:
    """z = (auc_b - auc_a) / sqrt(var_a + var_b - 2 cov) and p = 2 * (1 - Phi(|z|))."""
    rng = np.random.default_rng(5)
    n = 200
    y = rng.random(n) < 0.5
    a = y * 0.5 + rng.normal(size=n)
    b = a + y * 0.4 + rng.normal(scale=0.5, size=n)
    r = delong(y, a, b)
    z = (r.auc_b - r.auc_a) / np.sqrt(r.var_a + r.var_b - 2 * r.covariance)
    assert r.z == pytest.approx(z)
    assert r.p_value == pytest.approx(2 * sps.norm.sf(abs(z)))
    assert r.covariance > 0  # scorers of the same rows are correlated
    assert r.difference == pytest.approx(r.auc_b - r.auc_a)


def test_delong_of_identical_scores_is_p_one() -> None:
    """Two identical score vectors have a zero-variance difference: p = 1, no NaN."""
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    s = np.linspace(0, 1, 8)
    r = delong(y, s, s)
    assert (r.z, r.p_value) == (0.0, 1.0)


def test_delong_holds_its_level_under_the_null() -> None:
    """Two equally good but different scorers: about 5 % of p-values fall below 0.05."""
    rng = np.random.default_rng(11)
    rejections = 0
    sims = 300
    for _ in range(sims):
        y = rng.random(150) < 0.5
        signal = y * 0.8
        rejections += (
            delong(y, signal + rng.normal(size=150), signal + rng.normal(size=150)).p_value < 0.05
        )
    assert 0.02 <= rejections / sims <= 0.09


def test_delong_refuses_unusable_labels() -> None:
    """Labels other than 0/1, or fewer than two of a class, are a StatsError."""
    s = np.arange(5.0)
    with pytest.raises(StatsError, match="0/1"):
        delong(np.array([0, 1, 2, 1, 0]), s, s)
    with pytest.raises(StatsError, match="at least 2 positives"):
        delong(np.array([0, 0, 0, 0, 1]), s, s)


def _accuracy(hits: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Accuracy on each resample of a (resamples, n) chunk of row indices."""

    def metric(rows: np.ndarray) -> np.ndarray:
        return np.asarray(hits[rows].mean(axis=1))

    return metric


def test_paired_bootstrap_95_interval_covers_the_true_difference() -> None:
    """Over 400 seeded holdouts of 300 rows the 95 % percentile interval of the paired accuracy
    difference (driftd's resampler and interval, B = 500) covers the true +0.05 in 92-98 % of
    them (the band is about +-2.5 binomial standard errors around 95 %).

    Each row is one of: both right (0.60), only the champion right (0.10), only the candidate
    right (0.15), both wrong (0.15), so the true difference is 0.15 - 0.10 = 0.05.
    """
    rng = np.random.default_rng(20260111)
    n, sims, covered = 300, 400, 0
    for sim in range(sims):
        kind = rng.choice(4, size=n, p=[0.60, 0.10, 0.15, 0.15])
        hit_a = (kind == 0) | (kind == 1)
        hit_c = (kind == 0) | (kind == 2)
        diffs = differences_by_chunk(_accuracy(hit_a), _accuracy(hit_c), n, 500, seed=sim)
        low, high = percentile_interval(diffs, 0.95)
        covered += low <= 0.05 <= high
    assert 0.92 <= covered / sims <= 0.98
