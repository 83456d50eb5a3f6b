"""Champion versus candidate on identical holdout rows (driftd.evaluate)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer

from driftd import evaluate
from driftd.config import PromotionConfig
from driftd.errors import EvaluationError
from driftd.evaluate.bootstrap import differences_by_call, differences_by_chunk
from driftd.evaluate.fast import fast_metric
from driftd.evaluate.scoring import CachedModel, resample_value
from driftd.evaluate.scoring import get_scorer as metric_named
from driftd.stats.paired import delong, mcnemar


def _data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (x["a"] + 0.7 * x["b"] + rng.normal(size=n) > 0).astype(int).to_numpy()
    return x, y


def _models(x: pd.DataFrame, y: np.ndarray) -> tuple[Any, Any]:
    """A weaker champion (ignores ``b``) and a better candidate (uses both features)."""
    champion = LogisticRegression().fit(x.assign(b=0.0), y)
    candidate = LogisticRegression().fit(x, y)
    return champion, candidate


class Lookup(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier whose predictions are a column of X: fixed, known outputs for simulations."""

    def __init__(self, column: str = "pred") -> None:
        self.column = column

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> Lookup:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return x[self.column].to_numpy()


class Slow(LogisticRegression):  # type: ignore[misc]
    """LogisticRegression whose predict takes an extra 20 ms: a latency guardrail should fail."""

    def predict(self, x: Any) -> Any:
        time.sleep(0.02)
        return super().predict(x)


def test_check_scorer_accepts_sklearn_names_and_suggests_close_ones() -> None:
    """A known scorer is fine; a typo names the closest scorer; nonsense gets no suggestion."""
    assert evaluate.check_scorer("neg_log_loss") is None
    assert evaluate.check_scorer("roc_acu") == (
        "unknown scikit-learn scorer 'roc_acu' (did you mean roc_auc?)"
    )
    assert evaluate.check_scorer("zzz") == "unknown scikit-learn scorer 'zzz'"


@pytest.mark.parametrize(
    "name",
    ["roc_auc", "accuracy", "neg_log_loss", "neg_brier_score", "f1", "balanced_accuracy"],
)
def test_metric_values_equal_calling_the_scorer_on_the_full_holdout(name: str) -> None:
    """Champion and candidate values in the table are exactly sklearn's scorer on each model."""
    x, y = _data()
    champion, candidate = _models(x, y)
    ev = evaluate.compare(champion, candidate, x, y, PromotionConfig(scorer=name, bootstrap=200))
    row = ev.primary
    assert row is not None
    assert row.champion == pytest.approx(get_scorer(name)(champion, x, y), abs=1e-12)
    assert row.candidate == pytest.approx(get_scorer(name)(candidate, x, y), abs=1e-12)
    assert row.difference == pytest.approx(row.candidate - row.champion)
    assert ev.candidate_metrics[name] == row.candidate
    assert ev.champion_metrics[name] == row.champion


