"""Train a candidate in its own version directory, then score it against the champion."""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import evaluate, permissions, sources, trainer
from driftd.config import Config, ModelConfig
from driftd.cycle.data import DATA_FILE, HOLDOUT_FILE, Split
from driftd.cycle.spec import spec
from driftd.domain import Action, Decision, Evaluation, TrainedModel
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
            remote=_remote(model, cfg),
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
        # Whole days only when asked (promotion.resample = "days"): calibrated under day
        # effects, but on nycflights13 it promoted nothing (README "Resampling days, not rows").
        timestamps=evaluate.day_times(holdout, model.data.timestamp)
        if model.promotion.resample == "days"
        else None,
    )
    return evaluation, dict(evaluation.candidate_metrics)


def refit(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    run_id: int,
    split: Split,
    features: list[str],
) -> TrainedModel | str:
    """The winning candidate's spec and seed trained again on its training rows plus holdout.

    The holdout rows are the newest labelled ones: leaving them out of the artifact that goes
    live makes it ``promotion.holdout`` older than it need be. Its ``holdout.parquet`` keeps
    the same rows (the prediction-drift reference, scored there by the evaluated candidate, see
    :mod:`driftd.cycle.checks`). Returns the one-line reason when the training fails.
    """
    assert split.both is not None  # only a candidate that won on a holdout is refitted
    return train(cfg, model, registry, run_id, split.both, features, split.holdout)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An evaluated candidate as recorded: its version, artifact and holdout metrics."""

    version_id: str
    trained: TrainedModel
    metrics: dict[str, float]


def record_decision(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    run_id: int,
    now: datetime,
    trigger: str,
    reference_sha256: str,
    split: Split,
    features: list[str],
    candidate: Candidate,
    decision: Decision,
    payload: dict[str, Any],
) -> tuple[str, Decision]:
    """Record the decision about the evaluated candidate; a promotion first refits it.

    With ``promotion.refit`` a won promotion trains the candidate's spec and seed again on
    training rows plus holdout, and the refit (a new version whose parent is the candidate,
    spec ``refit_of``) becomes champion with the candidate's evidence and holdout metrics, in
    one transaction with the decision (:meth:`Registry.promote_refit`). A refit that fails
    promotes the evaluated candidate itself: it won on evidence, and the refit is an
    improvement, not a condition. Returns the version the decision is about and the decision.
    """
    version_id = candidate.version_id
    refittable = split.holdout is not None and split.both is not None
    if decision.action is not Action.PROMOTE or not model.promotion.refit or not refittable:
        registry.decide(
            model.name, version_id, decision, run_id=run_id, actor="daemon", payload=payload
        )
        return version_id, decision
    assert split.both is not None
    rows = len(split.both)
    fitted = refit(cfg, model, registry, run_id, split, features)
    if isinstance(fitted, str):
        decision = Decision(
            decision.action, f"{decision.reason}; refit failed ({fitted}): promoted as evaluated"
        )
        payload = {**payload, "refit": {"error": fitted}}
        registry.decide(
            model.name, version_id, decision, run_id=run_id, actor="daemon", payload=payload
        )
        return version_id, decision
    decision = Decision(
        decision.action,
        f"{decision.reason}; refitted on training + holdout ({rows:,} rows) from {version_id}",
    )
    evaluated = candidate.trained
    refit_of = {
        "version": version_id,
        "artifact_path": evaluated.artifact_path,
        "artifact_sha256": evaluated.artifact_sha256,
        "data_sha256": evaluated.data_sha256,
        "rows": evaluated.n_rows,
    }
    payload = {
        **payload,
        "refit": {**refit_of, "refit_sha256": fitted.artifact_sha256, "refit_rows": rows},
    }
    refit_id, _ = registry.promote_refit(
        model.name,
        fitted,
        run_id=run_id,
        candidate_id=version_id,
        reference_sha256=reference_sha256,
        spec=spec(model, trigger, now, split, trained=fitted, refit_of=refit_of),
        # The candidate's holdout metrics: the refit's own on rows it trained on would flatter
        # it, and realised performance is compared with this baseline.
        metrics=candidate.metrics,
        decision=decision,
        actor="daemon",
        payload=payload,
    )
    event("refit", model=model.name, run=run_id, version=refit_id, evaluated=version_id, rows=rows)
    return refit_id, decision


def _remote(model: ModelConfig, cfg: Config) -> trainer.Remote | None:
    """Where the training child runs: on the dask cluster for ``training.executor = "dask"``
    (dask is imported only then), else here (None)."""
    if model.training.executor != "dask":
        return None
    from functools import partial

    from driftd.dask.training import run_remote

    return partial(run_remote, scheduler=cfg.dask.scheduler)
