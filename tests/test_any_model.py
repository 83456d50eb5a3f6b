"""Any model with ``predict``: scoring, comparison, importance, prediction drift, estimates and
reproduce, for a plain Python class, a scikit-learn Pipeline and LightGBM's LGBMClassifier.

The unit tests pin driftd's metric (the scorer's metric function on predictions) to
scikit-learn's own scorer for every scorer name; the cycle tests run ``driftd check`` and
``driftd reproduce`` on real CSV files with each model trained in driftd's training child.
"""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import NOW, check, run
from helpers_models import PlainLogit, fit_plain
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, get_scorer, get_scorer_names, roc_auc_score

from driftd import evaluate, synth
from driftd.config import PromotionConfig
from driftd.errors import EvaluationError
from driftd.estimate import fit_estimator
from driftd.evaluate.importance import permutation_importance
from driftd.evaluate.outputs import model_outputs
from driftd.evaluate.scoring import CachedModel, full_score
from driftd.evaluate.scoring import get_scorer as metric_named

REPO = Path(__file__).resolve().parents[1]


def _binary(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(2 * x["a"] - x["b"])))).astype(int)
    return x, y.to_numpy()


def _ours(name: str, model: object, x: pd.DataFrame, y: np.ndarray) -> float:
    return full_score(name, metric_named(name), CachedModel(model, x, "model"), y)


def _sklearn(name: str, model: object, x: pd.DataFrame, y: np.ndarray) -> float | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(get_scorer(name)(model, x, y))
        except (ValueError, TypeError, AttributeError):
            return None


def test_every_scorer_name_gives_the_scorers_own_value() -> None:
    """For every scikit-learn scorer name and three fitted estimators (binary 0/1, multiclass
    string labels, regression), driftd's value equals ``get_scorer(name)(model, x, y)``
    wherever the scorer gives a finite value; where the scorer raises, driftd raises too or
    gives NaN-refused EvaluationError. This pins the private scorer attributes driftd reads."""
    x, y = _binary()
    labels = np.array(["hi", "lo", "mid"])[np.digitize(x["a"], [-0.5, 0.5])]
    y_reg = np.exp(x["a"].to_numpy() * 0.3) + 0.1  # positive: the deviance scorers apply
    cases = [
        (LogisticRegression().fit(x, y), y),
        (LogisticRegression().fit(x, labels), labels),
        (Ridge().fit(x, y_reg), y_reg),
    ]
    compared = 0
    for name in get_scorer_names():
        for model, target in cases:
            expected = _sklearn(name, model, x, target)
            if expected is None or not np.isfinite(expected):
                with pytest.raises((EvaluationError, ValueError, TypeError)):
                    value = _ours(name, model, x, target)
                    if not np.isfinite(value):
                        raise EvaluationError("not finite")
                continue
            assert _ours(name, model, x, target) == pytest.approx(expected, rel=1e-12, abs=1e-12), (
                name,
                type(model).__name__,
            )
            compared += 1
    assert compared > 80  # most names apply to at least one of the three models


def test_a_plain_class_is_scored_compared_and_explained() -> None:
    """PlainLogit (no scikit-learn base class, no tags) goes through score, compare,
    permutation importance, prediction outputs and CBPE; the values equal sklearn.metrics
    functions applied to its own predictions."""
    x, y = _binary(600)
    frame = x.rename(columns={"a": "age", "b": "income"}).assign(label=y)
    plain = fit_plain(frame, ["age", "income"], "label")
    xx = frame[["age", "income"]]
    out = evaluate.score(plain, xx, y, ["roc_auc", "accuracy", "neg_log_loss"])
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, plain.predict_proba(xx)[:, 1]))
    assert out["accuracy"] == pytest.approx(accuracy_score(y, plain.predict(xx)))
    weak = PlainLogit(plain.columns, plain.coef * np.array([1, 0.2, 1]), plain.mean, plain.sd)
    ev = evaluate.compare(weak, plain, xx, y, PromotionConfig(scorer="roc_auc", bootstrap=200))
    assert ev.primary is not None and ev.primary.candidate > ev.primary.champion
    assert ev.primary.method == "paired_bootstrap+delong"
    imp = permutation_importance(plain, xx, y, "roc_auc", seed=0)
    assert imp["age"] > imp["income"] > 0
    assert list(model_outputs(plain, xx.head(5)).columns) == ["p(class=1)"]
    estimates = fit_estimator(plain, xx, y).estimate(xx)
    assert estimates[0].metric == "accuracy"


