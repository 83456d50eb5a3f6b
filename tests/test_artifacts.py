"""Artifacts: crash-safe writes, sha256 before load, skops allow-list, pickle refused (trainer)."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pytest
import skops.io

from driftd.config import TrainingConfig
from driftd.errors import ArtifactError
from driftd.trainer import TRUSTED_TYPES, build_estimator, load_model, sweep_temp_files
from driftd.trainer.artifacts import write_atomic
from tests.helpers_training import MeanModel

ESTIMATORS = [
    "sklearn.linear_model.LogisticRegression",
    "sklearn.ensemble.RandomForestClassifier",
    "sklearn.ensemble.HistGradientBoostingClassifier",
    "sklearn.ensemble.GradientBoostingClassifier",
    "sklearn.tree.DecisionTreeClassifier",
]
SMALL = {
    "sklearn.ensemble.RandomForestClassifier": {"n_estimators": 5},
    "sklearn.ensemble.HistGradientBoostingClassifier": {"max_iter": 5},
    "sklearn.ensemble.GradientBoostingClassifier": {"n_estimators": 5},
}


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(3, 1, n),
            "plan": rng.choice(["basic", "pro", None], n),
        }
    )
    frame.loc[::17, "age"] = np.nan
    frame["label"] = (frame["age"].fillna(40) + rng.normal(0, 10, n) > 40).astype(int)
    return frame


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


class Marker:
    """Unpickling this creates a file: proof that a load executed code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path(self.path).touch, ())


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    """Each common estimator in driftd's own preprocessing pipeline, fitted once."""
    frame = _frame()
    features = ["age", "income", "plan"]
    out = {}
    for name in ESTIMATORS:
        cfg = TrainingConfig(estimator=name, params=SMALL.get(name, {}))
        out[name] = build_estimator(cfg, features, ["plan"]).fit(frame[features], frame["label"])
    return out


def test_trusted_types_are_exactly_what_common_estimators_need(fitted: dict[str, Any]) -> None:
    """The allow-list covers every untrusted type of the common pipelines, and nothing else."""
    needed: set[str] = set()
    for model in fitted.values():
        needed |= set(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    assert needed <= set(TRUSTED_TYPES), (
        f"missing from TRUSTED_TYPES: {needed - set(TRUSTED_TYPES)}"
    )
    assert set(TRUSTED_TYPES) <= needed, f"unneeded in TRUSTED_TYPES: {set(TRUSTED_TYPES) - needed}"


@pytest.mark.parametrize("name", ESTIMATORS)
def test_common_estimators_round_trip_through_skops(
    name: str, fitted: dict[str, Any], tmp_path: Path
) -> None:
    """Written and loaded with no operator trust, each predicts exactly as before saving."""
    path = tmp_path / "model.skops"
    sha = _write(path, skops.io.dumps(fitted[name]))
    loaded = load_model(path, sha)
    frame = _frame()
    x = frame[["age", "income", "plan"]]
    np.testing.assert_array_equal(loaded.predict_proba(x), fitted[name].predict_proba(x))


def test_a_flipped_byte_is_refused_before_loading(fitted: dict[str, Any], tmp_path: Path) -> None:
    """One changed byte: ArtifactError for the sha256 mismatch, naming the file."""
    path = tmp_path / "model.skops"
    sha = _write(path, skops.io.dumps(fitted[ESTIMATORS[0]]))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"model\.skops: sha256 mismatch"):
        load_model(path, sha)


def test_a_missing_artifact_is_an_artifact_error(tmp_path: Path) -> None:
    """A missing file is an ArtifactError naming it, not a FileNotFoundError."""
    with pytest.raises(ArtifactError, match="artifact is missing"):
        load_model(tmp_path / "model.skops", "0" * 64)


def test_a_pickle_renamed_skops_is_refused_without_running(tmp_path: Path) -> None:
    """A pickle posing as .skops, with the right sha256, is refused and never executed."""
    marker = tmp_path / "executed"
    path = tmp_path / "model.skops"
    sha = _write(path, pickle.dumps(Marker(str(marker))))
    with pytest.raises(ArtifactError, match="not a skops file"):
        load_model(path, sha, allow_pickle=True)  # allow_pickle does not apply to .skops
    assert not marker.exists()


def test_pickle_artifacts_load_only_by_opt_in(tmp_path: Path) -> None:
    """model.pkl is refused by default (nothing runs); with allow_pickle it is unpickled."""
    marker = tmp_path / "executed"
    path = tmp_path / "model.pkl"
    sha = _write(path, pickle.dumps(Marker(str(marker))))
    with pytest.raises(ArtifactError, match=r"training\.allow_pickle = true"):
        load_model(path, sha)
    assert not marker.exists()
    load_model(path, sha, allow_pickle=True)
    assert marker.exists()  # exactly why it is opt-in


def test_untrusted_types_are_named_and_trusted_only_by_the_operator(tmp_path: Path) -> None:
    """A custom class is refused with its name; the operator's trusted list lets it load."""
    path = tmp_path / "model.skops"
    sha = _write(path, skops.io.dumps(MeanModel(0.25)))
    with pytest.raises(ArtifactError, match=r"untrusted types tests\.helpers_training\.MeanModel"):
        load_model(path, sha)
    loaded = load_model(path, sha, trusted=["tests.helpers_training.MeanModel"])
    assert loaded.mean == 0.25


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    """A failing writer leaves the old file and no temp file; a good one replaces it."""
    dest = tmp_path / "model.skops"
    dest.write_bytes(b"old")

    def broken(fh: IO[bytes]) -> None:
        fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(dest, broken)
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]
    write_atomic(dest, lambda fh: fh.write(b"new") and None)
    assert dest.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]


def test_write_atomic_files_follow_the_umask(tmp_path: Path) -> None:
    """Not mkstemp's 0600: a group-readable umask gives a group-readable artifact."""
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a.skops", lambda fh: fh.write(b"x") and None)
    finally:
        os.umask(old)
    assert (tmp_path / "a.skops").stat().st_mode & 0o777 == 0o640


def test_sweep_removes_only_temp_leftovers(tmp_path: Path) -> None:
    """.tmp-* files and directories anywhere below the root go; everything else stays."""
    keep = [tmp_path / "churn" / "v1" / "model.skops", tmp_path / "churn" / "v1" / "data.parquet"]
    gone = [tmp_path / "churn" / "v2" / ".tmp-abc.skops", tmp_path / ".tmp-x"]
    for path in keep + gone:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    work = tmp_path / "churn" / "v2" / ".tmp-train-123"
    (work / "inner").mkdir(parents=True)
    (work / "inner" / "train.parquet").write_bytes(b"x")
    removed = sweep_temp_files(tmp_path)
    assert removed == sorted([*gone, work])
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in [*gone, work])
    assert sweep_temp_files(tmp_path) == []
