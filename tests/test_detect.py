"""driftd.detect: per-feature states, materiality, missing values, new categories, the verdict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from driftd import detect
from driftd.config import DriftConfig
from driftd.detect.summary import category_counts
from driftd.domain import DriftReport, FeatureDrift, FeatureKind, FeatureState, Verdict
from driftd.errors import ConfigError, DataError

NUM, CAT = FeatureKind.NUMERIC, FeatureKind.CATEGORICAL
DEFAULT = DriftConfig()


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _one(
    ref: object, live: object, kind: FeatureKind = NUM, cfg: DriftConfig = DEFAULT
) -> tuple[DriftReport, FeatureDrift]:
    """One feature named x through compare_frames: the report and its only feature."""
    report = detect.compare_frames(
        pd.DataFrame({"x": ref}), pd.DataFrame({"x": live}), {"x": kind}, cfg
    )
    return report, report.features[0]


def test_infer_kinds_by_dtype_and_list() -> None:
    """Listed columns and bool/object/string/category dtypes are categorical; numbers numeric."""
    frame = pd.DataFrame(
        {
            "f": [1.5, 2.5],
            "i": [1, 2],
            "zip": [10115, 10117],
            "b": [True, False],
            "s": pd.Series(["a", "b"], dtype="str"),
            "o": pd.Series(["a", None], dtype=object),
            "c": pd.Series(["x", "y"], dtype="category"),
        }
    )
    kinds = detect.infer_kinds(frame, categorical=["zip"])
    assert {k for k, v in kinds.items() if v is NUM} == {"f", "i"}
    assert {k for k, v in kinds.items() if v is CAT} == {"zip", "b", "s", "o", "c"}
    assert detect.infer_kinds({"a": "float32", "b": np.dtype(bool)}) == {"a": NUM, "b": CAT}


def test_infer_kinds_refuses_dates() -> None:
    """A datetime column is neither numeric nor categorical: a DataError naming it."""
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    with pytest.raises(DataError, match="'when'"):
        detect.infer_kinds(frame)


def test_summary_counts_missing_and_infinite_values() -> None:
    """NaN and ±inf are counted as missing; the numeric summary holds only finite values."""
    ref = pd.DataFrame({"x": [1.0, np.nan, np.inf, -np.inf, 2.0], "c": ["a", None, "b", "a", "a"]})
    summary = detect.summarize(ref, {"x": NUM, "c": CAT}, fingerprint="abc")
    x, c = summary.columns["x"], summary.columns["c"]
    assert (x.n_rows, x.n_missing, x.n_infinite, x.n_usable) == (5, 3, 2, 2)
    assert x.numeric is not None and x.numeric.grid.tolist() == [1.0, 2.0]
    assert c.categories is not None and c.counts is not None and c.n_missing == 1
    assert dict(zip(c.categories, c.counts.tolist(), strict=True)) == {"a": 3, "b": 1}
    assert summary.fingerprint == "abc"


def test_summary_fingerprint_is_content_based_and_large_references_are_sketched() -> None:
    """Without a fingerprint the summary hashes itself; > 16 384 distinct values are sketched."""
    rng = _rng()
    frame = pd.DataFrame({"x": rng.normal(size=40_000), "k": rng.integers(0, 50, 40_000)})
    kinds = {"x": NUM, "k": NUM}
    a, b = detect.summarize(frame, kinds), detect.summarize(frame.copy(), kinds)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 64
    x, k = a.columns["x"].numeric, a.columns["k"].numeric
    assert x is not None and not x.lossless and x.grid.size <= 16_384
    assert k is not None and k.lossless and k.grid.size == 50


def test_tiny_shift_on_a_million_rows_is_significant_but_not_material() -> None:
    """A 0.02 SD mean shift on 1M rows: KS p ~ 1e-30, but 0.02 < 0.05 SD moved, so no alarm."""
    rng = _rng(1)
    report, f = _one(rng.normal(size=1_000_000), rng.normal(0.02, 1, size=1_000_000))
    assert f.p_adjusted is not None and f.p_adjusted < 1e-10
    assert f.effect is not None and f.effect < 0.05
    assert f.state is FeatureState.OK and report.verdict is Verdict.OK
    assert "not material" in f.detail


def test_tenth_sd_shift_on_100k_rows_alarms() -> None:
    """A 0.1 SD mean shift on 100k rows is significant and material (≈ 0.1 ≥ 0.05 SDs moved)."""
    rng = _rng(2)
    report, f = _one(rng.normal(5, 2, size=100_000), rng.normal(5.2, 2, size=100_000))
    assert f.state is FeatureState.DRIFT and report.verdict is Verdict.DRIFT
    assert f.effect == pytest.approx(0.1, abs=0.015)
    assert f.test == "ks" and f.effect_name == "wasserstein" and f.threshold == 0.05


def test_new_category_with_one_percent_of_live_rows_is_detected() -> None:
    """50 of 5 000 live rows in a category the reference never saw: drift, mass reported."""
    rng = _rng(3)
    p = [0.5, 0.3, 0.2]
    ref = rng.choice(["a", "b", "c"], size=10_000, p=p)
    live = np.concatenate((rng.choice(["a", "b", "c"], size=4_950, p=p), ["new"] * 50))
    report, f = _one(ref, live, CAT)
    assert f.state is FeatureState.DRIFT and report.verdict is Verdict.DRIFT
    assert f.new_category_mass == pytest.approx(0.01)
    assert "new to the reference" in f.detail


def test_no_drift_categorical_stays_ok() -> None:
    """Same category shares on both sides: chi2 not significant, state ok, no new mass."""
    rng = _rng(4)
    p = [0.5, 0.3, 0.15, 0.05]
    _, f = _one(rng.choice(list("abcd"), 20_000, p=p), rng.choice(list("abcd"), 3_000, p=p), CAT)
    assert f.state is FeatureState.OK and f.new_category_mass == 0.0 and f.test == "chi2"


def test_missing_rate_jump_is_drift_even_when_values_agree() -> None:
    """Values drawn alike, but 20 % of live rows missing (2 % before): drift via missingness."""
    rng = _rng(5)
    ref = rng.normal(size=5_000)
    ref[:100] = np.nan
    live = rng.normal(size=2_000)
    live[:400] = np.nan
    _, f = _one(ref, live)
    assert f.state is FeatureState.DRIFT
    assert f.missing_ref == pytest.approx(0.02) and f.missing_live == pytest.approx(0.2)
    assert f.missing_p is not None and f.missing_p < 1e-10
    assert "missing rate 2.0% → 20.0%" in f.detail


def test_small_missing_rate_change_is_not_drift() -> None:
    """A significant change of the missing rate smaller than missing_threshold is not drift."""
    rng = _rng(6)
    ref, live = rng.normal(size=200_000), rng.normal(size=200_000)
    ref[:2_000], live[:6_000] = np.nan, np.nan  # 1 % -> 3 %: significant, under 5 points
    _, f = _one(ref, live)
    assert f.missing_p is not None and f.missing_p < 1e-10
    assert f.state is FeatureState.OK


def test_all_missing_live_column_is_never_ok() -> None:
    """An all-NaN live column is drift (a significant jump to 100 % missing), or invalid."""
    rng = _rng(7)
    report, f = _one(rng.normal(size=1_000), np.full(200, np.nan))
    assert f.state is FeatureState.DRIFT and report.verdict is Verdict.DRIFT
    assert "all 200 live values are missing" in f.detail
    report, f = _one(np.full(1_000, np.nan), np.full(200, np.nan))
    assert f.state is FeatureState.INVALID and report.verdict is Verdict.INVALID


def test_infinite_values_count_as_missing() -> None:
    """±inf in live data is counted as missing (and said so), not fed to the statistics."""
    rng = _rng(8)
    live = rng.normal(size=1_000)
    live[:300] = np.inf
    _, f = _one(rng.normal(size=1_000), live)
    assert f.missing_live == pytest.approx(0.3) and f.n_live == 700
    assert f.state is FeatureState.DRIFT and "300 infinite live value(s)" in f.detail


def test_nan_statistic_makes_the_feature_invalid() -> None:
    """Values so large that their SD overflows give a NaN effect: invalid with detail, not ok."""
    big = np.array([1e308, -1e308] * 100)
    report, f = _one(big, big[::-1].copy())
    assert f.state is FeatureState.INVALID and "NaN" in f.detail
    assert report.verdict is Verdict.INVALID


def test_below_min_samples_is_insufficient_data() -> None:
    """Fewer usable live values than min_samples: insufficient_data, never ok nor drift."""
    rng = _rng(9)
    report, f = _one(rng.normal(size=1_000), rng.normal(5, 1, size=20))
    assert f.state is FeatureState.INSUFFICIENT and f.p_value is None and f.effect is None
    assert "20 usable live values < min_samples 30" in f.detail
    assert report.verdict is Verdict.INVALID
    assert report.reason == "no feature could be evaluated; 1 not evaluated (x: insufficient_data)"


def test_empty_live_window_is_insufficient_for_every_feature() -> None:
    """A live window with no rows evaluates nothing: every feature insufficient, verdict invalid."""
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0] * 20, "c": ["a", "b", "c"] * 20})
    kinds = {"x": NUM, "c": CAT}
    report = detect.compare_frames(ref, ref.iloc[:0], kinds, DEFAULT)
    assert {f.state for f in report.features} == {FeatureState.INSUFFICIENT}
    assert report.verdict is Verdict.INVALID and report.n_live == 0


def _mixed(n_drift: int, n_total: int, seed: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = _rng(seed)
    ref = pd.DataFrame({f"f{i}": rng.normal(size=4_000) for i in range(n_total)})
    live = pd.DataFrame(
        {f"f{i}": rng.normal(0.5 * (i < n_drift) * (1 + i), 1, size=2_000) for i in range(n_total)}
    )
    return ref, live


def test_dataset_verdict_uses_the_share_of_drifted_features() -> None:
    """decision = "share": 3 of 10 drifted is drift at share 0.25, ok at share 0.5; the reason
    says which and why."""
    ref, live = _mixed(3, 10)
    kinds = dict.fromkeys(ref.columns, NUM)
    report = detect.compare_frames(ref, live, kinds, DriftConfig(decision="share"))
    assert report.verdict is Verdict.DRIFT and report.drifted_share == pytest.approx(0.3)
    assert report.reason == "3/10 features drifted (f2, f1, f0) ≥ share 0.25"
    assert report.p_value is None
    strict = detect.compare_frames(ref, live, kinds, DriftConfig(decision="share", share=0.5))
    assert strict.verdict is Verdict.OK
    assert strict.reason == "3/10 features drifted (f2, f1, f0) < share 0.5"


def test_features_sorted_by_effect_descending_with_none_last() -> None:
    """The report lists the biggest change first; untestable features (no effect) come last."""
    ref, live = _mixed(3, 6)
    ref["short"], live["short"] = 1.0, np.nan
    kinds = dict.fromkeys(ref.columns, NUM)
    report = detect.compare_frames(ref, live, kinds, DEFAULT)
    effects = [f.effect for f in report.features]
    assert effects[-1] is None
    assert effects[:-1] == sorted(effects[:-1], reverse=True)  # type: ignore[type-var]


def test_every_feature_carries_the_full_record() -> None:
    """Each FeatureDrift holds test, statistic, p, p_adjusted, effect, threshold, sizes, missing
    rates and detail; the report serialises to strict JSON (no NaN)."""
    ref, live = _mixed(2, 4)
    report = detect.compare_frames(ref, live, dict.fromkeys(ref.columns, NUM), DEFAULT)
    for f in report.features:
        assert f.test == "ks" and f.statistic is not None and f.p_value is not None
        assert f.p_adjusted is not None and f.p_adjusted >= f.p_value
        assert f.effect_name == "wasserstein" and f.effect is not None and f.threshold == 0.05
        assert (f.n_ref, f.n_live, f.missing_ref, f.missing_live) == (4_000, 2_000, 0.0, 0.0)
        assert f.detail
    json.dumps(report.to_dict(), allow_nan=False)


def test_corrections_adjust_across_features() -> None:
    """Bonferroni multiplies by the number of tests, none leaves p alone, BH sits in between."""
    ref, live = _mixed(2, 5)
    kinds = dict.fromkeys(ref.columns, NUM)
    by = {}
    for c in ("none", "bh", "bonferroni"):
        report = detect.compare_frames(ref, live, kinds, DriftConfig(correction=c))
        by[c] = {f.feature: f for f in report.features}
    for name, f in by["none"].items():
        assert f.p_adjusted == f.p_value
        assert by["bonferroni"][name].p_adjusted == pytest.approx(min(1.0, 5 * (f.p_value or 0)))
        assert f.p_adjusted <= by["bh"][name].p_adjusted <= by["bonferroni"][name].p_adjusted  # type: ignore[operator]


def test_small_binary_feature_uses_fisher_exact() -> None:
    """A binary feature with small expected counts is tested with Fisher's exact test."""
    _, f = _one(["yes"] * 40, ["yes"] * 22 + ["no"] * 8, CAT)  # expected "no" counts < 5
    assert f.test == "fisher" and f.state is FeatureState.DRIFT and "Fisher" in f.detail


