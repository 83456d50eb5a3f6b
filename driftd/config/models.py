"""The validated configuration: frozen dataclasses whose defaults come from the key table.

A field's default is ``default("<key path>")`` (see keys.py), so the dataclass, the loader and
the README cannot disagree; tables (``params``, ``guardrails``, ``headers``) get a fresh copy each.
"""

# The defaults are calls into the key table, evaluated once on purpose: each returns an
# immutable value (tables get a factory through _fresh).
# ruff: noqa: RUF009

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from driftd.config.keys import default
from driftd.config.spec import (
    Baseline,
    Correction,
    Decision,
    Engine,
    Executor,
    LogLevel,
    NotifyEvent,
    NotifyFormat,
    PromotionMode,
    Resample,
)
from driftd.errors import ConfigError


def _fresh(path: str) -> Any:
    """A field whose default is a mutable table: each instance gets its own copy."""
    return field(default_factory=lambda: default(path))


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A CSV/Parquet path or glob, or ``sqlite:///file.db`` with a query."""

    path: str
    query: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.path.startswith("sqlite:///")


@dataclass(frozen=True, slots=True)
class Schedule:
    every: timedelta | None = default("models.every")
    cron: str | None = default("models.cron")
    misfire_grace: timedelta = default("models.misfire_grace")
    jitter: timedelta | None = default("models.jitter")


@dataclass(frozen=True, slots=True)
class DataConfig:
    reference: SourceConfig
    live: SourceConfig
    timestamp: str
    target: str
    window: timedelta
    features: tuple[str, ...] | None = default("models.data.features")
    categorical: tuple[str, ...] = default("models.data.categorical")
    labelled: SourceConfig | None = default("models.data.labelled")  # defaults to ``live``
    # Labels arrive this long after their row's timestamp.
    label_delay: timedelta = default("models.data.label_delay")
    # A live window whose rows cover less of its span (by their own cadence) is not judged.
    min_coverage: float = default("models.data.min_coverage")
    engine: Engine = default("models.data.engine")


def _drift(name: str) -> Any:
    return default(f"models.drift.{name}")


@dataclass(frozen=True, slots=True)
class DriftConfig:
    alpha: float = _drift("alpha")
    correction: Correction = _drift("correction")
    share: float = _drift("share")
    numeric_test: str = _drift("numeric_test")
    numeric_effect: str = _drift("numeric_effect")
    numeric_threshold: float | str = _drift("numeric_threshold")
    categorical_test: str = _drift("categorical_test")
    categorical_effect: str = _drift("categorical_effect")
    categorical_threshold: float | str = _drift("categorical_threshold")
    missing_threshold: float = _drift("missing_threshold")
    min_samples: int = _drift("min_samples")
    auto_quantile: float = _drift("auto_quantile")
    hysteresis_k: int = _drift("hysteresis_k")
    hysteresis_n: int = _drift("hysteresis_n")
    prediction_drift: bool = _drift("prediction_drift")
    multivariate: bool = _drift("multivariate")
    multivariate_auc: float = _drift("multivariate_auc")
    multivariate_max_rows: int = _drift("multivariate_max_rows")
    decision: Decision = _drift("decision")
    dependence: bool = _drift("dependence")  # deflate p-values by the rows' autocorrelation
    baseline: Baseline = _drift("baseline")
    background_windows: int = _drift("background_windows")  # past windows, at most
    background_min_windows: int = _drift("background_min_windows")  # fewer: fixed thresholds
    background_quantile: float = _drift("background_quantile")
    seasonal_period: timedelta | None = _drift("seasonal_period")  # same span, a period earlier
    importance: bool = _drift("importance")  # weigh features by the champion's importance
    min_importance: float = _drift("min_importance")  # a smaller share counts as ignored


def _training(name: str) -> Any:
    return default(f"models.training.{name}")


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    estimator: str = _training("estimator")
    params: Mapping[str, Any] = _fresh("models.training.params")
    window: timedelta = _training("window")
    timeout: timedelta = _training("timeout")
    seed: int = _training("seed")
    memory_mb: int | None = _training("memory_mb")
    allow_pickle: bool = _training("allow_pickle")
    trusted_types: tuple[str, ...] = _training("trusted_types")
    # Exactly one way to train: ``estimator`` (the default), ``entrypoint`` or ``command``.
    entrypoint: str | None = _training("entrypoint")  # "package.module:function"
    command: tuple[str, ...] | None = _training("command")  # argv with {train} and {model}
    cpu_seconds: int | None = _training("cpu_seconds")
    executor: Executor = _training("executor")

    @property
    def way(self) -> str:
        """``estimator``, ``entrypoint`` or ``command``."""
        if self.entrypoint is not None:
            return "entrypoint"
        return "command" if self.command is not None else "estimator"


