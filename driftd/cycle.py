"""One monitoring cycle for one model: check, maybe retrain, evaluate, decide, record.

This is the only module that knows the whole flow. Each step is a call into a layer below with
dataclasses in and out; every outcome, including failures, ends as a finished ``runs`` row.
The reference a model is checked against is the data its champion was trained on (stored beside
the artifact as ``data.parquet``); before any champion exists it is ``data.reference``.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import detect, evaluate, extras, permissions, policy, sources, trainer
from driftd.config import Config, ModelConfig
from driftd.domain import (
    Decision,
    DriftReport,
    Evaluation,
    FeatureState,
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
# The holdout a version was evaluated on: the champion's outputs on it are the reference for
# prediction drift. Its outputs on its own training data would not do: a flexible model (trees,
# boosting) is more confident on rows it was fitted to, which would read as drift every time.
HOLDOUT_FILE = "holdout.parquet"


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
    """Reference summaries keyed by data fingerprint, so a cycle costs in proportion to live.

    It also holds the summaries of the champion's outputs on its reference (prediction drift),
    keyed by champion version and reference fingerprint: two entries per model.
    """

    def __init__(self, size: int = 16) -> None:
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
    """Run one cycle and record it. Never raises for a failure inside the cycle.

    When the registry itself refuses writes (disk full, read-only, a file-size limit), the
    failure is logged as one ``cycle.unrecorded`` line; a run it could not even start has
    ``run_id`` 0, one it could not finish stays 'running' until the next start-up sweep.
    """
    try:
        registry.ensure_model(model.name)
        run_id = registry.start_run(model.name, trigger, now)
    except DriftdError as exc:
        error = f"cannot record the run: {_first_line(exc)}"
        event("cycle.unrecorded", logging.ERROR, model=model.name, error=error)
        return CycleResult(0, model.name, "failed", error=error)
    event("cycle.start", model=model.name, run=run_id, now=now.isoformat(), trigger=trigger)
    try:
        result = _cycle(cfg, model, registry, now, run_id, cache or SummaryCache(), status, stop)
    except DriftdError as exc:
        error = _first_line(exc)
        event("cycle.failed", logging.ERROR, model=model.name, run=run_id, error=error)
        _finish(registry, model, run_id, "failed", error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    except OSError as exc:  # the environment, not a bug: a full or read-only disk
        error = f"{exc.filename}: {exc.strerror}" if exc.filename else _first_line(exc)
        event("cycle.failed", logging.ERROR, model=model.name, run=run_id, error=error)
        _finish(registry, model, run_id, "failed", error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    except Exception as exc:  # a bug or a foreign error: record it, keep the daemon alive
        error = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
        logging.getLogger("driftd").error("%s\n%s", error, traceback.format_exc())
        _finish(registry, model, run_id, "failed", error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    if not _finish(
        registry,
        model,
        run_id,
        result.status,
        verdict=str(result.report.verdict) if result.report else None,
        error=result.error,
        summary=_summary(result),
    ):
        return result
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


def _finish(
    registry: Registry, model: ModelConfig, run_id: int, status: str, **fields: Any
) -> bool:
    """Close the run; False (and one log line) when the registry refuses the write."""
    try:
        registry.finish_run(run_id, status, **fields)
    except DriftdError as exc:
        error = f"cannot record the end of the run ({status}): {_first_line(exc)}"
        event("cycle.unrecorded", logging.ERROR, model=model.name, run=run_id, error=error)
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
    binned = detect.binnable(model.drift)
    summary = cache.get(
        f"{reference.sha256}:{','.join(features)}:{binned}",
        lambda: detect.summarize(reference.frame[features], kinds, reference.sha256, binned=binned),
    )
    report = detect.detect(summary, live[features], model.drift, seed=run_id)
    extra = extras.Outcome()
    if report.verdict is not Verdict.INVALID:
        needs = _extra_inputs(model, champion, reference, live, features, now)
        extra = extras.run(model, needs, cache.get, seed=run_id)
        report = replace(report, extra=extra.rows)
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
        extra=",".join(f.feature for f in report.extra if f.state is FeatureState.DRIFT) or None,
    )
    alarm = breached or any(extras.breached(report.extra, s) for s in extras.SCOPES)
    run_status = "drift" if alarm else "ok"
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
        prediction_breaches=_extra_history(registry, model, extras.PREDICTION, reference.sha256)
        if champion is not None and model.drift.prediction_drift
        else (),
        multivariate_breaches=_extra_history(registry, model, extras.MULTIVARIATE, reference.sha256)
        if model.drift.multivariate
        else (),
        performance=extra.performance,
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
    trained = _train(cfg, model, registry, run_id, train_frame, features, holdout)
    if isinstance(trained, str):
        if stop is not None and stop.is_set():
            # The daemon killed the child to shut down: the training did not fail, it was cut off.
            error = "driftd stopped during training; champion unchanged"
            return CycleResult(
                run_id, model.name, "interrupted", report, retrain.reason, error=error
            )
        error = f"{trained}; champion unchanged"
        return CycleResult(run_id, model.name, "failed", report, retrain.reason, error=error)

    status(f"evaluating {model.name}")
    evaluation, metrics = _evaluate(model, champion, trained, holdout, features)
    version_id = registry.add_version(
        model.name,
        trained,
        run_id=run_id,
        parent_id=champion["version_id"] if champion else None,
        reference_sha256=reference.sha256,
        spec=_spec(model, retrain.trigger, now, train_frame, holdout=holdout, trained=trained),
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


def _extra_inputs(
    model: ModelConfig,
    champion: dict[str, Any] | None,
    reference: _Reference,
    live: pd.DataFrame,
    features: list[str],
    now: datetime,
) -> extras.Inputs:
    """Frames for the extra checks; the champion and the other files load only when used."""
    data = model.data
    end = now - data.label_delay

    def labelled() -> pd.DataFrame:
        return _labelled(model, end - data.window, end)

    def prediction_reference() -> pd.DataFrame:
        if champion is not None:
            path = Path(champion["artifact_path"]).parent / HOLDOUT_FILE
            if path.exists():
                frame = sources.read(sources.SourceConfig(str(path)), label="champion holdout")
                if len(frame) >= model.drift.min_samples:
                    return frame[features]
        return reference.frame[features]

    def load() -> Any:
        assert champion is not None
        return trainer.load_model(
            Path(champion["artifact_path"]),
            champion["artifact_sha256"],
            trusted=model.training.trusted_types,
            allow_pickle=model.training.allow_pickle,
        )

    metrics = (champion or {}).get("metrics") or {}
    baseline = metrics.get(model.promotion.scorer)
    return extras.Inputs(
        reference=reference.frame[features],
        live=live[features],
        champion=load if champion is not None else None,
        champion_key=f"{champion['version_id'] if champion else ''}:{reference.sha256}",
        prediction_reference=prediction_reference,
        labelled=labelled,
        baseline=float(baseline) if isinstance(baseline, int | float) else None,
    )


def _extra_history(
    registry: Registry, model: ModelConfig, scope: str, reference_sha256: str
) -> tuple[bool, ...]:
    n = model.drift.hysteresis_n
    return tuple(registry.recent_extra_breaches(model.name, n, scope, reference_sha256))


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
    in ``training.window`` before the holdout window. Both windows end ``data.label_delay``
    before ``now``: the labels of newer rows have not arrived at ``now``, so the holdout window
    stays full, and a replay (``--now`` in the past, on data whose labels came later) uses only
    the labels it would have had.
    """
    data = model.data
    labelled_src = data.labelled or data.live
    end = now - data.label_delay
    holdout_start = end - model.promotion.holdout
    labelled = _labelled(model, None, end)
    holdout = sources.window(labelled, data.timestamp, holdout_start, end)
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


