"""One monitoring cycle for one model: check, maybe retrain, evaluate, decide, record.

This is the only module that knows the whole flow. Each step is a call into a layer below with
dataclasses in and out; every outcome, including failures, ends as a finished ``runs`` row.
The reference a model is checked against is the data its champion was trained on (stored beside
the artifact as ``data.parquet``); before any champion exists it is ``data.reference``.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import detect, evaluate, policy, sources, trainer
from driftd.config import Config, ModelConfig
from driftd.domain import (
    Decision,
    DriftReport,
    Evaluation,
    TrainedModel,
    Verdict,
)
from driftd.errors import DataError, DriftdError
from driftd.fingerprint import frame_sha256
from driftd.log import event
from driftd.registry import queries
from driftd.registry.store import Registry

if TYPE_CHECKING:
    import pandas as pd

DATA_FILE = "data.parquet"


@dataclass(frozen=True, slots=True)
class CycleResult:
    run_id: int
    model: str
    status: str  # ok | drift | failed | interrupted
    report: DriftReport | None = None
    retrain_reason: str = ""
    version_id: str | None = None
    evaluation: Evaluation | None = None
    decision: Decision | None = None
    error: str | None = None


class SummaryCache:
    """Reference summaries keyed by data fingerprint, so a cycle costs in proportion to live."""

    def __init__(self, size: int = 8) -> None:
        self._items: OrderedDict[str, detect.ReferenceSummary] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(
        self, key: str, build: Callable[[], detect.ReferenceSummary]
    ) -> detect.ReferenceSummary:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        summary = build()
        with self._lock:
            self._items[key] = summary
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return summary


@dataclass(frozen=True, slots=True)
class _Reference:
    frame: pd.DataFrame
    sha256: str
    origin: str


def run_cycle(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    now: datetime,
    *,
    cache: SummaryCache | None = None,
    trigger: str = "schedule",
    status: Callable[[str], None] = lambda _: None,
    stop: threading.Event | None = None,
) -> CycleResult:
    """Run one cycle and record it. Never raises for a failure inside the cycle."""
    registry.ensure_model(model.name)
    run_id = registry.start_run(model.name, trigger, now)
    event("cycle.start", model=model.name, run=run_id, now=now.isoformat(), trigger=trigger)
    try:
        result = _cycle(cfg, model, registry, now, run_id, cache or SummaryCache(), status, stop)
    except DriftdError as exc:
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        registry.finish_run(run_id, "failed", error=error)
        event("cycle.failed", logging.ERROR, model=model.name, run=run_id, error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    except Exception as exc:  # a bug or a foreign error: record it, keep the daemon alive
        error = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
        logging.getLogger("driftd").error("%s\n%s", error, traceback.format_exc())
        registry.finish_run(run_id, "failed", error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    registry.finish_run(
        run_id,
        result.status,
        verdict=str(result.report.verdict) if result.report else None,
        error=result.error,
        summary=_summary(result),
    )
    event(
        "cycle.done",
        model=model.name,
        run=run_id,
        status=result.status,
        verdict=result.report.verdict if result.report else None,
        decision=result.decision.action if result.decision else None,
        version=result.version_id,
    )
    return result


def _cycle(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    now: datetime,
    run_id: int,
    cache: SummaryCache,
    status: Callable[[str], None],
    stop: threading.Event | None,
) -> CycleResult:
    data = model.data
    champion = queries.champion(cfg.registry, model.name)
    status(f"checking {model.name}")
    reference = _load_reference(model, champion)
    live = sources.read_window(
        data.live, data.timestamp, now - data.window, now, label="live window"
    )
    features = _features(model, reference.frame)
    sources.require_columns(live, features, f"live window of {data.live.path}")
    kinds = detect.infer_kinds(reference.frame[features], data.categorical)
    summary = cache.get(
        f"{reference.sha256}:{','.join(features)}",
        lambda: detect.summarize(reference.frame[features], kinds, reference.sha256),
    )
    report = detect.detect(summary, live[features], model.drift, seed=run_id)
    breached = report.verdict is Verdict.DRIFT
    registry.record_check(
        run_id, model.name, report, breached=breached, reference_sha256=reference.sha256
    )
    event(
        "check",
        model=model.name,
        run=run_id,
        verdict=report.verdict,
        drifted=",".join(report.drifted) or None,
        reason=report.reason,
    )
    run_status = "drift" if breached else "ok"
    if report.verdict is Verdict.INVALID and champion is not None:
        # Garbage in must not retrain: an invalid window is a failed run, nothing else.
        return CycleResult(run_id, model.name, "failed", report, error=report.reason)

    history = policy.History(
        breaches=tuple(
            registry.recent_breaches(
                model.name, model.drift.hysteresis_n, reference_sha256=reference.sha256
            )
        ),
        has_champion=champion is not None,
        champion_since=_parse_time(champion["since"]) if champion else None,
        retrain_times=tuple(
            _parse_time(t)
            for t in queries.last_retrain_times(cfg.registry, model.name, now - timedelta(days=1))
        ),
    )
    inputs = policy.PolicyInputs(
        model.drift.hysteresis_k, model.drift.hysteresis_n, model.policy, now
    )
    retrain = policy.should_retrain(history, inputs)
    if not retrain.retrain:
        return CycleResult(run_id, model.name, run_status, report, retrain.reason)
    if stop is not None and stop.is_set():
        return CycleResult(run_id, model.name, "interrupted", report, retrain.reason)

    event("retrain", model=model.name, run=run_id, reason=retrain.reason)
    train_frame, holdout = _training_data(model, now, champion is None, reference.frame)
    status(f"training {model.name}")
    trained = _train(cfg, model, registry, run_id, train_frame, features)
    if trained is None:
        error = "training failed; champion unchanged"
        return CycleResult(run_id, model.name, "failed", report, retrain.reason, error=error)

    status(f"evaluating {model.name}")
    evaluation, metrics = _evaluate(model, champion, trained, holdout, features)
    version_id = registry.add_version(
        model.name,
        trained,
        run_id=run_id,
        parent_id=champion["version_id"] if champion else None,
        reference_sha256=reference.sha256,
        spec=_spec(model, retrain.trigger, now, train_frame),
        metrics=metrics,
    )
    if evaluation is not None and champion is not None:
        registry.record_evaluation(
            run_id, model.name, champion["version_id"], version_id, evaluation
        )
    decision = policy.decide_promotion(evaluation, model.promotion)
    registry.decide(
        model.name,
        version_id,
        decision,
        run_id=run_id,
        actor="daemon",
        payload={
            "trigger": retrain.trigger,
            "retrain_reason": retrain.reason,
            "evaluation": evaluation.to_dict() if evaluation else None,
        },
    )
    event(
        "decision",
        model=model.name,
        run=run_id,
        version=version_id,
        action=decision.action,
        reason=decision.reason,
    )
    return CycleResult(
        run_id, model.name, run_status, report, retrain.reason, version_id, evaluation, decision
    )


def _load_reference(model: ModelConfig, champion: dict[str, Any] | None) -> _Reference:
    """The champion's training data when there is a champion, else ``data.reference``."""
    if champion is not None:
        path = Path(champion["artifact_path"]).parent / DATA_FILE
        source = sources.SourceConfig(str(path))
        frame = sources.read(source, label="champion reference")
        return _Reference(frame, champion["data_sha256"], str(path))
    frame = sources.read(model.data.reference, label="reference")
    if len(frame) == 0:
        raise DataError(f"{model.data.reference.path}: reference has no rows")
    return _Reference(frame, frame_sha256(frame), model.data.reference.path)


