"""driftd.reproduce's pure parts: how a recorded row becomes a training config, and when
metrics count as reproduced (the whole command runs in tests/test_lifecycle.py)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from driftd.config import Config, TrainingConfig
from driftd.errors import DriftdError
from driftd.reproduce import _training_config, compare_metrics, reproduce


def _row(estimator: str, params: dict[str, object] | None = None) -> dict[str, object]:
    return {"estimator": estimator, "params": params or {}, "seed": 7}


def test_the_recorded_way_params_and_seed_win_over_todays_config() -> None:
    """Estimator, params and seed come from the row; limits and trust from today's config."""
    base = TrainingConfig(
        params={"C": 9.0}, seed=1, timeout=timedelta(minutes=3), trusted_types=("x.Y",)
    )
    spec = {"way": "estimator", "estimator": "sklearn.tree.DecisionTreeClassifier"}
    cfg = _training_config(
        _row("sklearn.tree.DecisionTreeClassifier", {"max_depth": 3}), spec, base
    )
    assert (cfg.way, cfg.estimator, dict(cfg.params), cfg.seed) == (
        "estimator",
        "sklearn.tree.DecisionTreeClassifier",
        {"max_depth": 3},
        7,
    )
    assert (cfg.timeout, cfg.trusted_types) == (timedelta(minutes=3), ("x.Y",))


def test_rows_recorded_before_the_way_was_in_the_spec_are_parsed() -> None:
    """Older rows only describe the way in `estimator`: entrypoint:... or command:<argv>."""
    entry = _training_config(_row("entrypoint:pkg.mod:fit"), {}, TrainingConfig())
    assert (entry.way, entry.entrypoint) == ("entrypoint", "pkg.mod:fit")
    command = _training_config(
        _row("command:/opt/train --data {train} --out '{model}'"), {}, TrainingConfig()
    )
    assert command.command == ("/opt/train", "--data", "{train}", "--out", "{model}")
    spec = {"way": "command", "command": ["/bin/x", "{model}"]}
    assert _training_config(_row("command:ignored"), spec, TrainingConfig()).command == (
        "/bin/x",
        "{model}",
    )


def test_metrics_match_only_within_the_tolerance() -> None:
    """A difference above the tolerance, a metric with nothing recorded, or no metric at all
    is not a reproduction; equal NaNs are."""
    assert [r.ok for r in compare_metrics({"a": 0.5}, {"a": 0.5 + 2e-9}, 1e-9)] == [False]
    assert [r.ok for r in compare_metrics({"a": 0.5}, {"a": 0.5 + 2e-9}, 1e-8)] == [True]
    assert [r.ok for r in compare_metrics({}, {"a": 0.5}, 1.0)] == [False]
    assert [r.ok for r in compare_metrics({"a": math.nan}, {"a": math.nan}, 0.0)] == [True]
    assert compare_metrics({"a": 1.0}, {}, 1.0) == ()


@pytest.mark.parametrize("tolerance", [-1e-9, math.nan, math.inf])
def test_a_bad_tolerance_is_refused_first(tmp_path: Path, tolerance: float) -> None:
    """--tolerance must be finite and >= 0; refused before the registry is even read."""
    cfg = Config(registry=tmp_path / "none.db", artifacts=tmp_path, models=())
    with pytest.raises(DriftdError, match="--tolerance: must be a finite number >= 0"):
        reproduce(cfg, "churn-v1", tolerance=tolerance)


def test_a_refit_is_scored_on_its_own_training_rows() -> None:
    """A refit's holdout is inside its training snapshot (`trained_on`): reproduce scores on the
    training rows, without reading the holdout source (the path here does not exist), and
    says why."""
    import pandas as pd

    from driftd.reproduce import _scoring_rows

    train = pd.DataFrame({"x": [1.0, 2.0], "label": [0, 1]})
    spec = {
        "timestamp": "ts",
        "holdout": {
            "source": {"path": "/nonexistent/holdout.csv", "query": None},
            "start": "2026-01-01T00:00:00+00:00",
            "end": "2026-01-02T00:00:00+00:00",
            "rows": 400,
            "sha256": "h" * 64,
            "trained_on": True,
        },
        "refit_of": {"version": "churn-v2"},
    }
    notes: list[str] = []
    rows, scored_on = _scoring_rows(spec, ["x", "label"], "label", train, notes)
    assert scored_on == "training data" and rows is train
    assert notes == [
        "a refit of churn-v2 on its training rows plus holdout; scored on that training data, "
        "against the recorded artifact"
    ]