def test_categorical_values_align_across_dtypes() -> None:
    """Integer categories match float live values (1 == 1.0); NaN is missing, not a category."""
    ref = pd.DataFrame({"k": [1, 2, 3] * 100})
    live = pd.DataFrame({"k": [1.0, 2.0, 3.0, np.nan] * 30})
    report = detect.compare_frames(ref, live, {"k": CAT}, DEFAULT)
    f = report.features[0]
    assert f.new_category_mass == 0.0 and f.missing_live == pytest.approx(0.25)


def test_auto_thresholds_are_calibrated_once_per_window_bucket() -> None:
    """ "auto" derives thresholds from the reference per window-size bucket and caches them."""
    rng = _rng(11)
    ref = pd.DataFrame({"x": rng.normal(size=5_000), "c": rng.choice(list("abcde"), 5_000)})
    summary = detect.summarize(ref, {"x": NUM, "c": CAT})
    cfg = DriftConfig(numeric_threshold="auto", categorical_threshold="auto")
    live = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(list("abcde"), 500)})
    quiet = detect.detect(summary, live, cfg)
    assert quiet.verdict is Verdict.OK
    assert len(summary.thresholds) == 2
    again = detect.detect(summary, live.iloc[:480], cfg)  # same bucket (431..511 rows)
    assert len(summary.thresholds) == 2
    small = detect.detect(summary, live.iloc[:100], cfg)
    assert len(summary.thresholds) == 4
    x_big = next(f.threshold for f in quiet.features if f.feature == "x")
    x_same = next(f.threshold for f in again.features if f.feature == "x")
    x_small = next(f.threshold for f in small.features if f.feature == "x")
    assert x_same == x_big and x_small is not None and x_big is not None and x_small > x_big
    moved = live.assign(x=live["x"] + 1.0)
    assert detect.detect(summary, moved, cfg).drifted == ("x",)