def _promotion(name: str) -> Any:
    return default(f"models.promotion.{name}")


@dataclass(frozen=True, slots=True)
class PromotionConfig:
    scorer: str = _promotion("scorer")
    min_improvement: float = _promotion("min_improvement")
    holdout: timedelta = _promotion("holdout")
    min_holdout: int = _promotion("min_holdout")
    confidence: float = _promotion("confidence")
    bootstrap: int = _promotion("bootstrap")
    # rows: resample holdout rows; days: whole days (README "Resampling days, not rows").
    resample: Resample = _promotion("resample")
    mode: PromotionMode = _promotion("mode")
    # metric name -> how much worse the candidate may be (non-inferiority margin)
    guardrails: Mapping[str, float] = _fresh("models.promotion.guardrails")
    # After a win, train the live artifact again on training window + holdout (same spec, seed).
    refit: bool = _promotion("refit")
    # After a `performance` trigger, train and hold out on the newest labelled rows only.
    recovery: bool = _promotion("recovery")
    on_champion_change: tuple[str, ...] | None = _promotion("on_champion_change")
    hook_timeout: timedelta = _promotion("hook_timeout")


def _policy(name: str) -> Any:
    return default(f"models.policy.{name}")


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    cooldown: timedelta = _policy("cooldown")
    max_retrains_per_day: int = _policy("max_retrains_per_day")
    max_age: timedelta | None = _policy("max_age")
    # Absolute drop of promotion.scorer on labelled live rows; None (`false` in TOML) = off.
    performance_drop: float | None = _policy("performance_drop")
    # Estimated (label-free) drop of the primary metric: accuracy, absolute; MAE, relative rise.
    # None (`false` in TOML) = reported but never a trigger.
    estimated_drop: float | None = _policy("estimated_drop")
    # `driftd gc` keeps this many newest versions of the model whatever their status.
    keep_versions: int = _policy("keep_versions")
    # After n evaluated candidates in a row that lost, wait 2**n live windows (at most 32).
    backoff: bool = _policy("backoff")


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """One notification target: a ``command`` (argv, the event as JSON on stdin) or a ``url``."""

    events: tuple[NotifyEvent, ...] = default("notify.events")
    command: tuple[str, ...] | None = default("notify.command")
    url: str | None = default("notify.url")
    format: NotifyFormat = default("notify.format")
    timeout: timedelta = default("notify.timeout")
    retries: int = default("notify.retries")
    # Values "env:NAME" / "credential:NAME" are looked up at send time, never stored.
    headers: Mapping[str, str] = _fresh("notify.headers")


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    textfile: Path | None = default("metrics.textfile")  # node_exporter textfile output (*.prom)
    listen: tuple[str, int] | None = default("metrics.listen")  # (host, port) of /metrics
    max_features: int = default("metrics.max_features")  # feature-labelled series per model


@dataclass(frozen=True, slots=True)
class ReportConfig:
    dir: Path | None = default("report.dir")  # the daemon writes <dir>/<model>.html after checks


@dataclass(frozen=True, slots=True)
class DaskConfig:
    scheduler: str = default("dask.scheduler")  # threads, processes or tcp://host:port


def default_workers() -> int:
    """4 x the CPUs this process may run on, from 4 to 32 (see :mod:`driftd.workqueue`).

    Not one per model: 200 models had 400 threads and 1.0 GB of RSS. A check spends much of its
    time waiting (a training child, fsync, a file being read), so a few per core keep the cores
    busy; at least 4, so that a few slow trainings cannot hold every check back.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(4, min(32, 4 * (cpus or 1)))


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    workers: int = field(default_factory=default_workers)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    name: str
    schedule: Schedule
    data: DataConfig
    drift: DriftConfig
    training: TrainingConfig
    promotion: PromotionConfig
    policy: PolicyConfig
    notify: tuple[NotifyConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    registry: Path
    artifacts: Path
    models: tuple[ModelConfig, ...]
    log_level: LogLevel = default("log_level")
    group: str | None = default("group")
    source: str = ""  # the file it was read from, for error messages
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    notify: tuple[NotifyConfig, ...] = ()
    dask: DaskConfig = field(default_factory=DaskConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)

    def model(self, name: str) -> ModelConfig:
        for m in self.models:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.models)
        raise ConfigError([f"models: no model named {name!r} (known: {known})"], self.source)
