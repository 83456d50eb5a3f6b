"""driftd.stats agrees with scipy where scipy has the test; its own parts behave as documented."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from driftd import stats
from driftd.domain import FeatureKind
from driftd.errors import StatsError
from driftd.stats import chernoff

TOL = 1e-9


def _pairs(seed: int, sizes: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Continuous, tied (rounded), integer and large-offset sample pairs of the given sizes."""
    rng = np.random.default_rng(seed)
    n, m = sizes
    return [
        (rng.normal(size=n), rng.normal(0.2, 1.3, size=m)),
        (np.round(rng.normal(size=n), 1), np.round(rng.normal(0.1, 1, size=m), 1)),
        (rng.poisson(4, size=n).astype(float), rng.poisson(4.5, size=m).astype(float)),
        (1e9 + rng.lognormal(size=n) * 1e3, 1e9 + rng.lognormal(0.1, size=m) * 1e3),
    ]


@pytest.mark.parametrize("sizes", [(7, 5), (40, 300), (999, 1000), (3000, 10_000)])
def test_ks_matches_scipy_exact_mode(sizes: tuple[int, int]) -> None:
    """Up to 10 000 values per sample, statistic and p-value equal ks_2samp's exact mode."""
    for x, y in _pairs(1, sizes):
        ours, ref = stats.ks(x, y), sps.ks_2samp(x, y)
        assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)
        assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)


@pytest.mark.parametrize("sizes", [(12_000, 15_000), (40_000, 200)])
def test_ks_matches_scipy_asymptotic_mode(sizes: tuple[int, int]) -> None:
    """Beyond 10 000 values the statistic is exact and the p-value is ks_2samp's kstwo one."""
    for x, y in _pairs(2, sizes):
        ours, ref = stats.ks(x, y), sps.ks_2samp(x, y)
        assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)
        assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)


@pytest.mark.parametrize("sizes", [(1, 1), (5, 9), (300, 40), (5000, 7000)])
def test_wasserstein_matches_scipy_divided_by_reference_sd(sizes: tuple[int, int]) -> None:
    """wasserstein = scipy's wasserstein_distance / population SD of the reference."""
    for x, y in _pairs(3, sizes):
        if np.std(x) == 0:
            continue
        expected = sps.wasserstein_distance(x, y) / np.std(x)
        assert stats.wasserstein(x, y).statistic == pytest.approx(expected, rel=TOL)


def test_wasserstein_is_the_shift_in_sds() -> None:
    """Moving every value by 0.3 reference SDs reads as 0.3 ("reference SDs moved")."""
    x = np.random.default_rng(4).normal(50, 7, size=4000)
    assert stats.wasserstein(x, x + 0.3 * np.std(x)).statistic == pytest.approx(0.3, rel=1e-12)


def test_sketched_reference_stays_within_a_grid_cell_of_exact() -> None:
    """A 16 384-point sketch of a big reference keeps KS within 1e-4 and Wasserstein within 0.1%."""
    rng = np.random.default_rng(5)
    for x, y in ((rng.normal(size=300_000), rng.normal(0.01, 1, size=200_000)),
                 (rng.lognormal(size=300_000), rng.lognormal(0.02, 1, size=50_000))):  # fmt: skip
        ref = stats.NumericReference.of(x, max_grid=stats.SKETCH_GRID)
        assert not ref.lossless and ref.grid.size <= stats.SKETCH_GRID
        exact = sps.ks_2samp(x, y)
        approx = stats.ks(ref, y)
        assert abs(approx.statistic - exact.statistic) < 1e-4
        w = stats.wasserstein(ref, y).statistic * ref.sd
        assert w == pytest.approx(sps.wasserstein_distance(x, y), rel=1e-3)


def test_anderson_darling_matches_scipy() -> None:
    """anderson_darling = anderson_ksamp (midrank), p-value clipped to [0.001, 0.25] as scipy's."""
    for x, y in _pairs(6, (200, 150)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sps.anderson_ksamp([x, y])
        ours = stats.anderson_darling(x, y)
        assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)
        assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)


@pytest.mark.parametrize("sizes", [(8, 12), (300, 200)])
def test_cramer_von_mises_matches_scipy(sizes: tuple[int, int]) -> None:
    """cramer_von_mises = cramervonmises_2samp (exact for tiny samples, asymptotic otherwise)."""
    for x, y in _pairs(7, sizes):
        ref = sps.cramervonmises_2samp(x, y)
        ours = stats.cramer_von_mises(x, y)
        assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)
        assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)