@pytest.mark.parametrize(
    ("name", "regression"),
    [
        ("accuracy", False),
        ("roc_auc", False),
        ("neg_log_loss", False),
        ("neg_brier_score", False),
        ("f1", False),
        ("precision", False),
        ("recall", False),
        ("neg_mean_squared_error", True),
        ("neg_mean_absolute_error", True),
    ],
)
def test_vectorised_bootstrap_equals_calling_the_scorer_per_resample(
    name: str, regression: bool
) -> None:
    """The fast path gives the same resampled differences as the scorer on each resample."""
    x, y = _data(n=150, seed=3)
    if regression:
        y_reg = x["a"].to_numpy() * 2 + np.random.default_rng(1).normal(size=len(x))
        a, b = Ridge(alpha=50.0).fit(x, y_reg), Ridge().fit(x, y_reg)
        labels = y_reg
    else:
        a, b = _models(x, y)
        labels = y
    champ, cand = CachedModel(a, x, "champion"), CachedModel(b, x, "candidate")
    fast_a, fast_c = fast_metric(name, champ, labels), fast_metric(name, cand, labels)
    assert fast_a is not None and fast_c is not None
    scorer = metric_named(name)

    def both(rows: np.ndarray) -> tuple[float, float]:
        return resample_value(scorer, champ, rows, labels), resample_value(
            scorer, cand, rows, labels
        )

    fast = differences_by_chunk(fast_a, fast_c, len(labels), 100, seed=7)
    slow = differences_by_call(both, len(labels), 100, seed=7)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_identical_models_differ_by_exactly_zero() -> None:
    """Champion == candidate: difference, interval and p-value show no difference at all."""
    x, y = _data()
    model = LogisticRegression().fit(x, y)
    cfg = PromotionConfig(scorer="roc_auc", bootstrap=200, guardrails={"neg_log_loss": 0.0})
    ev = evaluate.compare(model, model, x, y, cfg)
    primary, guard = ev.comparisons
    assert (primary.difference, primary.ci_low, primary.ci_high) == (0.0, 0.0, 0.0)
    assert primary.p_value == 1.0
    assert not primary.passed  # superiority needs ci_low > min_improvement (0)
    assert guard.passed  # non-inferiority: ci_low >= -margin (0)


def test_a_better_candidate_passes_and_a_worse_one_fails() -> None:
    """Superiority on the interval's lower bound: better passes, the swap fails."""
    x, y = _data(n=600)
    champion, candidate = _models(x, y)
    cfg = PromotionConfig(scorer="roc_auc", bootstrap=300)
    better = evaluate.compare(champion, candidate, x, y, cfg).primary
    worse = evaluate.compare(candidate, champion, x, y, cfg).primary
    assert better is not None and worse is not None
    assert better.passed and better.ci_low > 0 and better.method == "paired_bootstrap+delong"
    assert not worse.passed and worse.ci_high < 0
    assert better.ci_low == pytest.approx(-worse.ci_high)  # same resamples, mirrored
    raised = PromotionConfig(scorer="roc_auc", bootstrap=300, min_improvement=better.ci_low + 1e-6)
    strict = evaluate.compare(champion, candidate, x, y, raised).primary
    assert strict is not None and not strict.passed  # min_improvement is a strict bound


def test_p_values_come_from_mcnemar_and_delong() -> None:
    """accuracy reports McNemar on the discordant rows; roc_auc reports DeLong on the scores."""
    x, y = _data()
    champion, candidate = _models(x, y)
    acc = evaluate.compare(champion, candidate, x, y, PromotionConfig(scorer="accuracy"))
    hit_a, hit_c = champion.predict(x) == y, candidate.predict(x) == y
    assert acc.primary is not None
    assert acc.primary.p_value == mcnemar(int(np.sum(hit_a & ~hit_c)), int(np.sum(~hit_a & hit_c)))
    auc = evaluate.compare(champion, candidate, x, y, PromotionConfig(scorer="roc_auc"))
    expected = delong(y, champion.decision_function(x), candidate.decision_function(x)).p_value
    assert auc.primary is not None and auc.primary.p_value == pytest.approx(expected)
    other = evaluate.compare(champion, candidate, x, y, PromotionConfig(scorer="neg_log_loss"))
    assert other.primary is not None and other.primary.method == "paired_bootstrap"
    assert 0 < (other.primary.p_value or 0) <= 1


def test_the_interval_is_seeded() -> None:
    """The same seed reproduces the interval exactly; another seed moves it."""
    x, y = _data()
    champion, candidate = _models(x, y)
    cfg = PromotionConfig(scorer="neg_log_loss", bootstrap=200)
    first = evaluate.compare(champion, candidate, x, y, cfg, seed=1).primary
    again = evaluate.compare(champion, candidate, x, y, cfg, seed=1).primary
    other = evaluate.compare(champion, candidate, x, y, cfg, seed=2).primary
    assert first == again
    assert first is not None and other is not None and first.ci_low != other.ci_low


