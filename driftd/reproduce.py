"""``driftd reproduce VERSION``: retrain a recorded version from its lineage and compare.

From the registry row alone: the training data snapshot (``data.parquet`` beside the artifact,
refused when it no longer matches the recorded sha256), the estimator / entrypoint / command,
its parameters and seed, the feature list and target. The candidate is retrained through the
same isolated child as the daemon's (:func:`driftd.trainer.train`) into a temporary directory
that never becomes a version, and scored on the recorded holdout when the holdout can be rebuilt
(its window, source and sha256 are in the spec of versions recorded by this driftd), else on the
training data with a note. A refit (spec ``refit_of``, see ``promotion.refit``) is reproduced
from its own snapshot, training rows plus holdout, and compared with its recorded artifact on
those rows: its holdout is training data, and its recorded metrics are the candidate's.
The result lists recorded versus reproduced metrics, the largest difference between the two
models' outputs on the same rows, and what differs in the artifact, parameters, code and package
versions.

Recorded metrics are those stored with the version when it is scored on its holdout; on the
training data they are the recorded artifact re-scored on those rows. Timings
(``latency_ms_per_1k``) and sizes are measurements, not metrics, and are not compared.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import evaluate, sources, trainer
from driftd.config import Config, SourceConfig, TrainingConfig
from driftd.errors import ArtifactError, DataError, DriftdError
from driftd.fingerprint import frame_sha256
from driftd.registry import queries

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_TOLERANCE = 1e-9
NOT_METRICS = ("latency_ms_per_1k", "model_size_bytes")


@dataclasses.dataclass(frozen=True, slots=True)
class MetricRow:
    metric: str
    recorded: float | None
    reproduced: float
    difference: float | None
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Reproduction:
    """What ``driftd reproduce`` prints; ``matches`` decides the exit code."""

    version_id: str
    data_file: str
    scored_on: str  # "holdout" or "training data"
    rows_scored: int
    tolerance: float
    metrics: tuple[MetricRow, ...]
    max_output_difference: float | None
    artifact: dict[str, Any]
    differences: dict[str, Any]
    notes: tuple[str, ...]

    @property
    def matches(self) -> bool:
        return bool(self.metrics) and all(m.ok for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["metrics"] = [m.to_dict() for m in self.metrics]
        out["notes"] = list(self.notes)
        out["matches"] = self.matches
        return out


def compare_metrics(
    recorded: Mapping[str, float | None], reproduced: Mapping[str, float], tolerance: float
) -> tuple[MetricRow, ...]:
    """One row per reproduced metric; ``ok`` when both exist and differ by at most ``tolerance``.

    >>> rows = compare_metrics({"auc": 0.8, "acc": None}, {"auc": 0.8 + 1e-12, "acc": 0.7}, 1e-9)
    >>> [(r.metric, r.ok) for r in rows]
    [('auc', True), ('acc', False)]
    >>> compare_metrics({"auc": 0.8}, {"auc": 0.81}, 1e-9)[0].ok
    False
    """
    rows = []
    for name, value in reproduced.items():
        old = recorded.get(name)
        diff = None if old is None else value - old
        ok = diff is not None and math.isfinite(diff) and abs(diff) <= tolerance
        if old is not None and math.isnan(old) and math.isnan(value):
            ok = True  # both undefined the same way
        rows.append(MetricRow(name, old, value, diff, ok))
    return tuple(rows)


def reproduce(
    cfg: Config, version_id: str, *, tolerance: float = DEFAULT_TOLERANCE
) -> Reproduction:
    """Retrain ``version_id`` from its recorded lineage and compare (see the module docstring).

    DataError when the training data is gone or no longer matches its fingerprint;
    TrainingError when the retrain fails (the work directory is then kept and named).
    """
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise DriftdError(f"--tolerance: must be a finite number >= 0 (got {tolerance})")
    row = queries.show(cfg.registry, version_id)
    spec: dict[str, Any] = row["spec"] or {}
    features: list[str] = list(row["features"])
    target = str(spec["target"])
    columns = [*features, target]
    data_file = Path(row["artifact_path"]).parent / str(spec.get("data_file") or "data.parquet")
    frame = _training_frame(data_file, row, columns)
    model_cfg = next((m for m in cfg.models if m.name == row["model"]), None)
    training = _training_config(row, spec, model_cfg.training if model_cfg else TrainingConfig())
    notes: list[str] = []

    work = Path(tempfile.mkdtemp(prefix="driftd-reproduce-"))
    try:
        trained = trainer.train(
            training,
            frame,
            features=features,
            categorical=[c for c in spec.get("categorical", []) if c in features],
            target=target,
            out_dir=work / "model",
            log_dir=work / "logs",
            timestamp=spec.get("timestamp"),
        )
    except DriftdError as exc:
        raise type(exc)(f"{exc} (work directory kept: {work})") from None
    try:
        model = _load(trained.artifact_path, trained.artifact_sha256, training)
        recorded_model = _recorded_model(row, training, notes)
        rows, scored_on = _scoring_rows(spec, columns, target, frame, notes)
        x, y = rows[features], rows[target].to_numpy()
        names = [k for k in (row["metrics"] or {}) if k not in NOT_METRICS]
        names = names or [str(spec.get("scorer") or _scorer(model_cfg))]
        reproduced = evaluate.score(model, x, y, names)
        if scored_on == "holdout":
            recorded = {k: _number(row["metrics"].get(k)) for k in names}
        elif recorded_model is not None:
            recorded = dict(evaluate.score(recorded_model, x, y, names))
            notes.append("recorded values: the recorded artifact re-scored on the same rows")
        else:
            recorded = {}
            notes.append("nothing recorded to compare with on these rows")
        output_diff = _output_difference(recorded_model, model, x) if recorded_model else None
        artifact = {
            "recorded_path": row["artifact_path"],
            "recorded_sha256": row["artifact_sha256"],
            "recorded_size": row["artifact_size"],
            "reproduced_sha256": trained.artifact_sha256,
            "reproduced_size": trained.artifact_size,
            "identical_bytes": trained.artifact_sha256 == row["artifact_sha256"],
        }
        if not artifact["identical_bytes"]:
            notes.append(
                "artifact bytes differ: skops archives embed write times and object ids, so "
                "compare the models by their outputs"
            )
        differences = _differences(row, spec, trained, model_cfg)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Reproduction(
        version_id=version_id,
        data_file=str(data_file),
        scored_on=scored_on,
        rows_scored=len(rows),
        tolerance=tolerance,
        metrics=compare_metrics(recorded, reproduced, tolerance),
        max_output_difference=output_diff,
        artifact=artifact,
        differences=differences,
        notes=tuple(notes),
    )


def _training_frame(data_file: Path, row: Mapping[str, Any], columns: list[str]) -> pd.DataFrame:
    if not data_file.is_file():
        gone = " (its artifact was garbage-collected)" if row["artifact_deleted_at"] else ""
        raise DataError(f"{data_file}: training data of {row['id']} is missing{gone}")
    frame = sources.read(SourceConfig(str(data_file)), label="training data")
    sources.require_columns(frame, columns, str(data_file))
    actual = frame_sha256(frame, columns)
    if actual != row["data_sha256"]:
        raise DataError(
            f"{data_file}: training data no longer matches its recorded fingerprint "
            f"(sha256 {actual[:12]}..., recorded {str(row['data_sha256'])[:12]}...); "
            "refusing to reproduce from altered data"
        )
    return frame


def _training_config(
    row: Mapping[str, Any], spec: Mapping[str, Any], base: TrainingConfig
) -> TrainingConfig:
    """The recorded way, estimator, params and seed; limits and trust from today's config."""
    described = str(row["estimator"])
    way = spec.get("way") or described.partition(":")[0]
    entrypoint = command = None
    if way == "entrypoint":
        entrypoint = spec.get("entrypoint") or described.removeprefix("entrypoint:")
    elif way == "command":
        argv = spec.get("command") or shlex.split(described.removeprefix("command:"))
        command = tuple(argv)
    return dataclasses.replace(
        base,
        estimator=str(spec.get("estimator") or base.estimator),
        params=dict(row["params"] or {}),
        seed=int(row["seed"] if row["seed"] is not None else spec.get("seed", 0)),
        entrypoint=entrypoint,
        command=command,
    )


