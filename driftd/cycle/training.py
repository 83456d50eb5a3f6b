"""Train a candidate in its own version directory, then score it against the champion."""

from __future__ import annotations

import logging
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import evaluate, permissions, sources, trainer
from driftd.config import Config, ModelConfig
from driftd.cycle.data import DATA_FILE, HOLDOUT_FILE
from driftd.domain import Evaluation, TrainedModel
from driftd.errors import DriftdError
from driftd.log import event
from driftd.registry.store import Registry

if TYPE_CHECKING:
    import pandas as pd


def train(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    run_id: int,
    frame: pd.DataFrame,
    features: list[str],
    holdout: pd.DataFrame | None = None,
) -> TrainedModel | str:
    """The trained candidate, or the one-line reason training failed (already recorded)."""
    out_dir = cfg.artifacts / model.name / uuid.uuid4().hex[:12]
    log_dir = cfg.artifacts / model.name / "logs"
    started = datetime.now(UTC)
    try:
        access = permissions.Access(cfg.group)
        permissions.make_dirs(out_dir, access)
        permissions.make_dirs(log_dir, access)
        for own in (out_dir.parent, log_dir):  # driftd's own: follow a change of `group`
            permissions.secure(own, access)
        sources.write_parquet_atomic(frame, out_dir / DATA_FILE)
        permissions.secure(out_dir / DATA_FILE, access)
        if holdout is not None:
            sources.write_parquet_atomic(holdout, out_dir / HOLDOUT_FILE)
            permissions.secure(out_dir / HOLDOUT_FILE, access)
        trained = trainer.train(
            model.training,
            frame,
            features=features,
            categorical=[c for c in model.data.categorical if c in features],
            target=model.data.target,
            out_dir=out_dir,
            log_dir=log_dir,
            timestamp=model.data.timestamp,
            access=access,
        )
    except DriftdError as exc:
        error = str(exc).splitlines()[0]
        # No version will ever point here: drop the data snapshot instead of leaking it.
        shutil.rmtree(out_dir, ignore_errors=True)
        registry.record_training(
            run_id,
            model.name,
            "failed",
            error=error,
            started_at=started,
            finished_at=datetime.now(UTC),
        )
        event("training.failed", logging.ERROR, model=model.name, run=run_id, error=error)
        return error
    registry.record_training(
        run_id,
        model.name,
        "ok",
        log_path=trained.log_path,
        started_at=started,
        finished_at=datetime.now(UTC),
    )
    return trained


def evaluate_candidate(
    model: ModelConfig,
    champion: dict[str, Any] | None,
    trained: TrainedModel,
    holdout: pd.DataFrame | None,
    features: list[str],
) -> tuple[Evaluation | None, dict[str, float]]:
    """The candidate against the champion on the holdout, and the candidate's own metrics."""
    training = model.training
    candidate = trainer.load_model(
        Path(trained.artifact_path),
        trained.artifact_sha256,
        trusted=training.trusted_types,
        allow_pickle=training.allow_pickle,
    )
    if holdout is None:
        if champion is None:
            return None, {}
        holdout_rows = 0
        return (
            Evaluation(
                n_holdout=holdout_rows, confidence=model.promotion.confidence, comparisons=()
            ),
            {},
        )
    x, y = holdout[features], holdout[model.data.target].to_numpy()
    if champion is None:
        return None, evaluate.score(candidate, x, y, [model.promotion.scorer])
    incumbent = trainer.load_model(
        Path(champion["artifact_path"]),
        champion["artifact_sha256"],
        trusted=training.trusted_types,
        allow_pickle=training.allow_pickle,
    )
    evaluation = evaluate.compare(
        incumbent,
        candidate,
        x,
        y,
        model.promotion,
        seed=training.seed,
        champion_size=int(champion.get("artifact_size") or 0) or None,
        candidate_size=trained.artifact_size,
    )
    return evaluation, dict(evaluation.candidate_metrics)