def _features(model: ModelConfig, reference: pd.DataFrame) -> list[str]:
    data = model.data
    if data.features is not None:
        sources.require_columns(reference, data.features, "reference")
        return list(data.features)
    skip = {data.timestamp, data.target}
    return [c for c in reference.columns if c not in skip]


def _training_data(
    model: ModelConfig, now: datetime, first: bool, reference: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Training window then holdout, both labelled; the holdout is the newest and never trained on.

    The first model is trained on the reference data; later ones on the live labels that arrived
    in ``training.window`` before the holdout window.
    """
    data = model.data
    labelled_src = data.labelled or data.live
    holdout_start = now - model.promotion.holdout
    labelled = sources.read(labelled_src, timestamp=data.timestamp, label="labelled data")
    labelled = labelled[labelled[data.target].notna()]
    holdout = sources.window(labelled, data.timestamp, holdout_start, now)
    if first:
        train = reference
    else:
        train = sources.window(
            labelled, data.timestamp, holdout_start - model.training.window, holdout_start
        )
    train = train[train[data.target].notna()] if data.target in train.columns else train
    if len(train) == 0:
        raise DataError(
            f"{labelled_src.path}: no labelled rows in the training window ending {holdout_start}"
        )
    return train, (holdout if len(holdout) else None)


def _train(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    run_id: int,
    frame: pd.DataFrame,
    features: list[str],
) -> TrainedModel | None:
    out_dir = cfg.artifacts / model.name / uuid.uuid4().hex[:12]
    log_dir = cfg.artifacts / model.name / "logs"
    started = datetime.now(UTC)
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o750 if cfg.group else 0o700)
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o750 if cfg.group else 0o700)
        sources.write_parquet_atomic(frame, out_dir / DATA_FILE)
        trained = trainer.train(
            model.training,
            frame,
            features=features,
            categorical=[c for c in model.data.categorical if c in features],
            target=model.data.target,
            out_dir=out_dir,
            log_dir=log_dir,
        )
    except DriftdError as exc:
        error = str(exc).splitlines()[0]
        registry.record_training(
            run_id,
            model.name,
            "failed",
            error=error,
            started_at=started,
            finished_at=datetime.now(UTC),
        )
        event("training.failed", logging.ERROR, model=model.name, run=run_id, error=error)
        return None
    registry.record_training(
        run_id,
        model.name,
        "ok",
        log_path=trained.log_path,
        started_at=started,
        finished_at=datetime.now(UTC),
    )
    return trained


def _evaluate(
    model: ModelConfig,
    champion: dict[str, Any] | None,
    trained: TrainedModel,
    holdout: pd.DataFrame | None,
    features: list[str],
) -> tuple[Evaluation | None, dict[str, float]]:
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


def _spec(model: ModelConfig, trigger: str, now: datetime, frame: pd.DataFrame) -> dict[str, Any]:
    t = model.training
    return {
        "trigger": trigger,
        "now": now.isoformat(),
        "estimator": t.estimator,
        "params": dict(t.params),
        "window": t.window.total_seconds(),
        "seed": t.seed,
        "target": model.data.target,
        "categorical": list(model.data.categorical),
        "data_file": DATA_FILE,
        "rows": len(frame),
        "pid": os.getpid(),
    }


def _summary(result: CycleResult) -> dict[str, Any]:
    out: dict[str, Any] = {"retrain_reason": result.retrain_reason}
    if result.report is not None:
        out["drifted"] = list(result.report.drifted)
        out["drifted_share"] = result.report.drifted_share
        out["reason"] = result.report.reason
    if result.decision is not None:
        out["decision"] = str(result.decision.action)
        out["decision_reason"] = result.decision.reason
        out["version_id"] = result.version_id
    return out


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
