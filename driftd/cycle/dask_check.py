"""A daemon cycle's check with ``data.engine = "dask"``: the live window counted on the cluster.

The reference is read and summarised in this process, as on the in-memory engine (once per
reference, cached); the live source (a Parquet directory or glob) is cut to the window and
counted partition by partition on ``dask.scheduler``; the report is recorded by this process,
the registry's only writer; the rest of the cycle (triggers, training, promotion) is
:func:`driftd.cycle.flow.act`, the same as on the in-memory engine.

What needs the live rows themselves is not done here, and each says so in the report's
baseline or reason: thresholds from normal variation (past windows), the extra checks
(prediction drift, multivariate, realised performance), the live side's autocorrelation, the
window-coverage check, and the per-feature plots of ``driftd report``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from driftd import detect, extras, sources
from driftd.config import Config, ModelConfig
from driftd.cycle.baseline import time_ordered
from driftd.cycle.cache import SummaryCache
from driftd.cycle.data import Reference, features_of
from driftd.cycle.flow import Checked
from driftd.cycle.impact import champion_weights
from driftd.cycle.result import CycleResult
from driftd.dask import engine
from driftd.dask import reference as dask_reference
from driftd.domain import Verdict
from driftd.log import event
from driftd.registry.store import Registry

BASELINE = "fixed thresholds (data.engine dask: normal variation needs past windows' rows)"
SKIPPED = "; not on data.engine dask: {}"


def check(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    now: datetime,
    run_id: int,
    cache: SummaryCache,
    champion: dict[str, Any] | None,
    reference: Reference,
) -> Checked | CycleResult:
    """Check the live window, record the check; what :func:`driftd.cycle.flow.act` continues
    from, or the failed run's result when the window is invalid."""
    data = model.data
    features = features_of(model, reference.frame)
    where = f"reference {reference.origin}"
    sources.check_features(reference.frame, features, data.categorical, where)
    dask_reference.require_binnable(model.drift, f"model {model.name}")
    kinds = detect.infer_kinds(reference.frame[features], data.categorical)
    ordered = model.drift.dependence and data.timestamp in reference.frame.columns

    def summarize() -> detect.ReferenceSummary:
        timed = time_ordered(reference.frame, data.timestamp) if ordered else None
        frame = timed if timed is not None else reference.frame
        return dask_reference.summarize(
            frame[features], kinds, reference.sha256, ordered=timed is not None
        )

    summary = cache.get(f"dask:{reference.sha256}:{kinds}:{ordered}", summarize)
    counted = engine.count_window(
        data.live.path,
        summary,
        scheduler=cfg.dask.scheduler,
        timestamp=data.timestamp,
        start=now - data.window,
        end=now,
    )
    report = detect.detect(
        summary,
        counted,
        model.drift,
        seed=run_id,
        weights=champion_weights(model, champion, registry, features),
    )
    skipped = _skipped(model, champion)
    report = replace(report, baseline=BASELINE, reason=report.reason + skipped)
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
        engine="dask",
    )
    if report.verdict is Verdict.INVALID and champion is not None:
        return CycleResult(run_id, model.name, "failed", report, error=report.reason)
    run_status = "drift" if breached else "ok"
    return Checked(champion, reference, features, report, extras.Outcome(), run_status)


def _skipped(model: ModelConfig, champion: dict[str, Any] | None) -> str:
    """The reason line's tail naming what the config asks for that needs the live rows."""
    drift = model.drift
    asked = [
        ("prediction drift", drift.prediction_drift and champion is not None),
        ("multivariate", drift.multivariate),
        ("normal-variation thresholds", drift.baseline != "fixed"),
        ("realised performance", model.policy.performance_drop is not None),
    ]
    names = [name for name, on in asked if on]
    return SKIPPED.format(", ".join(names)) if names else ""
