"""The metric families, built fresh from the registry at every collection (scrape or write).

A custom :class:`prometheus_client.registry.Collector` rather than gauges set after each cycle:
the registry is the one source of truth, so ``driftd metrics``, the textfile and the HTTP
endpoint show the same numbers whoever wrote them (the daemon, ``driftd check``, a
``driftd promote`` from the command line), and a daemon restart loses nothing.

Names follow Prometheus' conventions: the ``driftd_`` prefix, base units (seconds, ratios),
``_total`` for counters, ``_timestamp_seconds`` for Unix times. Per-feature series exist only for
monitored features of each model's newest check, at most ``max_features`` of them per model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftd import __version__
from driftd.errors import DriftdError
from driftd.log import event
from driftd.metrics.queries import PROMOTIONS, ModelState, Snapshot, snapshot
from driftd.registry.schema import VERDICTS

FEATURE_STATES = ("ok", "drift", "insufficient_data", "invalid")


class RegistryCollector(Collector):
    """Collects the registry at ``path`` on every ``collect()``; never writes to it."""

    def __init__(self, path: Path, max_features: int) -> None:
        self.path = Path(path)
        self.max_features = max_features

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily(
            "driftd_build_info", "The driftd version serving these metrics.", labels=["version"]
        )
        build.add_metric([__version__], 1.0)
        yield build
        readable = GaugeMetricFamily(
            "driftd_registry_readable",
            "1 when the registry could be read for this collection, else 0 (see the log).",
        )
        try:
            state = snapshot(self.path, self.max_features)
        except DriftdError as exc:  # a scrape must still answer: say the registry is unreadable
            event("metrics.unreadable", logging.WARNING, error=str(exc).splitlines()[0])
            readable.add_metric([], 0.0)
            yield readable
            return
        readable.add_metric([], 1.0)
        yield readable
        yield from families(state)


def _gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=["model", *labels])


def _counter(name: str, doc: str, *labels: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=["model", *labels])


def families(state: Snapshot) -> Iterator[Metric]:
    """Every metric family of one snapshot (families without samples are still declared)."""
    yield from _daemon(state)
    yield from _checks(state.models)
    yield from _features(state.models)
    yield from _performance(state.models)
    yield from _runs(state.models)
    yield from _totals(state.models)
    yield from _champions(state.models)


def _daemon(state: Snapshot) -> Iterator[Metric]:
    beat = GaugeMetricFamily(
        "driftd_daemon_heartbeat_timestamp_seconds",
        "When the daemon last wrote its heartbeat (every 5 s while it runs).",
    )
    started = GaugeMetricFamily(
        "driftd_daemon_start_timestamp_seconds", "When the daemon that wrote the heartbeat started."
    )
    stopped = GaugeMetricFamily(
        "driftd_daemon_stopped", "1 when the last heartbeat is a clean stop's, else 0."
    )
    due = _gauge("driftd_next_check_timestamp_seconds", "When the daemon will next check a model.")
    if state.heartbeat is not None:
        beat.add_metric([], state.heartbeat.beat_at)
        started.add_metric([], state.heartbeat.started_at)
        stopped.add_metric([], float(state.heartbeat.state == "stopped"))
        for model, at in sorted(state.heartbeat.next_runs.items()):
            due.add_metric([model], at)
    yield from (beat, started, stopped, due)


def _checks(models: tuple[ModelState, ...]) -> Iterator[Metric]:
    verdict = _gauge(
        "driftd_dataset_verdict",
        "The newest check's dataset verdict: 1 for the verdict it reached, 0 for the others.",
        "verdict",
    )
    p_value = _gauge("driftd_dataset_p_value", "The newest check's combined dataset p-value.")
    share = _gauge(
        "driftd_dataset_drifted_features_ratio", "Share of monitored features that drifted."
    )
    share_limit = _gauge(
        "driftd_dataset_drifted_features_threshold_ratio",
        "The share of drifted features that makes dataset drift (drift.share).",
    )
    monitored = _gauge(
        "driftd_features_monitored", "Monitored features in the newest check (before the cap)."
    )
    drifted = _gauge("driftd_features_drifted", "Monitored features that drifted (before the cap).")
    omitted = _gauge(
        "driftd_features_omitted",
        "Monitored features left out of the per-feature series by metrics.max_features.",
    )
    data_at = _gauge(
        "driftd_last_check_data_timestamp_seconds",
        "The data clock of the newest check: the end of its live window (`--now` in a replay).",
    )
    for m in models:
        c = m.check
        if c is None:
            continue
        for value in VERDICTS:
            verdict.add_metric([m.name, value], float(c.verdict == value))
        _add(p_value, [m.name], c.dataset_p)
        _add(share, [m.name], c.drifted_share)
        _add(share_limit, [m.name], c.share_threshold)
        monitored.add_metric([m.name], c.monitored)
        drifted.add_metric([m.name], c.drifted)
        omitted.add_metric([m.name], c.omitted)
        data_at.add_metric([m.name], c.data_at)
    yield from (verdict, p_value, share, share_limit, monitored, drifted, omitted, data_at)


def _features(models: tuple[ModelState, ...]) -> Iterator[Metric]:
    effect = _gauge(
        "driftd_feature_effect_size",
        "Per-feature effect size in the newest check (Wasserstein distance in reference SDs "
        "for numbers, Jensen-Shannon distance for categories; the test is in `effect`).",
        "feature",
        "effect",
    )
    threshold = _gauge(
        "driftd_feature_effect_threshold", "The effect size at which a feature drifts.", "feature"
    )
    p_value = _gauge("driftd_feature_p_value", "Per-feature test p-value (uncorrected).", "feature")
    p_adjusted = _gauge(
        "driftd_feature_p_value_adjusted",
        "Per-feature p-value after the correction across features (drift.correction).",
        "feature",
    )
    state = _gauge(
        "driftd_feature_state",
        "Per-feature state in the newest check: 1 for its state, 0 for the others.",
        "feature",
        "state",
    )
    for m in models:
        for f in m.check.features if m.check else ():
            _add(effect, [m.name, f.feature, f.effect_name], f.effect)
            _add(threshold, [m.name, f.feature], f.threshold)
            _add(p_value, [m.name, f.feature], f.p_value)
            _add(p_adjusted, [m.name, f.feature], f.p_adjusted)
            for value in FEATURE_STATES:
                state.add_metric([m.name, f.feature, value], float(f.state == value))
    yield from (effect, threshold, p_value, p_adjusted, state)


def _performance(models: tuple[ModelState, ...]) -> Iterator[Metric]:
    estimated = _gauge(
        "driftd_estimated_performance",
        "The champion's performance on the newest live window, estimated without labels.",
        "metric",
    )
    estimated_ref = _gauge(
        "driftd_estimated_performance_reference",
        "The champion's realised value of that metric on its holdout (what the estimate is "
        "compared with).",
        "metric",
    )
    realised = _gauge(
        "driftd_realised_performance",
        "The champion's performance on the newest labelled rows (promotion.scorer).",
        "metric",
    )
    drop = _gauge(
        "driftd_realised_performance_drop",
        "How far the realised performance fell below the champion's holdout value.",
        "metric",
    )
    drop_limit = _gauge(
        "driftd_realised_performance_drop_threshold",
        "The drop that triggers a retrain (policy.performance_drop).",
        "metric",
    )
    for m in models:
        for e in m.check.estimated if m.check else ():
            _add(estimated, [m.name, e.metric], e.value)
            _add(estimated_ref, [m.name, e.metric], e.reference)
        for r in m.check.realised if m.check else ():
            _add(realised, [m.name, r.metric], r.value)
            _add(drop, [m.name, r.metric], r.reference)
            _add(drop_limit, [m.name, r.metric], r.threshold)
    yield from (estimated, estimated_ref, realised, drop, drop_limit)


def _runs(models: tuple[ModelState, ...]) -> Iterator[Metric]:
    duration = _gauge(
        "driftd_last_check_duration_seconds",
        "Wall-clock duration of the newest finished cycle (check, and any training and "
        "evaluation it started).",
    )
    last = _gauge(
        "driftd_last_check_timestamp_seconds", "When the newest cycle ended, whatever its outcome."
    )
    success = _gauge(
        "driftd_last_success_timestamp_seconds",
        "When the newest cycle that completed (run status ok or drift, not failed) ended.",
    )
    for m in models:
        _add(duration, [m.name], m.run_seconds)
        _add(last, [m.name], m.last_run_at)
        _add(success, [m.name], m.last_success_at)
    yield from (duration, last, success)


def _totals(models: tuple[ModelState, ...]) -> Iterator[Metric]:
    runs = _counter("driftd_runs", "Cycles run, by outcome.", "status")
    verdicts = _counter("driftd_checks", "Checks recorded, by dataset verdict.", "verdict")
    trainings = _counter("driftd_trainings", "Candidate trainings, by outcome.", "status")
    decisions = _counter("driftd_decisions", "Decisions recorded, by action.", "action")
    promotions = _counter(
        "driftd_promotions", "Versions made champion (bootstrap, promote, manual_promote)."
    )
    rejections = _counter("driftd_rejections", "Candidates rejected on the evidence.")
    failures = _counter("driftd_failures", "Cycles that failed (see `driftd status`).")
    for m in models:
        for key, n in m.runs.items():
            runs.add_metric([m.name, key], n)
        for key, n in m.checks.items():
            verdicts.add_metric([m.name, key], n)
        for key, n in m.trainings.items():
            trainings.add_metric([m.name, key], n)
        for key, n in m.decisions.items():
            decisions.add_metric([m.name, key], n)
        promotions.add_metric([m.name], sum(m.decisions.get(a, 0) for a in PROMOTIONS))
        rejections.add_metric([m.name], m.decisions.get("reject", 0))
        failures.add_metric([m.name], m.runs.get("failed", 0))
    yield from (runs, verdicts, trainings, decisions, promotions, rejections, failures)


def _champions(models: tuple[ModelState, ...]) -> Iterator[Metric]:
    info = _gauge("driftd_champion_info", "The current champion (always 1).", "version")
    number = _gauge("driftd_champion_version_number", "The current champion's version number.")
    since = _gauge(
        "driftd_champion_since_timestamp_seconds",
        "When the current champion took over, on the runs' clock.",
    )
    age = _gauge(
        "driftd_champion_age_seconds",
        "The champion's age at the model's newest run, as `driftd status` and policy.max_age "
        "measure it.",
    )
    for m in models:
        if m.champion is None:
            continue
        info.add_metric([m.name, m.champion.version], 1.0)
        number.add_metric([m.name], m.champion.number)
        since.add_metric([m.name], m.champion.since)
        age.add_metric([m.name], m.champion.age)
    yield from (info, number, since, age)


def _add(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    """A sample, unless the value is unknown (absent is Prometheus' way to say so)."""
    if value is not None:
        family.add_metric(labels, float(value))