def _load(path: str, sha256: str, training: TrainingConfig) -> Any:
    return trainer.load_model(
        Path(path), sha256, trusted=training.trusted_types, allow_pickle=training.allow_pickle
    )


def _recorded_model(row: Mapping[str, Any], training: TrainingConfig, notes: list[str]) -> Any:
    if row["artifact_deleted_at"]:
        notes.append("the recorded artifact was garbage-collected")
        return None
    try:
        return _load(row["artifact_path"], row["artifact_sha256"], training)
    except ArtifactError as exc:
        notes.append(f"the recorded artifact cannot be loaded: {exc}")
        return None


def _scoring_rows(
    spec: Mapping[str, Any], columns: list[str], target: str, train: pd.DataFrame, notes: list[str]
) -> tuple[pd.DataFrame, str]:
    """The recorded holdout rebuilt and checked against its sha256, else the training data."""
    holdout = spec.get("holdout")
    fallback = "scored on the training data instead (recorded metrics are on the holdout)"
    if not isinstance(holdout, dict):
        notes.append(f"this version predates holdout recording; {fallback}")
        return train, "training data"
    if not holdout.get("rows") or not holdout.get("sha256"):
        notes.append(f"the version had no holdout rows; {fallback}")
        return train, "training data"
    if holdout.get("trained_on"):
        # A refit: its holdout rows are in its training data, and its recorded metrics are the
        # evaluated candidate's on them. The artifacts, not those metrics, are compared.
        refit_of = spec.get("refit_of") or {}
        notes.append(
            f"a refit of {refit_of.get('version', 'the evaluated candidate')} on its training "
            "rows plus holdout; scored on that training data, against the recorded artifact"
        )
        return train, "training data"
    source = holdout.get("source") or {}
    try:
        frame = sources.read(
            SourceConfig(str(source["path"]), source.get("query")),
            timestamp=str(spec["timestamp"]),
            label="holdout",
        )
        frame = frame[frame[target].notna()]
        rows = sources.window(
            frame,
            str(spec["timestamp"]),
            datetime.fromisoformat(holdout["start"]),
            datetime.fromisoformat(holdout["end"]),
        )
        actual = frame_sha256(rows, columns)
    except DriftdError as exc:
        notes.append(f"the holdout cannot be read back ({exc}); {fallback}")
        return train, "training data"
    if actual != holdout["sha256"]:
        notes.append(
            f"the holdout's source changed since ({len(rows)} rows now, {holdout['rows']} "
            f"recorded; sha256 differs); {fallback}"
        )
        return train, "training data"
    return rows.reset_index(drop=True), "holdout"


