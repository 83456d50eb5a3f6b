"""The binned path for large numeric columns agrees with scipy and with the exact path."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from driftd import detect, stats
from driftd.config import DriftConfig
from driftd.domain import FeatureKind, FeatureState
from driftd.errors import StatsError
from driftd.stats import binned, buckets

Family = Callable[[np.random.Generator, int, float], np.ndarray]

FAMILIES: dict[str, Family] = {
    "normal": lambda rng, n, s: rng.normal(s, 1.0, n),
    "lognormal": lambda rng, n, s: rng.lognormal(0.0, 1.0, n) + s,
    "poisson": lambda rng, n, s: rng.poisson(20 + 4.5 * s, n).astype(np.float64),
    "bimodal": lambda rng, n, s: np.where(rng.random(n) < 0.5, -2.0, 2.0) + rng.normal(s, 1, n),
    "zero_inflated": lambda rng, n, s: (
        np.where(rng.random(n) < 0.3, 0.0, rng.exponential(1, n)) + s
    ),
    "cauchy": lambda rng, n, s: rng.standard_cauchy(n) + s,
    "rounded": lambda rng, n, s: np.round(rng.normal(s, 1.0, n), 1),
    "spike_and_outliers": lambda rng, n, s: np.where(
        rng.random(n) < 0.999, 5.0 + s, rng.normal(0, 1e6, n)
    ),
}


def _pair(family: str, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    make = FAMILIES[family]
    return make(rng, 60_000, 0.0), make(rng, 20_000, shift)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("shift", [0.0, 0.1, 2.0])
def test_binned_ks_and_wasserstein_match_scipy(family: str, shift: float) -> None:
    """KS is within TOLERANCE below the exact statistic and Wasserstein within 0.003 SD of
    scipy, on smooth, skewed, discrete, heavy-tailed and spiky data."""
    ref_values, live_values = _pair(family, shift, seed=len(family))
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    live = stats.BinnedSample.build(ref, live_values)
    exact = sps.ks_2samp(ref_values, live_values).statistic
    d = binned.ks_statistic(ref, live)
    assert exact - binned.TOLERANCE <= d <= exact + 1e-12
    w = binned.wasserstein_raw(ref, live)
    assert w == pytest.approx(sps.wasserstein_distance(ref_values, live_values), abs=3e-3 * ref.sd)


def test_live_values_between_reference_atoms_are_evaluated_exactly() -> None:
    """Integer reference, live values at half-integers: every heavy bucket holds live values
    off its atom, and the statistic is still exact."""
    rng = np.random.default_rng(3)
    ref_values = rng.poisson(10, 200_000).astype(np.float64)
    live_values = rng.poisson(10, 50_000) + np.where(rng.random(50_000) < 0.3, 0.5, 0.0)
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    live = stats.BinnedSample.build(ref, live_values)
    assert live.values.size > 0
    exact = sps.ks_2samp(ref_values, live_values).statistic
    assert binned.ks_statistic(ref, live) == pytest.approx(exact, abs=1e-12)


def test_a_heavy_bucket_the_probe_misses_is_still_exact() -> None:
    """The probe takes every third value of 200k; a spike of distinct values placed only between
    probe positions is found by the counts and gathered after the scan."""
    rng = np.random.default_rng(11)
    ref_values = rng.normal(size=200_000)
    spike = 0.5 + rng.random(2_000) * 1e-6  # 1 % of the mass in one bucket, all values distinct
    off_probe = np.flatnonzero(np.arange(ref_values.size) % 3 != 0)[:2_000]
    ref_values[off_probe] = spike
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    bucket = int(ref.buckets.index(np.array([0.5]))[0])
    assert ref.exact[bucket] and np.isnan(ref.atoms[bucket])
    live_values = np.concatenate((rng.normal(size=40_000), 0.5 + rng.random(400) * 1e-6))
    live = stats.BinnedSample.build(ref, live_values)
    exact = sps.ks_2samp(ref_values, live_values).statistic
    assert exact - binned.TOLERANCE <= binned.ks_statistic(ref, live) <= exact + 1e-12
    in_bucket = ref.values[ref.value_buckets == bucket]
    assert np.array_equal(in_bucket, np.unique(ref_values[ref.buckets.index(ref_values) == bucket]))


def test_an_atom_bucket_that_also_holds_other_values() -> None:
    """Integers with a few values a hair above 20: the probe guesses 20 as the bucket's only
    value, the scan keeps the others, and both are counted exactly."""
    rng = np.random.default_rng(12)
    ref_values = rng.poisson(20, 200_000).astype(np.float64)
    ref_values[rng.choice(ref_values.size, 300, replace=False)] = 20.0 + 1e-9
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    bucket = int(ref.buckets.index(np.array([20.0]))[0])
    assert np.isnan(ref.atoms[bucket])  # two distinct values: no atom
    mine = ref.value_buckets == bucket
    held = dict(zip(ref.values[mine].tolist(), ref.weights[mine].tolist(), strict=True))
    assert held == {20.0: np.count_nonzero(ref_values == 20.0), 20.0 + 1e-9: 300}
    live_values = rng.poisson(20.5, 50_000).astype(np.float64)
    live = stats.BinnedSample.build(ref, live_values)
    exact = sps.ks_2samp(ref_values, live_values).statistic
    assert binned.ks_statistic(ref, live) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_reference_mean_and_sd_within_half_a_bucket(family: str) -> None:
    """Counted values stand at their bucket's midpoint, so mean and SD are off by at most half
    a bucket width (and far less in practice)."""
    values = FAMILIES[family](np.random.default_rng(13), 200_000, 0.0)
    ref = stats.BinnedReference.build(values)
    assert ref is not None
    half = 0.5 / ref.buckets.scale
    assert abs(ref.mean - float(np.mean(values))) <= half
    assert abs(ref.sd - float(np.std(values))) <= half
    assert ref.sd == pytest.approx(float(np.std(values)), rel=1e-5)


def test_reference_sd_overflow_is_not_finite() -> None:
    """Values near the float limit: the SD overflows and shows as such, never as a number that
    would make every Wasserstein distance look small."""
    values = np.where(np.arange(200_000) % 2, 1e300, -1e300) * np.linspace(1, 2, 200_000)
    ref = stats.BinnedReference.build(values)
    assert ref is not None
    assert not np.isfinite(ref.sd)


def test_a_point_mass_live_window_inside_one_bucket() -> None:
    """All live values equal, inside a bucket: the gap there is found, not averaged away."""
    ref_values = np.random.default_rng(4).normal(size=200_000)
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    live_values = np.full(1_000, 0.123456)
    live = stats.BinnedSample.build(ref, live_values)
    exact = sps.ks_2samp(ref_values, live_values).statistic
    assert exact - binned.TOLERANCE <= binned.ks_statistic(ref, live) <= exact + 1e-12


def test_ks_p_value_is_scipys_asymptotic_one() -> None:
    """The binned KS p-value is scipy's kstwo at the effective size, like the exact path."""
    ref_values, live_values = _pair("normal", 0.02, seed=5)
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    live = stats.BinnedSample.build(ref, live_values)
    result = stats.ks(ref, live)
    d = binned.ks_statistic(ref, live)
    n_eff = round(ref_values.size * live_values.size / (ref_values.size + live_values.size))
    assert result.statistic == d
    assert result.p_value == pytest.approx(sps.kstwo.sf(d, n_eff), abs=1e-12)
    exact = sps.ks_2samp(ref_values, live_values, method="asymp")
    assert exact.statistic - binned.TOLERANCE <= d <= exact.statistic
    assert result.p_value >= exact.pvalue  # a smaller statistic can only raise the p-value