def test_guardrails_are_non_inferiority_within_their_margin() -> None:
    """A guardrail passes when ci_low >= -margin: a wide margin passes, a zero margin fails."""
    x, y = _data(n=600)
    champion, candidate = _models(x, y)
    loose = PromotionConfig(scorer="roc_auc", guardrails={"accuracy": 0.5})
    strict = PromotionConfig(scorer="roc_auc", guardrails={"accuracy": 0.0})
    # the candidate is worse here (models swapped), so only the loose margin tolerates it
    loose_row = evaluate.compare(candidate, champion, x, y, loose).comparisons[1]
    strict_row = evaluate.compare(candidate, champion, x, y, strict).comparisons[1]
    assert loose_row.role == strict_row.role == "guardrail"
    assert loose_row.passed and not strict_row.passed
    assert strict_row.ci_low < 0 and loose_row.margin == 0.5


def test_size_and_latency_guardrails_compare_points_by_a_relative_margin() -> None:
    """model_size_bytes and latency_ms_per_1k: candidate <= champion * (1 + margin)."""
    x, y = _data(n=200)
    champion = LogisticRegression().fit(x, y)
    slow = Slow().fit(x, y)
    cfg = PromotionConfig(
        scorer="accuracy",
        bootstrap=100,
        guardrails={"model_size_bytes": 0.1, "latency_ms_per_1k": 0.5},
    )
    ev = evaluate.compare(champion, slow, x, y, cfg, champion_size=1000, candidate_size=1150)
    size, latency = ev.comparisons[1], ev.comparisons[2]
    assert (size.champion, size.candidate, size.difference, size.passed) == (
        1000,
        1150,
        -150,
        False,
    )
    assert size.method == latency.method == "point_relative"
    assert size.ci_low == size.ci_high == size.difference and size.p_value is None
    assert latency.candidate > 1.5 * latency.champion and not latency.passed
    assert latency.candidate >= 20 * 1000 / 200  # 20 ms per call on 200 rows
    cfg2 = PromotionConfig(scorer="accuracy", bootstrap=100, guardrails={"model_size_bytes": 0.2})
    ev2 = evaluate.compare(champion, slow, x, y, cfg2, champion_size=1000, candidate_size=1150)
    assert ev2.comparisons[1].passed
    # without both sizes, each model's pickled size is compared
    ev3 = evaluate.compare(champion, champion, x, y, cfg2)
    assert ev3.comparisons[1].passed and ev3.comparisons[1].champion > 0


def test_a_small_holdout_is_still_evaluated() -> None:
    """Below min_holdout, compare still computes: declaring it inconclusive is policy's job."""
    x, y = _data(n=60)
    champion, candidate = _models(x, y)
    ev = evaluate.compare(champion, candidate, x, y, PromotionConfig(min_holdout=200))
    assert ev.n_holdout == 60 and ev.primary is not None


def test_one_class_holdout_for_roc_auc_is_one_line() -> None:
    """roc_auc cannot be computed on one class: EvaluationError saying so in one line."""
    x, y = _data()
    champion, candidate = _models(x, y)
    with pytest.raises(EvaluationError) as info:
        evaluate.compare(champion, candidate, x[:30], np.ones(30, dtype=int), PromotionConfig())
    assert (
        str(info.value)
        == "roc_auc: undefined when the holdout has one class only (1 in all 30 rows)"
    )


def test_rare_class_resamples_that_cannot_be_scored_are_an_error() -> None:
    """With 1 positive in 40 rows most resamples lack it: an error, not a biased interval."""
    x, y = _data(n=40)
    champion, candidate = _models(x, y)
    y = np.zeros(40, dtype=int)
    y[0] = 1
    with pytest.raises(EvaluationError, match="bootstrap resamples could be scored"):
        evaluate.compare(champion, candidate, x, y, PromotionConfig(bootstrap=200))