def test_window_buckets_round_down_on_a_quarter_doubling_grid() -> None:
    """Buckets are 2**(k/4) rounded down: 19 % apart, never above the window."""
    sizes = [detect.window_bucket(n) for n in range(1, 5_000)]
    assert all(b <= n for b, n in zip(sizes, range(1, 5_000), strict=True))
    assert len(set(sizes)) < 60


def test_seeded_reports_are_reproducible() -> None:
    """Sparse chi-square tables use seeded Monte Carlo p-values: same seed, same report."""
    rng = _rng(12)
    ref = pd.DataFrame({"c": rng.choice(200, 3_000).astype(str)})
    live = pd.DataFrame({"c": rng.choice(200, 60).astype(str)})
    summary = detect.summarize(ref, {"c": CAT})
    a, b = (
        detect.detect(summary, live, DEFAULT, seed=4),
        detect.detect(summary, live, DEFAULT, seed=4),
    )
    assert a == b


def test_unknown_test_names_are_config_errors() -> None:
    """A test or effect missing from the stats table is a ConfigError naming the key."""
    ref = pd.DataFrame({"x": np.arange(100.0)})
    summary = detect.summarize(ref, {"x": NUM})
    with pytest.raises(ConfigError, match=r"drift\.numeric_test: unknown test 'kolmogorov'"):
        detect.detect(summary, ref, DriftConfig(numeric_test="kolmogorov"))
    with pytest.raises(ConfigError, match=r"drift\.categorical_effect: ks"):
        detect.detect(summary, ref, DriftConfig(categorical_effect="ks"))