def test_no_spread_means_no_buckets() -> None:
    """A constant column cannot be bucketed; the summary falls back to the exact reference."""
    assert stats.BinnedReference.build(np.full(200_000, 3.0)) is None
    frame = pd.DataFrame({"x": np.full(200_000, 3.0)})
    summary = detect.summarize(frame, {"x": FeatureKind.NUMERIC}, binned=True)
    assert summary.columns["x"].binned is None
    assert summary.columns["x"].numeric is not None


def test_tests_that_need_the_sorted_reference_refuse_a_binned_one() -> None:
    """Anderson-Darling on bucket counts would be silently wrong: it is a StatsError."""
    ref_values, live_values = _pair("normal", 0.0, seed=6)
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    with pytest.raises(StatsError, match="exact reference"):
        stats.anderson_darling(ref, stats.BinnedSample.build(ref, live_values))


def test_binnable_configs() -> None:
    """Only KS with Wasserstein, PSI or Jensen-Shannon and fixed thresholds use buckets."""
    assert detect.binnable(DriftConfig())
    assert detect.binnable(DriftConfig(numeric_effect="psi", numeric_threshold=0.2))
    assert not detect.binnable(DriftConfig(numeric_test="anderson_darling"))
    assert not detect.binnable(DriftConfig(numeric_threshold="auto"))


