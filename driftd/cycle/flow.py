"""The steps of one cycle: check, weigh the triggers, maybe train, evaluate, decide."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from driftd import detect, extras, policy, sources
from driftd.champion.change import after_commit
from driftd.config import Config, ModelConfig
from driftd.cycle.baseline import baseline, horizon, time_ordered
from driftd.cycle.cache import SummaryCache
from driftd.cycle.checks import extra_history, extra_inputs, realised_spread, with_threshold
from driftd.cycle.data import Reference, features_of, load_reference, training_data
from driftd.cycle.impact import champion_weights
from driftd.cycle.result import CycleResult
from driftd.cycle.spec import spec
from driftd.cycle.training import Candidate, evaluate_candidate, record_decision, train
from driftd.domain import Action, DriftReport, FeatureState, Verdict
from driftd.log import event
from driftd.registry import queries
from driftd.registry.store import Registry
from driftd.report.summarize import summarize as summarize_data

if TYPE_CHECKING:
    import pandas as pd


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
    horizon(model, now)  # a span past the calendar's edge is a config error, not a crash
    champion = queries.champion(cfg.registry, model.name)
    status(f"checking {model.name}")
    reference = load_reference(model, champion)
    if data.engine == "dask":  # the live window counted per partition; dask imported only here
        from driftd.cycle.dask_check import check

        done = check(cfg, model, registry, now, run_id, cache, champion, reference)
        if isinstance(done, CycleResult):
            return done
        return act(cfg, model, registry, now, run_id, status, stop, done)
    # Read once: the live window and the past windows of the background come from these rows.
    source_rows = sources.read(data.live, timestamp=data.timestamp, label="live window", keep=True)
    live = sources.nonempty_window(
        source_rows, data.live, data.timestamp, now - data.window, now, label="live window"
    )
    features = features_of(model, reference.frame)
    sources.require_columns(live, features, f"live window of {data.live.path}")
    # Nested values, or numbers mixed with text, refused on both sides with the same words.
    where = f"reference {reference.origin}"
    sources.check_features(reference.frame, features, data.categorical, where)
    sources.check_features(live, features, data.categorical, f"live window of {data.live.path}")
    thin = _thin_window(model, live, now, n_ref=len(reference.frame))
    if thin is not None:
        # A window its rows only partly cover (data not yet arrived, a hole) would read as drift
        # in anything tied to time of day or week: record it, judge nothing, retrain nothing.
        registry.record_check(
            run_id, model.name, thin, breached=False, reference_sha256=reference.sha256
        )
        event("check", model=model.name, run=run_id, verdict=thin.verdict, reason=thin.reason)
        return CycleResult(run_id, model.name, "ok", thin, "not judged: no retrain")
    kinds = detect.infer_kinds(reference.frame[features], data.categorical)
    binned = detect.binnable(model.drift)
    ordered = model.drift.dependence and data.timestamp in reference.frame.columns

    def summarize() -> detect.ReferenceSummary:
        # Autocorrelation means something only for rows in time order.
        timed = time_ordered(reference.frame, data.timestamp) if ordered else None
        frame = timed if timed is not None else reference.frame
        return detect.summarize(
            frame[features], kinds, reference.sha256, binned=binned, ordered=timed is not None
        )

    summary = cache.get(f"{reference.sha256}:{kinds}:{binned}:{ordered}", summarize)
    # Judged against normal variation (past windows), weighted by what the champion uses.
    base = baseline(model, reference, source_rows, summary, kinds, now, cache, seed=run_id)
    report = detect.detect(
        base.summary,
        live[features],
        model.drift,
        seed=run_id,
        background=base.background,
        weights=champion_weights(model, champion, registry, features),
    )
    extra = extras.Outcome()
    if report.verdict is not Verdict.INVALID:
        needs = extra_inputs(model, champion, reference, live, features, now)
        # Realised performance judged against how much the champion's metric normally moves.
        spread = realised_spread(model, champion, features, now, memo=cache.other)
        judged = with_threshold(model, spread)
        extra = extras.run(judged, needs, cache.get, seed=run_id, estimators=cache.other)
        report = replace(report, extra=extra.rows)
    breached = report.verdict is Verdict.DRIFT
    registry.record_check(
        run_id,
        model.name,
        report,
        breached=breached,
        reference_sha256=reference.sha256,
        # What `driftd report` plots for this check; bounded, whatever the window's size.
        summaries=summarize_data(reference.frame[features], live[features], kinds),
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
    checked = Checked(champion, reference, features, report, extra, run_status)
    return act(cfg, model, registry, now, run_id, status, stop, checked)


@dataclass(frozen=True, slots=True)
class Checked:
    """What a cycle's check leaves for the rest of it (the in-memory check or the dask one)."""

    champion: dict[str, Any] | None
    reference: Reference
    features: list[str]
    report: DriftReport
    extra: extras.Outcome
    run_status: str