@pytest.mark.parametrize(
    ("ref", "live"),
    [
        ([500, 300, 200], [400, 350, 250]),
        ([120, 80], [90, 110]),  # 2 x 2: scipy applies Yates' correction
        ([1000, 0, 300, 25], [900, 40, 310, 30]),  # a category new in live
        ([50, 50, 50, 50, 50], [60, 40, 55, 45, 50]),
    ],
)
def test_chi2_matches_chi2_contingency(ref: list[int], live: list[int]) -> None:
    """On tables with adequate expected counts chi2 is scipy's two-sample chi2_contingency."""
    expected = sps.chi2_contingency(np.array([ref, live]))
    ours = stats.chi2(ref, live)
    assert ours.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(expected.pvalue, abs=TOL)


def test_chi2_is_two_sample_not_goodness_of_fit() -> None:
    """Under no drift, 1 000 vs 1 000 rows alarm about alpha of the time (a goodness-of-fit test
    that treats the reference shares as exact alarms ~46 % of the time here)."""
    rng = np.random.default_rng(8)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    alarms = sum(
        (stats.chi2(rng.multinomial(1000, p), rng.multinomial(1000, p)).p_value or 0.0) <= 0.05
        for _ in range(400)
    )
    assert alarms / 400 < 0.09


def test_chi2_sparse_table_uses_seeded_monte_carlo() -> None:
    """Sparse tables get a seeded Monte Carlo p-value with Pearson's uncorrected statistic:
    20 / tables-drawn when it stops early, (1 + hits) / 2001 otherwise."""
    ref, live = [30, 1, 2, 0, 1], [5, 3, 0, 4, 0]
    first, again = stats.chi2(ref, live, seed=3), stats.chi2(ref, live, seed=3)
    assert first == again
    table = np.array([ref, live], dtype=float)
    expected = np.outer(table.sum(1), table.sum(0)) / table.sum()
    assert first.statistic == pytest.approx(((table - expected) ** 2 / expected).sum())
    assert first.p_value == pytest.approx(1 / 2001)  # never as extreme in 2 000 tables
    quiet = stats.chi2([30, 2, 1, 1, 1], [25, 2, 2, 0, 1], seed=3).p_value
    assert quiet is not None and quiet > 0.2
    assert 20 / quiet == pytest.approx(round(20 / quiet))  # stopped early after 20 hits


def _exact_tail(colors: list[int], n: int) -> list[tuple[float, float]]:
    """Every row of ``n`` draws without replacement from ``colors``: (sum d^2 / c, probability)."""
    total = special.comb(sum(colors), n, exact=True)
    rows = []
    for d in itertools.product(*(range(c + 1) for c in colors)):
        if sum(d) == n:
            pairs = list(zip(colors, d, strict=True))
            weight = math.prod(special.comb(c, x, exact=True) for c, x in pairs)
            rows.append((sum(x * x / c for c, x in pairs), weight / total))
    return rows


def test_chernoff_bound_is_never_below_the_exact_p_value() -> None:
    """On small 2 x K tables, enumerated exactly, the bound is at least the exact conditional
    p-value at every attainable statistic (it is a valid p-value), and within a factor of a
    few hundred of it in the tail (so far-tail tables get a usable value)."""
    rng = np.random.default_rng(4)
    ratios = []
    for _ in range(25):
        colors = rng.integers(1, 7, size=int(rng.integers(2, 6))).tolist()
        n = int(rng.integers(1, sum(colors)))
        rows = _exact_tail(colors, n)
        for s, _ in rows:
            exact = sum(p for t, p in rows if t >= s * (1 - 1e-9))
            bound = math.exp(chernoff.log_p_bound(np.array(colors), n, s * (1 - 1e-9)))
            assert bound >= exact * (1 - 1e-9)
            if exact < 0.01:
                ratios.append(bound / exact)
    assert ratios and max(ratios) < 1000