def _output_difference(a: Any, b: Any, x: pd.DataFrame) -> float | None:
    """Largest absolute difference between two models' probabilities (else predictions)."""
    import numpy as np

    method = (
        "predict_proba" if hasattr(a, "predict_proba") and hasattr(b, "predict_proba") else None
    )
    try:
        if method:
            out_a, out_b = a.predict_proba(x), b.predict_proba(x)
        else:
            out_a, out_b = a.predict(x), b.predict(x)
        diff = np.abs(np.asarray(out_a, dtype=float) - np.asarray(out_b, dtype=float))
    except (TypeError, ValueError):
        return None
    return float(diff.max()) if diff.size else 0.0


def _differences(
    row: Mapping[str, Any], spec: Mapping[str, Any], trained: Any, model_cfg: Any
) -> dict[str, Any]:
    """What changed between then and now that could explain a mismatch."""
    out: dict[str, Any] = {}
    now_env = trained.environment
    env = {
        k: {"recorded": v, "now": now_env.get(k)}
        for k, v in (row["environment"] or {}).items()
        if now_env.get(k) != v
    }
    if env:
        out["environment"] = env
    if model_cfg is not None:
        params = _changed(row["params"] or {}, dict(model_cfg.training.params))
        if params:
            out["config_params"] = params  # the config has moved on; the recorded ones were used
    old_code = (spec.get("code") or {}).get("sha256")
    new_code = (trained.code or {}).get("sha256")
    if old_code != new_code:
        out["code"] = {"recorded": old_code, "now": new_code}
    if trained.data_sha256 != row["data_sha256"]:  # pragma: no cover - refused earlier
        out["data_sha256"] = {"recorded": row["data_sha256"], "now": trained.data_sha256}
    return out


def _changed(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    keys: Sequence[str] = sorted(set(a) | set(b))
    return {k: {"recorded": a.get(k), "config": b.get(k)} for k in keys if a.get(k) != b.get(k)}


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _scorer(model_cfg: Any) -> str:
    return str(model_cfg.promotion.scorer) if model_cfg is not None else "roc_auc"