def test_unusable_holdouts_are_evaluation_errors() -> None:
    """Mismatched lengths, missing labels, no rows, or a model that cannot predict."""
    x, y = _data(n=50)
    champion, candidate = _models(x, y)
    cfg = PromotionConfig(bootstrap=100)
    with pytest.raises(EvaluationError, match="50 feature rows but 49 labels"):
        evaluate.compare(champion, candidate, x, y[:49], cfg)
    with pytest.raises(EvaluationError, match="1 missing value"):
        evaluate.compare(champion, candidate, x, np.r_[y[:49], np.nan], cfg)
    with pytest.raises(EvaluationError, match="no rows"):
        evaluate.compare(champion, candidate, x[:0], y[:0], cfg)
    with pytest.raises(EvaluationError, match=r"^the champion failed in decision_function"):
        evaluate.compare(champion, candidate, x[["a"]], y, cfg)


def test_multiclass_and_regression_scorers_work_through_the_generic_path() -> None:
    """Any scorer name works: roc_auc_ovr on string labels, r2 for regressors."""
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150)})
    labels = np.array(["low", "mid", "high"])[np.digitize(x["a"], [-0.5, 0.5])]
    a, b = (
        LogisticRegression().fit(x[["b"]].assign(a=0.0)[["a", "b"]], labels),
        LogisticRegression().fit(x, labels),
    )
    ev = evaluate.compare(a, b, x, labels, PromotionConfig(scorer="roc_auc_ovr", bootstrap=100))
    assert ev.primary is not None and ev.primary.candidate == pytest.approx(
        get_scorer("roc_auc_ovr")(b, x, labels)
    )
    y_reg = x["a"].to_numpy() + rng.normal(scale=0.3, size=150)
    r1, r2 = Ridge(alpha=100.0).fit(x, y_reg), Ridge().fit(x, y_reg)
    ev = evaluate.compare(r1, r2, x, y_reg, PromotionConfig(scorer="r2", bootstrap=100))
    assert ev.primary is not None and ev.primary.passed


def test_score_gives_plain_metrics_for_a_single_model() -> None:
    """score(): the scorer's own values, plus latency and pickled size when asked."""
    x, y = _data()
    model = LogisticRegression().fit(x, y)
    out = evaluate.score(
        model, x, y, ["roc_auc", "accuracy", "latency_ms_per_1k", "model_size_bytes"]
    )
    assert out["roc_auc"] == get_scorer("roc_auc")(model, x, y)
    assert out["accuracy"] == get_scorer("accuracy")(model, x, y)
    assert out["latency_ms_per_1k"] > 0 and out["model_size_bytes"] > 0
    with pytest.raises(EvaluationError, match="one class only"):
        evaluate.score(model, x[:10], np.zeros(10), ["roc_auc"])
    with pytest.raises(EvaluationError, match="did you mean roc_auc"):
        evaluate.score(model, x, y, ["roc-auc"])


def test_paired_bootstrap_interval_covers_the_true_difference() -> None:
    """Coverage of the 90 % interval over 200 simulated holdouts is close to 90 %.

    Two classifiers with known accuracies 0.70 and 0.75, correlated errors, 300 rows: the true
    difference is 0.05, and the interval from compare() should contain it about 9 times in 10.
    """
    rng = np.random.default_rng(2024)
    n, sims, covered = 300, 200, 0
    cfg = PromotionConfig(scorer="accuracy", confidence=0.9, bootstrap=500)
    for sim in range(sims):
        y = rng.integers(0, 2, n)
        shared = rng.random(n)
        hit_a = shared < 0.70  # the candidate is right wherever the champion is, and more
        hit_c = shared < 0.75
        x = pd.DataFrame({"a": np.where(hit_a, y, 1 - y), "c": np.where(hit_c, y, 1 - y)})
        champion, candidate = Lookup("a").fit(x, y), Lookup("c").fit(x, y)
        row = evaluate.compare(champion, candidate, x, y, cfg, seed=sim).primary
        assert row is not None
        covered += row.ci_low <= 0.05 <= row.ci_high
    assert 0.84 <= covered / sims <= 0.95