def test_a_far_tail_sparse_table_gets_the_bound_not_2000_tables() -> None:
    """A drifted 1,000-level column of 2 x 10,000 rows (sparse: many expected counts below 5)
    gets the Chernoff bound as its p-value, below the Monte Carlo floor 1/2001; 2,000 random
    tables confirm that none is as extreme."""
    rng = np.random.default_rng(5)
    w = 1 / np.arange(1, 1001) ** 0.8
    p = w / w.sum()
    ref = rng.multinomial(10_000, p)
    live = rng.multinomial(10_000, 0.8 * p + 0.2 * p[::-1])
    result = stats.chi2(ref, live)
    assert result.p_value is not None and result.p_value < 1 / 2001
    keep = (ref + live) > 0
    colors, row = (ref + live)[keep], live[keep]
    observed = float((row.astype(float) ** 2) @ (1 / colors)) * (1 - 1e-9)
    bound = math.exp(chernoff.log_p_bound(colors, int(row.sum()), observed))
    assert result.p_value == pytest.approx(bound, rel=1e-12)
    drawn = rng.multivariate_hypergeometric(colors, int(row.sum()), size=2000)
    assert ((drawn.astype(float) ** 2) @ (1 / colors) >= observed).sum() == 0


@pytest.mark.parametrize("n", [6, 1000, 10_000])
def test_ks_of_equal_sizes_matches_scipy_exact_to_relative_precision(n: int) -> None:
    """Equal sizes take the vectorised exact p-value: ks_2samp's statistic and p-value to
    1e-12 relative, tiny p-values included."""
    for x, y in _pairs(3, (n, n)):
        ours, ref = stats.ks(x, y), sps.ks_2samp(x, y)
        assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12, abs=1e-15)
        assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-300)


def test_chi2_sparse_p_values_are_calibrated() -> None:
    """With 50 live rows over 40 categories (Monte Carlo path) no-drift alarms stay near alpha."""
    rng = np.random.default_rng(9)
    p = np.full(40, 1 / 40)
    ps = [stats.chi2(rng.multinomial(2000, p), rng.multinomial(50, p), seed=i).p_value
          for i in range(300)]  # fmt: skip
    assert np.mean(np.array(ps) <= 0.05) < 0.095


@pytest.mark.parametrize(("ref", "live"), [([8, 2], [1, 9]), ([0, 5], [3, 3]), ([40, 3], [38, 9])])
def test_fisher_matches_fisher_exact(ref: list[int], live: list[int]) -> None:
    """fisher's p-value is scipy's fisher_exact; its statistic is the change in share."""
    expected = sps.fisher_exact([ref, live])
    ours = stats.fisher(ref, live)
    assert ours.p_value == pytest.approx(expected.pvalue, abs=TOL)
    assert ours.statistic == pytest.approx(abs(live[1] / sum(live) - ref[1] / sum(ref)))


def test_fisher_refuses_more_than_two_categories() -> None:
    """Fisher's exact test here is for binary features: three categories are a StatsError."""
    with pytest.raises(StatsError, match="binary"):
        stats.fisher([1, 2, 3], [3, 2, 1])


def test_jensen_shannon_matches_scipy_base_2() -> None:
    """jensen_shannon = scipy.spatial.distance.jensenshannon(p, q, base=2)."""
    rng = np.random.default_rng(10)
    for k in (2, 5, 50):
        a, b = rng.integers(0, 100, size=k), rng.integers(0, 100, size=k)
        b[0] += 1
        a[-1] += 1
        expected = jensenshannon(a / a.sum(), b / b.sum(), base=2)
        assert stats.jensen_shannon(a, b).statistic == pytest.approx(expected, abs=TOL)


def test_new_category_of_one_percent_moves_js_by_about_0_07() -> None:
    """The documented reading of the JS scale: 1 % of rows in a new category ≈ 0.07."""
    value = stats.jensen_shannon([5000, 5000, 0], [4950, 4950, 100]).statistic
    assert value == pytest.approx(0.0709, abs=0.001)


def test_psi_tvd_linf_by_hand() -> None:
    """PSI, total variation and L-infinity on a small example computed by hand."""
    ref, live = [50, 30, 20], [40, 30, 30]
    p, q = np.array(ref) / 100, np.array(live) / 100
    assert stats.psi(ref, live).statistic == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert stats.tvd(ref, live).statistic == pytest.approx(0.1)
    assert stats.linf(ref, live).statistic == pytest.approx(0.1)


def test_psi_of_an_empty_bin_is_finite() -> None:
    """A category with no reference rows gives a large but finite PSI (shares floored at 1e-4)."""
    value = stats.psi([100, 0], [50, 50]).statistic
    assert np.isfinite(value) and value > 1