def _labelled(model: ModelConfig, start: datetime | None, end: datetime) -> pd.DataFrame:
    """The rows of ``data.labelled`` (default ``data.live``) in (start, end] that have a label."""
    data = model.data
    source = data.labelled or data.live
    frame = sources.read(source, timestamp=data.timestamp, label="labelled data")
    sources.require_columns(frame, [data.target], f"labelled data {source.path}")
    frame = sources.window(frame, data.timestamp, start, end)
    return frame[frame[data.target].notna()]


def _train(
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


def _spec(
    model: ModelConfig,
    trigger: str,
    now: datetime,
    frame: pd.DataFrame,
    *,
    holdout: pd.DataFrame | None = None,
    trained: TrainedModel | None = None,
) -> dict[str, Any]:
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
        **_lineage(model, now, holdout, trained),
    }


def _lineage(
    model: ModelConfig, now: datetime, holdout: pd.DataFrame | None, trained: TrainedModel | None
) -> dict[str, Any]:
    """What `driftd reproduce` needs beyond the data snapshot: the way of training, the code's
    hash, and the holdout's window, source and fingerprint (to rebuild the same rows)."""
    t, data = model.training, model.data
    source = data.labelled or data.live
    columns = [*(trained.features if trained else ()), data.target]
    return {
        "way": t.way,
        "entrypoint": t.entrypoint,
        "command": list(t.command) if t.command is not None else None,
        "timestamp": data.timestamp,
        "scorer": model.promotion.scorer,
        "code": trained.code if trained else None,
        "holdout": {
            "source": {"path": source.path, "query": source.query},
            "start": (now - data.label_delay - model.promotion.holdout).isoformat(),
            "end": (now - data.label_delay).isoformat(),
            "rows": 0 if holdout is None else len(holdout),
            "sha256": None if holdout is None or not trained else frame_sha256(holdout, columns),
        },
    }


def _summary(result: CycleResult) -> dict[str, Any]:
    out: dict[str, Any] = {"retrain_reason": result.retrain_reason}
    if result.report is not None:
        out["drifted"] = list(result.report.drifted)
        out["drifted_share"] = result.report.drifted_share
        out["reason"] = result.report.reason
        extra = [f.feature for f in result.report.extra if f.state is FeatureState.DRIFT]
        if extra:
            out["extra_drifted"] = extra
    if result.decision is not None:
        out["decision"] = str(result.decision.action)
        out["decision_reason"] = result.decision.reason
        out["version_id"] = result.version_id
    return out


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