def _frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_ref, n_live = 120_000, 30_000
    ref = pd.DataFrame(
        {
            "same": rng.normal(size=n_ref),
            "moved": rng.lognormal(size=n_ref),
            "counts": rng.poisson(5, n_ref).astype(np.float64),
            "holes": rng.normal(size=n_ref),
        }
    )
    holes = rng.normal(size=n_live)
    holes[:3_000] = np.nan
    holes[3_000:3_010] = np.inf
    live = pd.DataFrame(
        {
            "same": rng.normal(size=n_live),
            "moved": rng.lognormal(size=n_live) + 0.3,
            "counts": rng.poisson(5, n_live).astype(np.float64),
            "holes": holes,
        }
    )
    return ref, live


@pytest.mark.parametrize("effect", ["wasserstein", "psi", "jensen_shannon"])
def test_detect_binned_and_exact_paths_agree(effect: str) -> None:
    """Same states, same drifted features, effects within the documented error, NaN and inf
    counted as missing, whichever path the summary took."""
    ref, live = _frames(7)
    kinds = detect.infer_kinds(ref)
    threshold = 0.2 if effect == "psi" else 0.05
    cfg = DriftConfig(numeric_effect=effect, numeric_threshold=threshold)
    fast = detect.detect(detect.summarize(ref, kinds, binned=True), live, cfg)
    slow = detect.detect(detect.summarize(ref, kinds, binned=False), live, cfg)
    assert set(fast.drifted) == set(slow.drifted) == {"holes", "moved"}
    for a, b in zip(fast.features, slow.features, strict=True):
        assert a.state == b.state
        assert a.statistic == pytest.approx(b.statistic, abs=1e-3)
        assert a.effect == pytest.approx(b.effect, abs=5e-3, rel=0.02)
        assert a.missing_live == b.missing_live
    holes = next(f for f in fast.features if f.feature == "holes")
    assert holes.missing_live == pytest.approx(3_010 / 30_000)


def test_all_nan_live_column_is_invalid_on_the_binned_path() -> None:
    """An all-NaN live column is never 'fine', whichever path."""
    ref, live = _frames(8)
    live["same"] = np.nan
    summary = detect.summarize(ref, detect.infer_kinds(ref), binned=True)
    assert summary.columns["same"].binned is not None
    report = detect.detect(summary, live, DriftConfig())
    same = next(f for f in report.features if f.feature == "same")
    assert same.state in (FeatureState.INVALID, FeatureState.DRIFT)


@pytest.mark.parametrize("family", ["normal", "poisson", "zero_inflated"])
def test_live_nans_and_infinities_are_tallied_not_counted(family: str) -> None:
    """The live scan checks finiteness chunk by chunk; the result equals counting the finite
    values alone (tails, atoms and kept values included), with NaNs and infinities tallied."""
    ref_values, live_values = _pair(family, 0.1, seed=21)
    ref = stats.BinnedReference.build(ref_values)
    assert ref is not None
    dirty = live_values.copy()
    dirty[::997] = np.nan
    dirty[5::1999] = np.inf
    dirty[7::2503] = -np.inf
    finite = dirty[np.isfinite(dirty)]
    clean, mixed = stats.BinnedSample.build(ref, finite), stats.BinnedSample.build(ref, dirty)
    assert (mixed.n, mixed.n_nan, mixed.n_inf) == (
        finite.size,
        int(np.isnan(dirty).sum()),
        int(np.isinf(dirty).sum()),
    )
    assert np.array_equal(mixed.counts, clean.counts)
    assert np.array_equal(mixed.values, clean.values)
    assert np.array_equal(mixed.at_atom, clean.at_atom)
    assert binned.ks_statistic(ref, mixed) == binned.ks_statistic(ref, clean)