def test_numeric_psi_and_js_use_reference_deciles() -> None:
    """Numeric PSI/JS bin both samples by the reference's deciles: the reference fills each
    bin with a tenth, so a live sample equal to the reference gives exactly 0."""
    x = np.arange(1000, dtype=float)
    ref = stats.NumericReference.of(x)
    counts_ref, counts_live = stats.numeric.binned_counts(ref, stats.Sample.of(x))
    assert counts_ref.tolist() == [100] * 10 and counts_live.tolist() == [100] * 10
    assert stats.psi_numeric(x, x).statistic == 0.0
    # Everything above the reference lands in the open top bin, which holds a tenth of it.
    top = jensenshannon(np.full(10, 0.1), np.eye(10)[9], base=2)
    assert stats.jensen_shannon_numeric(x, x + 1000).statistic == pytest.approx(top)


@pytest.mark.parametrize("method", ["bh", "bonferroni", "none"])
def test_adjust_matches_scipy_false_discovery_control(method: str) -> None:
    """BH equals scipy.stats.false_discovery_control; Bonferroni is min(1, m * p)."""
    rng = np.random.default_rng(11)
    p = np.concatenate((rng.uniform(size=30), rng.uniform(0, 1e-3, size=5), [1.0, 0.0, 0.5, 0.5]))
    ours = stats.adjust(p, method)
    if method == "bh":
        np.testing.assert_allclose(ours, sps.false_discovery_control(p, method="bh"), atol=TOL)
    elif method == "bonferroni":
        np.testing.assert_allclose(ours, np.minimum(1, p * p.size), atol=TOL)
    else:
        np.testing.assert_array_equal(ours, p)


def test_adjust_rejects_bad_input() -> None:
    """NaN p-values and unknown methods are StatsErrors; an empty family is fine."""
    with pytest.raises(StatsError):
        stats.adjust([0.1, float("nan")], "bh")
    with pytest.raises(StatsError, match="unknown correction"):
        stats.adjust([0.1], "holm")
    assert stats.adjust([], "bh").size == 0


def test_two_proportion_z_test() -> None:
    """The pooled two-proportion z-test, checked against the normal tail by hand."""
    r = stats.two_proportion(30, 1000, 60, 1000)
    pooled = 90 / 2000
    z = 0.03 / np.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert r.statistic == pytest.approx(0.03)
    assert r.p_value == pytest.approx(2 * sps.norm.sf(z), rel=1e-12)
    assert stats.two_proportion(0, 10, 0, 20).p_value == 1.0


def test_test_problem_names_the_known_tests() -> None:
    """Config validation gets a one-line reason naming the alternatives, or None."""
    assert stats.test_problem("chi2", FeatureKind.CATEGORICAL) is None
    assert stats.test_problem("jensen_shannon", "numeric", role="effect") is None
    problem = stats.test_problem("ks", FeatureKind.CATEGORICAL)
    assert problem is not None and "does not apply" in problem and "chi2" in problem
    problem = stats.test_problem("wasserstein", "numeric")
    assert problem is not None and "not a test" in problem
    problem = stats.test_problem("nope", "numeric")
    assert problem is not None and problem.startswith("unknown test 'nope'")


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0, 2.0, 3.0]),
        np.array([1e308, 1e308, -5.0]),  # finite, but the sum overflows
        np.array([1.0, np.nan, np.inf, -np.inf, 2.0]),
        np.array([np.inf, -np.inf]),  # the sum is NaN, not infinite
        np.array([]),
    ],
)
def test_split_finite_counts_nan_and_inf(values: np.ndarray) -> None:
    finite, n_nan, n_inf = stats.split_finite(values)
    assert finite.tolist() == values[np.isfinite(values)].tolist()
    assert (n_nan, n_inf) == (np.isnan(values).sum(), np.isinf(values).sum())


@pytest.mark.parametrize("n", [150, 2_000, 5_000, 20_000])
@pytest.mark.parametrize("z", [0.5, 1.0, 1.483, 1.49, 2.0, 3.0, 6.0, 12.0, 19.2, 19.3])
def test_ks_sf_matches_scipy_kstwo(n: int, z: float) -> None:
    """Where scipy sums the Smirnov series term by term (2.2 <= n d^2 < 370, slow for large n)
    driftd sums it in log space; everywhere the two agree to 1e-9, relative and absolute."""
    d = z / np.sqrt(n)
    expected = float(sps.kstwo.sf(d, n))
    got = stats.kolmogorov.ks_sf(d, n)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_ks_p_value_of_a_large_window_comes_from_the_log_space_sum() -> None:
    """n = 100,000 with a moderate shift: scipy would take 0.15 s; the value is the same."""
    d, n = 0.01, 100_000
    assert 2.2 <= n * d * d < 370
    assert stats.kolmogorov.ks_sf(d, n) == pytest.approx(2 * float(special.smirnov(n, d)), rel=1e-9)