def act(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    now: datetime,
    run_id: int,
    status: Callable[[str], None],
    stop: threading.Event | None,
    checked: Checked,
) -> CycleResult:
    """After the check: weigh the triggers, maybe train, evaluate, decide."""
    data = model.data
    champion, reference, features = checked.champion, checked.reference, checked.features
    report, extra, run_status = checked.report, checked.extra, checked.run_status
    unpaid, last_training = queries.unpaid_trainings(cfg.registry, model.name, now)
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
            for t in queries.last_retrain_times(
                cfg.registry, model.name, now - timedelta(days=1), now
            )
        ),
        prediction_breaches=extra_history(registry, model, extras.PREDICTION, reference.sha256)
        if champion is not None and model.drift.prediction_drift
        else (),
        multivariate_breaches=extra_history(registry, model, extras.MULTIVARIATE, reference.sha256)
        if model.drift.multivariate
        else (),
        performance=extra.performance,
        estimated=extra.estimated,
        unpaid=unpaid,
        last_training=_parse_time(last_training) if last_training else None,
    )
    inputs = policy.PolicyInputs(
        model.drift.hysteresis_k, model.drift.hysteresis_n, model.policy, now, data.window
    )
    retrain = policy.should_retrain(history, inputs)
    if not retrain.retrain:
        return CycleResult(run_id, model.name, run_status, report, retrain.reason)
    if stop is not None and stop.is_set():
        return CycleResult(run_id, model.name, "interrupted", report, retrain.reason)

    event("retrain", model=model.name, run=run_id, reason=retrain.reason)
    # After a collapse of realised performance, judge candidates on the newest labelled rows.
    recent = model.promotion.recovery and _collapsed(retrain.trigger, extra.performance)
    split = training_data(model, now, champion is None, reference.frame, recent=recent)
    status(f"training {model.name}")
    trained = train(cfg, model, registry, run_id, split.train, features, split.holdout)
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
    evaluation, metrics = evaluate_candidate(model, champion, trained, split.holdout, features)
    version_id = registry.add_version(
        model.name,
        trained,
        run_id=run_id,
        parent_id=champion["version_id"] if champion else None,
        reference_sha256=reference.sha256,
        spec=spec(model, retrain.trigger, now, split, trained=trained),
        metrics=metrics,
    )
    if evaluation is not None and champion is not None:
        registry.record_evaluation(
            run_id, model.name, champion["version_id"], version_id, evaluation
        )
    decision = policy.decide_promotion(evaluation, model.promotion)
    if decision.action is Action.PROMOTE and model.promotion.refit:
        status(f"refitting {model.name}")
    version_id, decision = record_decision(
        cfg,
        model,
        registry,
        run_id,
        now,
        retrain.trigger,
        reference.sha256,
        split,
        features,
        Candidate(version_id, trained, metrics),
        decision,
        {
            "trigger": retrain.trigger,
            "retrain_reason": retrain.reason,
            "evaluation": evaluation.to_dict() if evaluation else None,
            "split": split.mode,
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
    if decision.action.moves_pointer:
        # Committed: now CHAMPION.json, then promotion.on_champion_change (never raises).
        after_commit(cfg, model.name, registry)
    return CycleResult(
        run_id, model.name, run_status, report, retrain.reason, version_id, evaluation, decision
    )


# A collapse, not a dip: on seasonal flights data (weekly checks) the recent split after every
# drop beyond performance_drop trained on days of rows and lost the whole gain of retraining
# (-3 % of it, 41 % of steps training); at twice the drop it keeps the label break's recovery.
# The drop is the threshold in effect (cycle.checks.realised_spread): where the champion's
# metric normally moves more than performance_drop, a collapse must be twice that movement,
# which on flights (learnt 0.09-0.17 ROC AUC) left no recent split after the first checks.
COLLAPSE = 2.0


def _collapsed(trigger: str, performance: policy.Performance | None) -> bool:
    """Whether realised performance fell at least ``COLLAPSE`` times the threshold in effect."""
    if trigger != "performance" or performance is None or performance.drop is None:
        return False
    return performance.drop >= COLLAPSE * performance.max_drop


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _thin_window(
    model: ModelConfig, live: pd.DataFrame, now: datetime, *, n_ref: int
) -> DriftReport | None:
    """The ``insufficient_data`` report when the live rows cover less than ``data.min_coverage``
    of the window's span (by their own cadence, :func:`driftd.sources.coverage`), else None."""
    data, drift = model.data, model.drift
    covered = sources.coverage(live[data.timestamp], now - data.window, now)
    if covered.share is None or covered.share >= data.min_coverage:
        return None
    reason = (
        f"insufficient data: {covered.describe()} (data.min_coverage {data.min_coverage:g}); "
        "not judged"
    )
    return DriftReport(
        verdict=Verdict.INSUFFICIENT,
        features=(),
        drifted_share=0.0,
        share_threshold=drift.share,
        correction=drift.correction,
        alpha=drift.alpha,
        n_ref=n_ref,
        n_live=len(live),
        reason=reason,
    )
