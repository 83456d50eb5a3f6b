"""Prediction drift, the performance row and the extra-check runner, on real fitted models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from driftd import detect, extras
from driftd.config import DriftConfig, ModelConfig, parse
from driftd.domain import FeatureState
from driftd.errors import ArtifactError, ConfigError, EvaluationError
from driftd.evaluate.outputs import model_outputs


def _data(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.normal(size=n)})


def _fitted(classes: int = 2) -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = _data(rng, 600)
    y = np.digitize(x["a"] + 0.3 * rng.normal(size=600), [-0.5, 0.5][: classes - 1])
    return LogisticRegression().fit(x, y), x


class _Summaries:
    """A SummaryCache stand-in that counts how often it had to build."""

    def __init__(self) -> None:
        self.items: dict[str, detect.ReferenceSummary] = {}
        self.builds = 0

    def __call__(
        self, key: str, build: Callable[[], detect.ReferenceSummary]
    ) -> detect.ReferenceSummary:
        if key not in self.items:
            self.builds += 1
            self.items[key] = build()
        return self.items[key]


def test_output_columns_per_kind_of_model() -> None:
    """Binary keeps the positive class; multiclass one column per class; else decision/predict."""
    binary, x = _fitted(2)
    assert list(model_outputs(binary, x).columns) == ["p(class=1)"]
    multi, x = _fitted(3)
    out = model_outputs(multi, x)
    assert list(out.columns) == ["p(class=0)", "p(class=1)", "p(class=2)"]
    assert np.allclose(out.sum(axis=1), 1.0)
    y = (x["a"] > 0).astype(int)
    assert list(model_outputs(LinearSVC().fit(x, y), x).columns) == ["decision"]
    assert list(model_outputs(LinearRegression().fit(x, x["b"]), x).columns) == ["prediction"]


def test_a_failing_or_unusable_model_is_an_evaluation_error() -> None:
    """A model that raises, or has no output method, gives one EvaluationError line."""
    model, x = _fitted()
    with pytest.raises(EvaluationError, match="failed in predict_proba"):
        model_outputs(model, x[["a"]])
    with pytest.raises(EvaluationError, match="no predict_proba"):
        model_outputs(object(), x)


def test_prediction_drift_flags_shifted_outputs_and_caches_the_reference() -> None:
    """Shifted inputs move p(class=1): drift; same distribution: ok; reference built once."""
    model, reference = _fitted()
    rng = np.random.default_rng(1)
    cache = _Summaries()
    shifted = extras.prediction_drift(
        model,
        lambda: reference,
        _data(rng, 800, shift=0.6),
        DriftConfig(),
        key="k",
        summaries=cache,
    )
    quiet = extras.prediction_drift(
        model, lambda: reference, _data(rng, 800), DriftConfig(), key="k", summaries=cache
    )
    assert cache.builds == 1
    [row] = shifted
    assert row.feature == "prediction:p(class=1)" and row.state is FeatureState.DRIFT
    assert row.test == "ks" and row.effect_name == "wasserstein" and row.threshold == 0.05
    assert quiet[0].state is FeatureState.OK, quiet[0].detail


def test_prediction_drift_is_bonferroni_corrected_across_classes() -> None:
    """Three output columns: each p_adjusted is its p-value times 3 (capped at 1)."""
    model, reference = _fitted(3)
    rows = extras.prediction_drift(
        model,
        lambda: reference,
        _data(np.random.default_rng(2), 500),
        DriftConfig(),
        key="m",
        summaries=_Summaries(),
    )
    assert len(rows) == 3
    for row in rows:
        assert row.p_value is not None and row.p_adjusted is not None
        assert row.p_adjusted == pytest.approx(min(1.0, 3 * row.p_value))


def test_prediction_drift_on_a_broken_champion_is_one_invalid_row() -> None:
    """A champion that cannot predict yields `prediction:outputs` invalid, not an exception."""
    model, reference = _fitted()
    [row] = extras.prediction_drift(
        model, lambda: reference[["a"]], reference, DriftConfig(), key="x", summaries=_Summaries()
    )
    assert row.feature == "prediction:outputs" and row.state is FeatureState.INVALID
    assert "failed in predict_proba" in row.detail


def test_performance_row_measures_only_when_it_can_compare() -> None:
    """Enough labels and a baseline: the metric is measured; otherwise why it was not."""
    model, x = _fitted()
    labelled = x.assign(y=model.predict(x))  # the model's own labels: perfect accuracy
    kwargs = {"scorer": "accuracy", "min_rows": 100, "max_drop": 0.05}
    perf, row = extras.performance(model, labelled, ["a", "b"], "y", baseline=0.9, **kwargs)
    assert perf.current == 1.0 and row.state is FeatureState.OK
    assert row.feature == "performance:accuracy" and row.n_live == 600
    perf, row = extras.performance(
        model, labelled.head(20), ["a", "b"], "y", baseline=0.9, **kwargs
    )
    assert row.state is FeatureState.INSUFFICIENT and row.detail.startswith("insufficient labels")
    flipped = labelled.assign(y=1 - labelled["y"])
    perf, row = extras.performance(model, flipped, ["a", "b"], "y", baseline=0.9, **kwargs)
    assert perf.breached and row.effect == pytest.approx(0.9)


def _model(**drift: object) -> ModelConfig:
    raw = {
        "registry": "r.db",
        "models": [
            {
                "name": "m",
                "every": "1h",
                "data": {
                    "reference": "r.csv",
                    "live": "l.csv",
                    "timestamp": "ts",
                    "target": "y",
                    "window": "1d",
                },
                "drift": drift,
                "policy": {"performance_drop": 0.05},
            }
        ],
    }
    return parse(raw).models[0]


def test_run_survives_an_unloadable_champion_and_skips_what_is_off() -> None:
    """A champion failing its sha256 check: one invalid row, no performance; disabled checks
    produce no rows; without a champion only the multivariate check runs."""
    model, x = _fitted()

    def refuse() -> object:
        raise ArtifactError("model.skops: sha256 mismatch")

    def inputs(champion: Callable[[], object] | None) -> extras.Inputs:
        return extras.Inputs(
            reference=x,
            live=x,
            champion=champion,
            champion_key="v1:abc",
            prediction_reference=lambda: x,
            labelled=lambda: x.assign(y=model.predict(x)),
            baseline=None,
        )

    outcome = extras.run(_model(), inputs(refuse), _Summaries())
    assert [r.feature for r in outcome.rows] == ["prediction:outputs"]
    assert "sha256 mismatch" in outcome.rows[0].detail and outcome.performance is None
    off = extras.run(_model(prediction_drift=False), inputs(lambda: model), _Summaries())
    assert [r.feature for r in off.rows] == ["performance:roc_auc"]
    assert off.performance is not None and off.performance.state is FeatureState.INVALID
    alone = extras.run(_model(multivariate=True), inputs(None), _Summaries())
    assert [r.feature for r in alone.rows] == ["multivariate:classifier"]
    assert extras.breached(alone.rows, extras.MULTIVARIATE) is False


@pytest.mark.parametrize(
    ("section", "key", "value", "problem"),
    [
        ("drift", "multivariate_auc", 0.5, "must be in (0.5, 1) (got 0.5)"),
        ("drift", "multivariate_auc", 1, "must be in (0.5, 1) (got 1)"),
        ("drift", "multivariate_max_rows", 10, "must be >= 100 (got 10)"),
        ("policy", "performance_drop", 0, "must be in (0, 1] (got 0)"),
        ("policy", "performance_drop", 1.5, "must be in (0, 1] (got 1.5)"),
        ("data", "label_delay", "soon", "(got 'soon')"),
    ],
)
def test_new_keys_are_validated(section: str, key: str, value: object, problem: str) -> None:
    """Each new key names its path and the value it refused."""
    data = {"reference": "r.csv", "live": "l.csv", "timestamp": "ts", "target": "y"}
    model: dict[str, object] = {"name": "m", "every": "1h", "data": {**data, "window": "1d"}}
    table = model.setdefault(section, {})
    assert isinstance(table, dict)
    table[key] = value
    raw = {"registry": "r.db", "models": [model]}
    with pytest.raises(ConfigError) as info:
        parse(raw)
    assert any(
        p.startswith(f"models[0].{section}.{key}: ") and problem in p for p in info.value.problems
    )


def test_new_keys_defaults_and_values() -> None:
    """Defaults: prediction drift on, multivariate off at AUC 0.55 / 20k rows, no performance
    trigger, no label delay; written values are read."""
    model = _model()
    assert model.drift.prediction_drift and not model.drift.multivariate
    assert (model.drift.multivariate_auc, model.drift.multivariate_max_rows) == (0.55, 20_000)
    assert model.policy.performance_drop == 0.05  # _model sets it
    assert model.data.label_delay == timedelta(0)
    other = _model(multivariate=True, multivariate_auc=0.6, multivariate_max_rows=500)
    assert (other.drift.multivariate_auc, other.drift.multivariate_max_rows) == (0.6, 500)