def test_a_model_with_predict_only_has_a_one_line_refusal_for_probability_scorers() -> None:
    """A model with only ``predict`` scores accuracy; roc_auc, which needs probabilities or
    decision values, is refused naming both methods."""

    class Sign:
        def predict(self, x: pd.DataFrame) -> np.ndarray:
            return (x["a"].to_numpy() > 0).astype(int)

    x, y = _binary()
    assert evaluate.score(Sign(), x, y, ["accuracy"])["accuracy"] == pytest.approx(
        accuracy_score(y, Sign().predict(x))
    )
    with pytest.raises(EvaluationError, match="roc_auc needs a model with decision_function or"):
        evaluate.score(Sign(), x, y, ["roc_auc"])


# --- through real `driftd check` cycles ------------------------------------------------------

MODEL_TOML = """
[[models]]
name = "{name}"
every = "1d"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
{features}

[models.drift]
hysteresis_k = 1
hysteresis_n = 1

[models.training]
entrypoint = "tests.helpers_models:{entry}"
allow_pickle = true

[models.promotion]
scorer = "roc_auc"
min_holdout = 200
bootstrap = 200
"""

NUMERIC_ONLY = "features = " + json.dumps(
    ["age", "income", "usage_hours", "sessions", "support_calls", "tenure_months"]
)
MODELS = {
    "plain": ("fit_plain", ""),
    "pipeline": ("fit_pipeline", ""),
    "lightgbm": ("fit_lightgbm", NUMERIC_ONLY),
}


def _config(root: Path, names: list[str]) -> Path:
    synth.write_demo_data(root / "data", NOW, rows_per_day=400, reference_rows=2000)
    body = 'registry = "state/registry.db"\nartifacts = "state/artifacts"\nlog_level = "warning"\n'
    for name in names:
        entry, features = MODELS[name]
        body += MODEL_TOML.format(name=name, entry=entry, features=features)
    config = root / "config.toml"
    config.write_text(body, encoding="utf-8")
    return config


@pytest.fixture
def repo_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The training child imports ``tests.helpers_models``: the checkout must be importable."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))


@pytest.mark.slow
@pytest.mark.usefixtures("repo_on_path")
def test_three_kinds_of_model_through_check_and_reproduce(tmp_path: Path) -> None:
    """A quiet day bootstraps each model's champion; a drifted day retrains it and compares the
    candidate with the champion (paired bootstrap on roc_auc), with prediction drift and the
    CBPE estimate in the check's extra rows; ``driftd reproduce`` refits the plain class's first
    champion and matches its metrics (exit 0). Before the fix the plain class failed at
    scoring ("object has no attribute __sklearn_tags__")."""
    pytest.importorskip("lightgbm", reason="lightgbm (the test extra) is not installed")
    names = list(MODELS)
    config = _config(tmp_path, names)
    quiet = NOW - timedelta(days=6)
    first = check(config, quiet)
    for name in names:
        assert first[name]["status"] == "ok", first[name]
        assert first[name]["decision"] == "bootstrap", first[name]
    drifted = check(config, NOW - timedelta(days=1))
    for name in names:
        result = drifted[name]
        assert (result["status"], result["verdict"]) == ("drift", "drift"), result
        assert result["decision"] in ("promote", "reject", "inconclusive"), result
        primary = [c for c in result["evaluation"]["comparisons"] if c["role"] == "primary"]
        assert primary[0]["metric"] == "roc_auc" and 0.5 < primary[0]["champion"] <= 1.0
        extra = {r["feature"]: r for r in result["extra"]}
        assert any(f.startswith("prediction:") for f in extra), extra
        assert "estimated:accuracy" in extra, extra
    # reproduce refits from the lineage and scores the refit: once, for the plain class.
    proc = run(config, "reproduce", str(first["plain"]["version_id"]), "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
