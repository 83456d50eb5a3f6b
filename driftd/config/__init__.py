"""TOML -> frozen dataclasses. Every problem is collected and reported as ``key.path: why (got v)``.

Where things live:

- ``spec.py``: what a key is (:class:`Key`), and the typed enumerations (``Correction``, ...);
- ``keys.py``: the table of every key: type, default, range or choices, one-line doc;
- ``models.py``: the dataclasses (:class:`Config`, :class:`ModelConfig`, ...), defaults from keys;
- ``reader.py``: reading one TOML table by the key table, collecting problems;
- ``validate.py``: :func:`parse`, the rules across keys, :class:`NameChecks`;
- ``services.py``: ``[metrics]``, ``[report]``, ``[[notify]]``, ``[dask]``, ``[daemon]``;
- ``cron.py``: crontab checks; ``read.py``: :func:`load` and :func:`resolve_config_path`.

Names that need a heavy import to check (estimator classes, scorer names) are checked by
callables passed in by the caller, so that ``driftd status`` loads the config without importing
scikit-learn.
"""

from __future__ import annotations

from driftd.config.keys import DEFAULT_MIN_COVERAGE, KEYS, default
from driftd.config.models import (
    Config,
    DaemonConfig,
    DaskConfig,
    DataConfig,
    DriftConfig,
    MetricsConfig,
    ModelConfig,
    NotifyConfig,
    PolicyConfig,
    PromotionConfig,
    ReportConfig,
    Schedule,
    SourceConfig,
    TrainingConfig,
    default_workers,
)
from driftd.config.read import DEFAULT_CONFIG_PATH, load, resolve_config_path
from driftd.config.spec import (
    ARRAY_TABLES,
    BASELINES,
    CORRECTIONS,
    DASK_SCHEDULERS,
    DECISIONS,
    ENGINES,
    EXECUTORS,
    LOG_LEVELS,
    NOTIFY_EVENTS,
    NOTIFY_FORMATS,
    PROMOTION_MODES,
    RESAMPLES,
    Baseline,
    Correction,
    Decision,
    Engine,
    Executor,
    Key,
    LogLevel,
    NotifyEvent,
    NotifyFormat,
    PromotionMode,
)
from driftd.config.validate import TEST_KEYS, NameCheck, NameChecks, TestCheck, parse
from driftd.errors import ConfigError  # raised by load and parse; importable from here as before

__all__ = [
    "ARRAY_TABLES",
    "BASELINES",
    "CORRECTIONS",
    "DASK_SCHEDULERS",
    "DECISIONS",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_MIN_COVERAGE",
    "ENGINES",
    "EXECUTORS",
    "KEYS",
    "LOG_LEVELS",
    "NOTIFY_EVENTS",
    "NOTIFY_FORMATS",
    "PROMOTION_MODES",
    "RESAMPLES",
    "TEST_KEYS",
    "Baseline",
    "Config",
    "ConfigError",
    "Correction",
    "DaemonConfig",
    "DaskConfig",
    "DataConfig",
    "Decision",
    "DriftConfig",
    "Engine",
    "Executor",
    "Key",
    "LogLevel",
    "MetricsConfig",
    "ModelConfig",
    "NameCheck",
    "NameChecks",
    "NotifyConfig",
    "NotifyEvent",
    "NotifyFormat",
    "PolicyConfig",
    "PromotionConfig",
    "PromotionMode",
    "ReportConfig",
    "Schedule",
    "SourceConfig",
    "TestCheck",
    "TrainingConfig",
    "default",
    "default_workers",
    "load",
    "parse",
    "resolve_config_path",
]