def test_reference_nans_and_infinities_are_tallied_not_counted() -> None:
    """The reference is built from the raw column: it summarises the finite values exactly
    (an integer column: KS exact), and the summary counts NaNs and infinities as missing."""
    values = FAMILIES["poisson"](np.random.default_rng(22), 200_000, 0.0)
    dirty = values.copy()
    dirty[::101] = np.nan
    dirty[3::307] = np.inf
    dirty[9::401] = -np.inf
    finite = dirty[np.isfinite(dirty)]
    mixed = stats.BinnedReference.build(dirty)
    assert mixed is not None
    assert (mixed.n, mixed.n_nan, mixed.n_inf) == (
        finite.size,
        int(np.isnan(dirty).sum()),
        int(np.isinf(dirty).sum()),
    )
    assert int(mixed.counts.sum()) == finite.size
    assert abs(mixed.sd - float(np.std(finite))) <= 0.5 / mixed.buckets.scale
    live_values = FAMILIES["poisson"](np.random.default_rng(23), 50_000, 0.3)
    live = stats.BinnedSample.build(mixed, live_values)
    exact = sps.ks_2samp(finite, live_values).statistic
    assert binned.ks_statistic(mixed, live) == pytest.approx(exact, abs=1e-12)
    column = detect.summarize(
        pd.DataFrame({"x": dirty}), {"x": FeatureKind.NUMERIC}, binned=True
    ).columns["x"]
    assert column.binned is not None
    assert (column.n_missing, column.n_infinite) == (dirty.size - finite.size, mixed.n_inf)


def test_a_reference_of_infinities_around_a_spike_is_not_bucketed() -> None:
    """The probe sees one value, the fallback spread must ignore the infinities."""
    values = np.full(200_000, 2.0)
    values[::50] = np.inf
    assert stats.BinnedReference.build(values) is None


def test_bucket_index_is_monotone_and_matches_the_edges() -> None:
    """Every value lands between its bucket's edges (up to rounding at an edge itself), no
    larger value lands in a lower bucket, and values near the float limit land in the tails
    without a warning."""
    rng = np.random.default_rng(31)
    placed = buckets.Buckets.place(rng.normal(3.0, 2.0, 200_000), binned.TAILS[0])
    assert placed is not None
    x = np.sort(np.concatenate((rng.normal(3.0, 4.0, 100_000), [-1e308, 1e308, 3.0])))
    k = placed.index(x)
    assert np.all(np.diff(k) >= 0)
    assert k.min() == 0 and k.max() == placed.m + 1
    edges = placed.left_edges()  # left edge of buckets 1..m+1
    inner = (k >= 1) & (k <= placed.m)
    width = 1.0 / placed.scale
    assert np.all(x[inner] >= edges[k[inner] - 1] - 1e-9 * width)
    assert np.all(x[inner] < edges[k[inner]] + 1e-9 * width)
    assert np.all(x[k == 0] < edges[0] + 1e-9 * width)
    assert np.all(x[k == placed.m + 1] >= edges[-1] - 1e-9 * width)


def test_a_heavy_tail_widens_the_kept_tails_instead_of_the_buckets() -> None:
    """Lognormal: with buckets up to its 99.99 % quantile, those at the mode would hold close to
    TOLERANCE each and dozens would be kept exactly; the buckets move in to the 0.1 % quantiles
    instead, and only the two tails are exact."""
    values = np.random.default_rng(33).lognormal(0.0, 1.0, 1_000_000)
    ref = stats.BinnedReference.build(values)
    assert ref is not None
    assert np.count_nonzero(ref.exact[1:-1]) == 0
    tail_share = (ref.counts[0] + ref.counts[-1]) / ref.n
    assert 1e-3 < tail_share < 3e-3  # 0.1 % each side
    normal = stats.BinnedReference.build(np.random.default_rng(34).normal(size=1_000_000))
    assert normal is not None
    assert (normal.counts[0] + normal.counts[-1]) / normal.n < 3e-4  # 0.01 % each side
