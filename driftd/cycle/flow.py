"""The steps of one cycle: check, weigh the triggers, maybe train, evaluate, decide."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from driftd import detect, extras, policy, sources
from driftd.config import Config, ModelConfig
from driftd.cycle.cache import SummaryCache
from driftd.cycle.checks import extra_history, extra_inputs
from driftd.cycle.data import features_of, load_reference, training_data
from driftd.cycle.result import CycleResult
from driftd.cycle.spec import spec
from driftd.cycle.training import evaluate_candidate, train
from driftd.domain import FeatureState, Verdict
from driftd.log import event
from driftd.registry import queries
from driftd.registry.store import Registry


def steps(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    now: datetime,
    run_id: int,
    cache: SummaryCache,
    status: Callable[[str], None],
    stop: threading.Event | None,
) -> CycleResult:
    """The cycle itself; it raises on failure and leaves recording the run's end to the caller."""
    data = model.data
    champion = queries.champion(cfg.registry, model.name)
    status(f"checking {model.name}")
    reference = load_reference(model, champion)
    live = sources.read_window(
        data.live, data.timestamp, now - data.window, now, label="live window"
    )
    features = features_of(model, reference.frame)
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
        needs = extra_inputs(model, champion, reference, live, features, now)
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
        prediction_breaches=extra_history(registry, model, extras.PREDICTION, reference.sha256)
        if champion is not None and model.drift.prediction_drift
        else (),
        multivariate_breaches=extra_history(registry, model, extras.MULTIVARIATE, reference.sha256)
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
    train_frame, holdout = training_data(model, now, champion is None, reference.frame)
    status(f"training {model.name}")
    trained = train(cfg, model, registry, run_id, train_frame, features, holdout)
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
    evaluation, metrics = evaluate_candidate(model, champion, trained, holdout, features)
    version_id = registry.add_version(
        model.name,
        trained,
        run_id=run_id,
        parent_id=champion["version_id"] if champion else None,
        reference_sha256=reference.sha256,
        spec=spec(model, retrain.trigger, now, train_frame, holdout=holdout, trained=trained),
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


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