def test_missing_live_column_is_a_data_error() -> None:
    """The live window must hold every summarised column; the message names the missing one."""
    summary = detect.summarize(
        pd.DataFrame({"x": [1.0] * 40, "y": [2.0] * 40}), {"x": NUM, "y": NUM}
    )
    with pytest.raises(DataError, match="'y'"):
        detect.detect(summary, pd.DataFrame({"x": [1.0] * 40}), DEFAULT)


def test_non_numeric_values_in_a_numeric_column_are_a_data_error() -> None:
    """Strings in a column declared numeric are a DataError that suggests data.categorical."""
    with pytest.raises(DataError, match=r"data\.categorical"):
        detect.summarize(pd.DataFrame({"x": ["a", "b"]}), {"x": NUM})


def test_compare_frames_is_summarize_then_detect() -> None:
    """The convenience function gives the same report as the two-step API with rows whose
    order is not known to be time (ad-hoc files)."""
    ref, live = _mixed(1, 3)
    kinds = dict.fromkeys(ref.columns, NUM)
    assert detect.compare_frames(ref, live, kinds, DEFAULT) == detect.detect(
        detect.summarize(ref, kinds, ordered=False), live, DEFAULT, ordered=False
    )


@pytest.mark.parametrize("levels", [2, 8, 9, 300])
@pytest.mark.parametrize("missing", [False, True])
def test_category_counts_of_a_categorical_match_value_counts(levels: int, missing: bool) -> None:
    """Counted from the codes (by comparison up to 8 levels, by bincount above), with unused
    categories dropped and missing values counted, exactly as pandas' value_counts."""
    rng = np.random.default_rng(levels)
    names = np.array([f"level {i}" for i in range(levels + 2)], dtype=object)
    values = pd.Series(names[rng.integers(0, levels, 20_000)]).astype(
        pd.CategoricalDtype(list(names))  # two categories never used
    )
    if missing:
        values[rng.random(values.size) < 0.1] = np.nan
    categories, counts, n_missing = category_counts(values)
    expected = values.value_counts(dropna=True, sort=False)
    expected = expected[expected > 0]
    assert list(categories) == list(expected.index)
    assert counts.tolist() == expected.tolist()
    assert n_missing == int(values.isna().sum())
