"""The multivariate check: calibrated without drift, catches what per-feature tests cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from driftd import detect, extras
from driftd.config import DriftConfig
from driftd.domain import FeatureState, Verdict
from driftd.errors import EvaluationError
from driftd.evaluate.separability import mann_whitney_auc, separability


def _frame(rng: np.random.Generator, n: int, rho: float = 0.0) -> pd.DataFrame:
    xy = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
    return pd.DataFrame(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            "z": rng.normal(size=n),
            "plan": rng.choice(["basic", "pro", "team"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )


def test_mann_whitney_matches_scipy_and_sklearn_with_ties() -> None:
    """AUC equals roc_auc_score; the p-value equals scipy's one-sided asymptotic Mann-Whitney."""
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, size=400).astype(float)  # many ties
    live = rng.random(400) < 0.4
    scores[live] += rng.random(int(live.sum())) < 0.3
    auc, p = mann_whitney_auc(scores, live)
    assert auc == pytest.approx(roc_auc_score(live, scores), abs=1e-12)
    expected = sps.mannwhitneyu(
        scores[live], scores[~live], alternative="greater", method="asymptotic"
    ).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert mann_whitney_auc(np.ones(10), np.arange(10) < 5) == (0.5, 1.0)


def _false_alarms(seeds: int) -> None:
    cfg = DriftConfig()
    alarms = rejections = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        row = extras.multivariate(_frame(rng, 120), _frame(rng, 120), ["plan"], cfg, seed=seed)
        alarms += row.state is FeatureState.DRIFT
        rejections += row.p_value is not None and row.p_value <= cfg.alpha
    assert alarms / seeds <= cfg.alpha + 0.05
    assert rejections / seeds <= cfg.alpha + 0.05


def test_no_false_alarms_on_samples_from_one_distribution() -> None:
    """20 seeded no-drift pairs: the alarm rate (p <= alpha and AUC >= 0.55), and the rate of
    p <= alpha alone, are at most alpha + 0.05."""
    _false_alarms(20)


@pytest.mark.slow
def test_no_false_alarms_over_50_seeds() -> None:
    """The same with 50 seeds (about 15 s on a busy 2-core machine)."""
    _false_alarms(50)


def test_catches_a_correlation_change_that_per_feature_tests_miss() -> None:
    """x and y become correlated (rho 0 -> 0.8), marginals unchanged: detect sees nothing,
    the classifier separates, and names x and y before the untouched z."""
    rng = np.random.default_rng(11)
    reference, live = _frame(rng, 1500), _frame(rng, 1500, rho=0.8)
    kinds = detect.infer_kinds(reference, ["plan"])
    report = detect.compare_frames(reference, live, kinds, DriftConfig())
    assert report.verdict is Verdict.OK and report.drifted == ()
    row = extras.multivariate(reference, live, ["plan"], DriftConfig(), seed=0)
    assert row.state is FeatureState.DRIFT, row.detail
    assert row.effect is not None and row.effect >= 0.6
    assert row.feature == "multivariate:classifier"
    result = separability(reference, live, ["plan"], seed=0, explain_above=0.55)
    top = [name for name, _ in result.importances[:2]]
    assert sorted(top) == ["x", "y"]
    assert "separated most by" in row.detail


def test_a_new_category_and_many_categories_are_encoded() -> None:
    """Categories new to the reference separate; more than 255 levels are pooled, not refused."""
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"c": rng.choice(["a", "b"], 600), "v": rng.normal(size=600)})
    live = pd.DataFrame({"c": rng.choice(["a", "b"], 600), "v": rng.normal(size=600)})
    live.loc[:199, "c"] = "new"  # a third of live rows: the best possible AUC is 2/3
    result = separability(reference, live, ["c"], seed=1)
    assert result.auc > 0.62 and result.p_value < 1e-3
    many = pd.DataFrame({"id": [f"k{i}" for i in rng.integers(0, 600, 900)], "v": np.inf})
    assert separability(many.iloc[:450], many.iloc[450:], ["id"], seed=1).p_value > 0.05


def test_sampling_cap_seed_and_too_few_rows() -> None:
    """max_rows caps each side; a seed reproduces the result; fewer than 2 rows is an error."""
    rng = np.random.default_rng(9)
    reference, live = _frame(rng, 900), _frame(rng, 300)
    first = separability(reference, live, ["plan"], max_rows=200, seed=4)
    assert (first.n_ref, first.n_live) == (200, 200)
    assert separability(reference, live, ["plan"], max_rows=200, seed=4) == first
    with pytest.raises(EvaluationError, match="at least 2 rows"):
        separability(reference, live.head(1), ["plan"])
    few = extras.multivariate(reference, live.head(10), ["plan"], DriftConfig())
    assert few.state is FeatureState.INSUFFICIENT
    assert few.detail == "10 live rows < min_samples 30"
