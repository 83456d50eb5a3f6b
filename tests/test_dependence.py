"""Significance that survives autocorrelated rows (issue 10, part 2).

The integrated autocorrelation time ``tau`` is checked against the theory of an AR(1) process,
its rank basis against ties and outliers, the deflated p-values against scipy's ``kstwo`` and
``chi2`` at the reduced size, and the whole correction through :func:`driftd.detect.detect` by
its false-alarm rate on autocorrelated windows without drift (and, without the correction, the
rate it is there to fix).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.signal import lfilter

from driftd import detect, stats
from driftd.config import DriftConfig
from driftd.domain import FeatureKind

ALPHA = 0.05
QUINTILES = sps.norm.ppf([0.2, 0.4, 0.6, 0.8])  # cut points of a 5-level categorical


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """A stationary AR(1) series with unit variance (the first value drawn from the stationary
    law, so no burn-in trend)."""
    noise = rng.normal(size=n) * math.sqrt(1 - rho**2)
    noise[0] = rng.normal()
    return np.asarray(lfilter([1.0], [1.0, -rho], noise))


def rank_theory(rho: float) -> float:
    """tau of the ranks of a Gaussian AR(1): Spearman's correlation at lag k of a bivariate
    normal with correlation rho**k is (6 / pi) * arcsin(rho**k / 2)."""
    k = np.arange(1, 5000)
    return float(1 + 2 * np.sum(6 / np.pi * np.arcsin(rho**k / 2)))


def indicator_theory(rho: float) -> float:
    """tau of the sign indicator (x > 0) of a Gaussian AR(1): (2 / pi) * arcsin(rho**k)."""
    k = np.arange(1, 5000)
    return float(1 + 2 * np.sum(2 / np.pi * np.arcsin(rho**k)))


def linear_theory(rho: float) -> float:
    """tau of the values of an AR(1): (1 + rho) / (1 - rho)."""
    return (1 + rho) / (1 - rho)


# --- integrated_time -------------------------------------------------------------------------


@pytest.mark.parametrize(("rho", "low", "high"), [(0.5, 2.5, 3.5), (0.9, 10.0, 25.0)])
def test_integrated_time_of_ar1_matches_theory(rho: float, low: float, high: float) -> None:
    """On 5,000 rows of AR(1), tau of the ranks follows their theory, which lies between the
    indicator and the linear IAT: the median over 20 seeds within 12 % of the Spearman theory
    (2.92 for rho 0.5, 18.4 for rho 0.9), and at least 17 of the 20 single estimates in
    2.5-3.5 and 10-25 (the estimator's spread: 200 seeds at rho 0.9 ranged 13-42)."""
    estimates = np.array(
        [stats.integrated_time(ar1(np.random.default_rng(seed), 5_000, rho)) for seed in range(20)]
    )
    theory = rank_theory(rho)
    assert indicator_theory(rho) < theory < linear_theory(rho)  # the band itself is sound
    median = float(np.median(estimates))
    assert median == pytest.approx(theory, rel=0.12), estimates
    assert indicator_theory(rho) * 0.9 < median < linear_theory(rho) * 1.1
    inside = np.count_nonzero((estimates >= low) & (estimates <= high))
    assert inside >= 17, estimates


def test_integrated_time_of_independent_rows_is_one() -> None:
    """Independent rows are not penalised: tau is exactly 1 for at least 45 of 50 seeds (the
    noise floor), and never above 1.3."""
    estimates = [
        stats.integrated_time(np.random.default_rng(seed).normal(size=5_000)) for seed in range(50)
    ]
    assert sum(t == 1.0 for t in estimates) >= 45, estimates
    assert max(estimates) < 1.3


def test_negative_autocorrelation_counts_as_independent() -> None:
    """A negatively autocorrelated series (AR(1), rho = -0.5) is not given more weight than an
    independent one: tau is 1."""
    assert stats.integrated_time(ar1(np.random.default_rng(3), 5_000, -0.5)) == 1.0


@pytest.mark.parametrize("levels", [2, 3, 5])
def test_ties_do_not_make_a_fake_trend(levels: int) -> None:
    """An integer column with a few levels and independent rows (many ties) gets tau 1 for at
    least 16 of 20 seeds (92 % measured over 200, as for continuous values) and never above 1.5;
    ranks that broke ties by position (scipy's "ordinal") would turn each tie group into a
    rising run and give tau above 5, which is what midranks prevent."""
    columns = [
        np.random.default_rng(100 + seed).integers(0, levels, size=4_000).astype(float)
        for seed in range(20)
    ]
    ours = [stats.integrated_time(x) for x in columns]
    assert sum(t == 1.0 for t in ours) >= 16, ours
    assert max(ours) < 1.5
    # The trap this guards against: the same rows ranked by position within ties.
    by_position = stats.integrated_time(sps.rankdata(columns[0], method="ordinal"))
    assert by_position > 5


def test_indicator_time_of_independent_categories_is_one() -> None:
    """Independent categorical rows (3 levels, unequal shares): indicator tau 1 for most seeds
    (at least 12 of 20; it is the largest of three noisy estimates, 75 % measured over 200) and
    never above 1.6; the same categories in runs of 10 rows are far above 1."""
    p = [0.6, 0.3, 0.1]
    draws = [
        stats.indicator_time(np.random.default_rng(200 + s).choice(3, size=3_000, p=p))
        for s in range(20)
    ]
    assert sum(t == 1.0 for t in draws) >= 12, draws
    assert max(draws) < 1.6
    runs = np.repeat(np.random.default_rng(9).choice(3, size=300, p=p), 10)
    assert stats.indicator_time(runs) > 5


def test_indicator_time_of_a_cut_ar1_matches_its_indicator_theory() -> None:
    """A categorical cut from AR(1) rho 0.9 at the median: the indicator series' tau is near
    its theory (2 / pi) arcsin(rho**k) (median over 10 seeds within 20 %)."""
    estimates = [
        stats.indicator_time((ar1(np.random.default_rng(300 + s), 5_000, 0.9) > 0).astype(int))
        for s in range(10)
    ]
    assert float(np.median(estimates)) == pytest.approx(indicator_theory(0.9), rel=0.2)


def test_integrated_time_is_rank_based() -> None:
    """tau sees only the order of the values: a monotone transform gives the same value, and a
    single huge outlier barely moves it."""
    x = ar1(np.random.default_rng(4), 3_000, 0.7)
    tau = stats.integrated_time(x)
    assert stats.integrated_time(np.exp(x)) == tau
    y = x.copy()
    y[1_500] = 1e12
    assert stats.integrated_time(y) == pytest.approx(tau, rel=0.02)


def test_short_or_constant_series_have_tau_one() -> None:
    """Fewer than 20 rows, or a constant series: no estimate, tau 1."""
    assert stats.integrated_time(np.arange(19.0)) == 1.0
    assert stats.integrated_time(np.full(1_000, 3.0)) == 1.0
    assert stats.indicator_time(np.zeros(500, dtype=int)) == 1.0


def test_cost_is_bounded_and_uses_the_newest_rows() -> None:
    """A 1,000,000-row series returns (the estimate reads a bounded tail): 1M strongly
    autocorrelated rows whose newest 16,384 are independent read as independent, and 1M
    independent rows whose newest part is AR(1) rho 0.9 read as autocorrelated."""
    rng = np.random.default_rng(5)
    tail = stats.dependence.MAX_ROWS
    old_dependent = np.concatenate((ar1(rng, 1_000_000 - tail, 0.99), rng.normal(size=tail)))
    assert stats.integrated_time(old_dependent) == 1.0
    new_dependent = np.concatenate((rng.normal(size=1_000_000 - tail), ar1(rng, tail, 0.9)))
    assert stats.integrated_time(new_dependent) > 10
    codes = (new_dependent > 0).astype(np.int64)
    assert stats.indicator_time(codes) > 5


# --- design effect and deflated p-values -----------------------------------------------------


def test_design_effect_formula() -> None:
    """(tau_ref / n_ref + tau_live / n_live) / (1 / n_ref + 1 / n_live), taus below 1 count as
    1, equal taus give that tau, and an empty sample gives 1."""
    rng = np.random.default_rng(6)
    for _ in range(50):
        n, m = (int(v) for v in rng.integers(1, 100_000, size=2))
        t1, t2 = (float(v) for v in rng.uniform(1, 40, size=2))
        expected = (t1 / n + t2 / m) / (1 / n + 1 / m)
        assert stats.design_effect(n, m, t1, t2) == pytest.approx(expected, rel=1e-12)
        assert stats.design_effect(n, m, t1, t1) == pytest.approx(t1, rel=1e-12)
    assert stats.design_effect(1_000, 1_000, 0.3, 0.5) == 1.0
    assert stats.design_effect(1_000, 3_000, 0.5, 5.0) == pytest.approx(
        (1 / 1_000 + 5 / 3_000) / (1 / 1_000 + 1 / 3_000)
    )
    assert stats.design_effect(0, 100, 3.0, 3.0) == 1.0


@pytest.mark.parametrize(
    ("d", "n", "m", "deff"),
    [
        (0.05, 2_000, 2_000, 1.0),
        (0.05, 2_000, 2_000, 4.0),
        (0.12, 2_000, 500, 7.3),
        (0.3, 60, 40, 2),
    ],
)
def test_deflated_ks_p_is_kstwo_at_the_reduced_size(d: float, n: int, m: int, deff: float) -> None:
    """deflated_ks_p = scipy.stats.kstwo.sf(d, round(n m / (n + m) / deff))."""
    size = round(n * m / (n + m) / deff)
    assert stats.deflated_ks_p(d, n, m, deff) == pytest.approx(sps.kstwo.sf(d, size), rel=1e-9)


def test_deflated_ks_p_without_dependence_is_scipys_asymptotic_ks() -> None:
    """With deff = 1 (or below), the deflated p-value is ks_2samp's asymptotic p-value."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=3_000), rng.normal(0.08, 1, size=2_000)
    ref = sps.ks_2samp(x, y, method="asymp")
    assert stats.deflated_ks_p(ref.statistic, 3_000, 2_000, 1.0) == pytest.approx(ref.pvalue)
    assert stats.deflated_ks_p(ref.statistic, 3_000, 2_000, 0.5) == pytest.approx(ref.pvalue)


@pytest.mark.parametrize(("stat", "k", "deff"), [(20.0, 3, 1.0), (20.0, 3, 4.0), (55.5, 10, 6.2)])
def test_deflated_chi2_p_is_chi2_of_the_scaled_statistic(stat: float, k: int, deff: float) -> None:
    """deflated_chi2_p = scipy chi2.sf(stat / deff, k - 1) (Rao-Scott first order)."""
    assert stats.deflated_chi2_p(stat, k, deff) == pytest.approx(
        sps.chi2.sf(stat / deff, k - 1), rel=1e-12
    )


def test_deflated_chi2_p_edge_cases() -> None:
    """One category: p = 1; a design effect below 1 never sharpens the p-value."""
    assert stats.deflated_chi2_p(100.0, 1, 3.0) == 1.0
    assert stats.deflated_chi2_p(9.0, 4, 0.2) == pytest.approx(sps.chi2.sf(9.0, 3))


# --- the correction inside detect() ----------------------------------------------------------


def test_detect_deflates_ks_as_computed_from_scipy() -> None:
    """A numeric feature with AR(1) rows: detect's p-value is the larger of the independent-rows
    p-value and kstwo at the effective size, with the reference's tau and the live window's
    (at least the reference's: one source) and D from scipy's ks_2samp; the detail says so."""
    rng = np.random.default_rng(8)
    ref, live = ar1(rng, 2_000, 0.8), ar1(rng, 800, 0.8) + 0.3
    kinds = {"x": FeatureKind.NUMERIC}
    summary = detect.summarize(pd.DataFrame({"x": ref}), kinds)
    frame = pd.DataFrame({"x": live})
    corrected = detect.detect(summary, frame, DriftConfig()).features[0]
    plain = detect.detect(summary, frame, DriftConfig(dependence=False)).features[0]
    d = sps.ks_2samp(ref, live).statistic
    tau_ref = stats.integrated_time(ref)
    tau_live = max(stats.integrated_time(live), tau_ref)
    deff = stats.design_effect(2_000, 800, tau_ref, tau_live)
    assert deff > 3
    expected = sps.kstwo.sf(d, round(2_000 * 800 / 2_800 / deff))
    assert plain.p_value is not None and corrected.p_value is not None
    assert corrected.p_value == pytest.approx(max(plain.p_value, expected), rel=1e-9)
    assert corrected.p_value > 100 * plain.p_value
    assert "autocorrelated rows" in corrected.detail


def test_detect_deflates_chi2_as_computed_from_scipy() -> None:
    """A categorical feature cut from AR(1): detect's p-value is chi2.sf(X2 / deff, k - 1)
    with X2 from scipy's chi2_contingency and deff from the two samples' indicator taus."""
    rng = np.random.default_rng(9)
    ref = np.searchsorted(QUINTILES, ar1(rng, 2_000, 0.9))
    live = np.searchsorted(QUINTILES, ar1(rng, 2_000, 0.9) + 0.2)
    kinds = {"c": FeatureKind.CATEGORICAL}
    summary = detect.summarize(pd.DataFrame({"c": ref.astype(str)}), kinds)
    frame = pd.DataFrame({"c": live.astype(str)})
    corrected = detect.detect(summary, frame, DriftConfig()).features[0]
    plain = detect.detect(summary, frame, DriftConfig(dependence=False)).features[0]
    table = np.array([np.bincount(ref, minlength=5), np.bincount(live, minlength=5)])
    x2 = sps.chi2_contingency(table, correction=False).statistic
    deff = stats.design_effect(2_000, 2_000, stats.indicator_time(ref), stats.indicator_time(live))
    assert deff > 3
    assert corrected.test == "chi2" and plain.p_value is not None
    expected = max(plain.p_value, sps.chi2.sf(x2 / deff, 4))
    assert corrected.p_value == pytest.approx(expected, rel=1e-9)


def test_independent_rows_keep_their_p_values() -> None:
    """Independent rows: the corrected and the plain p-values are identical (no power lost)."""
    rng = np.random.default_rng(10)
    kinds = {"x": FeatureKind.NUMERIC, "c": FeatureKind.CATEGORICAL}
    ref = pd.DataFrame({"x": rng.normal(size=3_000), "c": rng.choice(list("abcd"), size=3_000)})
    live = pd.DataFrame(
        {"x": rng.normal(0.05, 1, size=1_000), "c": rng.choice(list("abcd"), 1_000)}
    )
    summary = detect.summarize(ref, kinds)
    corrected = detect.detect(summary, live, DriftConfig())
    plain = detect.detect(summary, live, DriftConfig(dependence=False))
    assert [f.p_value for f in corrected.features] == [f.p_value for f in plain.features]


def _false_alarms(kind: FeatureKind, n_ref: int, n_live: int, reps: int) -> dict[bool, float]:
    """Per-feature false-alarm rate (raw p <= alpha) of detect on AR(1) rho 0.9 rows without
    drift, with (True) and without (False) the dependence correction; 2 features per rep."""
    rng = np.random.default_rng(2_026 + (kind is FeatureKind.CATEGORICAL))
    kinds = {"a": kind, "b": kind}

    def column(n: int) -> np.ndarray:
        x = ar1(rng, n, 0.9)
        if kind is FeatureKind.NUMERIC:
            return x
        return np.searchsorted(QUINTILES, x).astype(str)

    hits = {True: 0, False: 0}
    for rep in range(reps):
        ref = pd.DataFrame({k: column(n_ref) for k in kinds})
        live = pd.DataFrame({k: column(n_live) for k in kinds})
        summary = detect.summarize(ref, kinds)
        for dependence in (True, False):
            report = detect.detect(summary, live, DriftConfig(dependence=dependence), seed=rep)
            hits[dependence] += sum(
                f.p_value is not None and f.p_value <= ALPHA for f in report.features
            )
    return {k: v / (2 * reps) for k, v in hits.items()}


@pytest.mark.parametrize(
    ("kind", "n_ref", "n_live"),
    [
        (FeatureKind.NUMERIC, 2_000, 500),
        (FeatureKind.NUMERIC, 2_000, 60),
        (FeatureKind.CATEGORICAL, 2_000, 2_000),
    ],
)
def test_false_alarm_rate_under_ar1_stays_within_alpha(
    kind: FeatureKind, n_ref: int, n_live: int
) -> None:
    """AR(1) rho 0.9, no drift, 150 windows x 2 features: with the correction the per-feature
    false-alarm rate is at most alpha + 0.02; without it (dependence = false) it is above 0.5,
    so this calibration would catch a correction that did nothing. The 60-row window holds
    about 3 independent rows' worth (tau 19): it raised 50 % false alarms while the effective
    size was floored at min_samples there too."""
    rates = _false_alarms(kind, n_ref, n_live, reps=150)
    assert rates[True] <= ALPHA + 0.02, rates
    assert rates[False] > 0.5, rates


def test_short_dependence_takes_the_p_value_at_the_honest_size() -> None:
    """AR(1) rho 0.9 with a 60-row live window: tau (about 19) is shorter than the window, so
    the p-value is kstwo at ``n*m/(n+m) / deff`` however small that is (about 3 rows), not at
    the min_samples floor of 30 that seasons get."""
    rng = np.random.default_rng(11)
    ref, live = ar1(rng, 2_000, 0.9), ar1(rng, 60, 0.9) + 0.5
    kinds = {"x": FeatureKind.NUMERIC}
    summary = detect.summarize(pd.DataFrame({"x": ref}), kinds)
    got = detect.detect(summary, pd.DataFrame({"x": live}), DriftConfig()).features[0]
    tau_ref = stats.integrated_time(ref)
    assert 5 < tau_ref < 30  # short: at most half the window's 60 rows
    deff = stats.design_effect(2_000, 60, tau_ref, max(stats.integrated_time(live), tau_ref))
    size = round(2_000 * 60 / 2_060 / deff)
    assert size < DriftConfig().min_samples
    d = sps.ks_2samp(ref, live).statistic
    assert got.p_value == pytest.approx(max(sps.ks_2samp(ref, live).pvalue, sps.kstwo.sf(d, size)))


def test_seasonal_dependence_keeps_the_floor_and_a_jump_still_alarms() -> None:
    """A daily seasonal series (two years of a yearly cycle plus noise, in time order) has a
    tau far longer than a 60-day window: that is the season, which the normal-variation
    thresholds judge, so the effective size stays at min_samples and a jump of 3 noise SDs in
    two months is still significant; dividing by the season's tau would hide it."""
    rng = np.random.default_rng(12)
    day = np.arange(2 * 365)
    ref = 2 * np.sin(2 * np.pi * day / 365.25) + ar1(rng, day.size, 0.5)
    live = 2 * np.sin(2 * np.pi * np.arange(730, 790) / 365.25) + ar1(rng, 60, 0.5) + 3.0
    kinds = {"x": FeatureKind.NUMERIC}
    summary = detect.summarize(pd.DataFrame({"x": ref}), kinds)
    tau = summary.columns["x"].tau
    assert tau > 30  # longer than half the window
    got = detect.detect(summary, pd.DataFrame({"x": live}), DriftConfig()).features[0]
    assert got.p_value is not None and got.p_value < ALPHA, got
    unfloored = stats.deflated_ks_p(got.statistic, 730, 60, stats.design_effect(730, 60, tau, tau))
    assert unfloored > ALPHA  # what the season's own tau would have made of it
    assert "autocorrelated rows" in got.detail
