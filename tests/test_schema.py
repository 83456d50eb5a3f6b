"""One schema for the drift check and the trainer (driftd.schema), ``validate --schema``, and
training errors that keep their whole first sentence."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import NOW, check, run

from driftd import detect, schema, synth, trainer
from driftd.config import TrainingConfig
from driftd.detect.summary import FeatureKind
from driftd.errors import DataError, TrainingError
from driftd.trainer.child import one_line

REPO = Path(__file__).resolve().parents[1]


def test_infer_reads_dtypes_and_the_explicit_list_wins() -> None:
    """String, object, bool and pandas category columns are categorical; numbers are numeric
    unless data.categorical lists them; a datetime column is refused naming it. The drift
    check's infer_kinds gives the same split."""
    frame = pd.DataFrame(
        {
            "age": [30, 41, 52],
            "score": [0.1, 0.2, np.nan],
            "plan": pd.Series(["a", "b", "a"], dtype="string"),
            "city": pd.Series(["x", None, "y"], dtype=object),
            "vip": [True, False, True],
            "tier": pd.Categorical(["lo", "hi", "lo"]),
            "zip": [1000, 2000, 3000],
        }
    )
    inferred = schema.infer(frame, categorical=["zip"])
    assert inferred.categorical == ("plan", "city", "vip", "tier", "zip")
    assert inferred.numeric == ("age", "score")
    assert inferred.as_dict()["tier"]["why"] == "pandas category"
    assert inferred.as_dict()["zip"]["why"] == "listed in data.categorical"
    kinds = detect.infer_kinds(frame, ["zip"])
    assert [n for n, k in kinds.items() if k == FeatureKind.CATEGORICAL] == list(
        inferred.categorical
    )
    with pytest.raises(DataError, match=r"^column 'when' has dtype datetime64"):
        schema.infer(frame.assign(when=pd.Timestamp("2026-01-01")))


def test_one_line_keeps_the_first_sentence_across_lines() -> None:
    """A message whose first line ends in a colon keeps the rest of its sentence; the second
    sentence is dropped."""
    exc = ValueError("Cannot use median strategy with non-numeric data:\nbad 'plan'. Then more.")
    assert one_line(exc) == (
        "ValueError: Cannot use median strategy with non-numeric data: bad 'plan'."
    )


def test_the_trainer_encodes_unlisted_string_columns_and_names_bad_ones(tmp_path: Path) -> None:
    """The estimator way in the real training child: ``plan`` and ``region`` (strings, not in
    data.categorical) are one-hot encoded, so the fit succeeds (it failed with "Cannot use
    median strategy with non-numeric data" before); a timedelta feature is refused naming it."""
    frame = synth.make_reference(300, seed=4)
    features = list(synth.FEATURES)
    trained = trainer.train(
        TrainingConfig(),
        frame,
        features=features,
        categorical=[],
        target="label",
        out_dir=tmp_path / "out",
        log_dir=tmp_path / "logs",
    )
    model = trainer.load_model(Path(trained.artifact_path), trained.artifact_sha256)
    encoded = dict((name, cols) for name, _, cols in model.named_steps["prep"].transformers)
    assert encoded["categorical"] == ["plan", "region"]
    with pytest.raises(TrainingError, match=r"column 'gap' has dtype timedelta64"):
        trainer.train(
            TrainingConfig(),
            frame.assign(gap=pd.Timedelta("1h")),
            features=[*features, "gap"],
            categorical=[],
            target="label",
            out_dir=tmp_path / "out2",
            log_dir=tmp_path / "logs",
        )


CONFIG = """
registry = "state/registry.db"
artifacts = "state/artifacts"
log_level = "warning"

[[models]]
name = "{name}"
every = "1d"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"

[models.training]
{training}
"""


def _config(root: Path, name: str, training: str) -> Path:
    synth.write_demo_data(root / "data", NOW, rows_per_day=300, reference_rows=1500)
    path = root / "config.toml"
    path.write_text(CONFIG.format(name=name, training=training), encoding="utf-8")
    return path


@pytest.mark.slow
def test_validate_schema_and_a_check_agree_on_unlisted_string_columns(tmp_path: Path) -> None:
    """No data.categorical: ``validate --schema`` lists plan and region as categorical
    (string), the others numeric; the first ``driftd check`` compares plan and region as
    categorical features and trains its bootstrap champion with the default estimator."""
    config = _config(tmp_path, "churn", 'estimator = "sklearn.linear_model.LogisticRegression"')
    proc = run(config, "validate", "--schema", "--json", rc=0)
    columns = json.loads(proc.stdout)["schemas"]["churn"]
    assert {c for c, v in columns.items() if v["kind"] == "categorical"} == {"plan", "region"}
    assert columns["plan"]["why"] == "string" and columns["age"]["kind"] == "numeric"
    text = run(config, "validate", "--schema", rc=0).stdout
    assert "churn: 8 feature(s)" in text and "categorical" in text
    result = check(config, NOW - timedelta(days=6))["churn"]
    assert result["decision"] == "bootstrap", result
    kinds = {f["feature"]: f["kind"] for f in result["features"]}
    assert kinds["plan"] == kinds["region"] == "categorical" and kinds["age"] == "numeric"


def test_a_training_error_keeps_its_whole_first_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scikit-learn's median imputer on a string column raises a message split over two lines;
    the failed run records both (the value that broke it included), not just the part before
    the first line's colon."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    config = _config(
        tmp_path, "broken", 'entrypoint = "tests.helpers_models:impute_strings_by_median"'
    )
    result = check(config, NOW - timedelta(days=6))["broken"]
    assert result["status"] == "failed", result
    assert "Cannot use median strategy with non-numeric data: " in result["error"], result
    assert "'basic'" in result["error"] or "could not convert" in result["error"], result
