"""Every key of the config file, in reading order: the one table validation and docs come from.

A row is ``Key(path, type, default, doc, ...)``; see :class:`driftd.config.spec.Key`. The README's
configuration reference has one row per key with the same type and default (tests check it).

>>> KEYS["models.drift.alpha"].cell
'`0.05`'
>>> default("models.policy.cooldown")
datetime.timedelta(seconds=3600)
>>> names("dask")
('scheduler',)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from driftd.config.spec import (
    BASELINES,
    CORRECTIONS,
    DECISIONS,
    DERIVED,
    ENGINES,
    EXECUTORS,
    LOG_LEVELS,
    NOTIFY_EVENTS,
    NOTIFY_FORMATS,
    PROMOTION_MODES,
    REQUIRED,
    RESAMPLES,
    Key,
)

# data.min_coverage. Complete windows of randomly timed events measured >= 0.94 (50+ rows per
# window) while an hourly source read mid-day, before its daily batch, measures about 0.5:
# see the README ("Half-covered windows").
DEFAULT_MIN_COVERAGE = 0.8

K = Key


def _under(table: str, *keys: Key) -> tuple[Key, ...]:
    """The keys of one table, written by their names within it."""
    return tuple(replace(k, path=f"{table}.{k.path}") for k in keys)


STR, INT, FLOAT, BOOL, DUR, LIST = (
    "string",
    "integer",
    "float",
    "boolean",
    "duration",
    "list of strings",
)

TOP = (
    K("registry", "path", REQUIRED, "The SQLite registry (WAL mode); one daemon per registry."),
    K(
        "artifacts",
        "path",
        DERIVED,
        "Directory for model artifacts and their training data.",
        shown="`artifacts/` beside `registry`",
    ),
    K("log_level", STR, "info", "Logging threshold; --log-level overrides it.", choices=LOG_LEVELS),
    K("group", STR, None, "Group that may read what driftd writes (files 0640, dirs 0750)."),
)

SCHEDULE = _under(
    "models",
    K("name", STR, REQUIRED, "The model's name in the registry and under artifacts."),
    K("every", DUR, None, "Run a check at this interval (exactly one of every, cron)."),
    K("cron", STR, None, "A 5-field crontab in UTC, weekdays by name."),
    K("misfire_grace", DUR, "5m", "A run at most this late still starts; else skipped."),
    K("jitter", DUR, None, "Only with every: a random delay of up to this long per run."),
)

DATA = _under(
    "models.data",
    K("reference", "source", REQUIRED, "The reference data the live window is compared with."),
    K("live", "source", REQUIRED, "The live rows, each with a timestamp."),
    K("timestamp", STR, REQUIRED, "Name of the timestamp column."),
    K("target", STR, REQUIRED, "Name of the label column; never a feature."),
    K("window", DUR, REQUIRED, "The live window: rows in (now - window, now]."),
    K(
        "features",
        LIST,
        None,
        "The columns to monitor and train on.",
        shown="every column except `timestamp` and `target`",
    ),
    K("categorical", LIST, [], "Columns to treat as categorical even if numeric."),
    K("labelled", "source", None, "Where labelled rows are read for training.", shown="`live`"),
    K("label_delay", DUR, 0, "How long after its row a label arrives.", shown="`0` (unset)"),
    K(
        "min_coverage",
        FLOAT,
        DEFAULT_MIN_COVERAGE,
        "A live window covering less of its span is not judged; 0 turns the rule off.",
        lo=0,
        hi=1,
    ),
    K("engine", STR, "pandas", "What reads the sources.", choices=ENGINES),
)

DRIFT = _under(
    "models.drift",
    K(
        "alpha",
        FLOAT,
        0.05,
        "Significance level after the correction.",
        lo=0,
        hi=1,
        open_lo=True,
        open_hi=True,
    ),
    K("correction", STR, "bh", "Multiple-testing correction across features.", choices=CORRECTIONS),
    K(
        "share",
        FLOAT,
        0.25,
        "With decision = share: the share of drifted features.",
        lo=0,
        hi=1,
        open_lo=True,
    ),
    K("numeric_test", STR, "ks", "Significance test for numeric features."),
    K("numeric_effect", STR, "wasserstein", "Effect size for numeric features."),
    K(
        "numeric_threshold",
        'float or `"auto"`',
        0.05,
        "The numeric effect size that counts as material; >= 0.",
    ),
    K("categorical_test", STR, "chi2", "Significance test for categorical features."),
    K("categorical_effect", STR, "jensen_shannon", "Effect size for categorical features."),
    K(
        "categorical_threshold",
        'float or `"auto"`',
        0.05,
        "The categorical effect size that counts as material; >= 0.",
    ),
    K("missing_threshold", FLOAT, 0.05, "A missing-rate change that counts as drift.", lo=0, hi=1),
    K("min_samples", INT, 30, "Fewer usable values: insufficient_data.", lo=1),
    K(
        "auto_quantile",
        FLOAT,
        0.99,
        "The resampled quantile an auto threshold takes.",
        lo=0.5,
        hi=1,
        open_hi=True,
    ),
    K("hysteresis_k", INT, 2, "Retrain after K breaching checks of the last N.", lo=1),
    K("hysteresis_n", INT, 3, "The N of K-of-N.", lo=1),
    K("prediction_drift", BOOL, True, "Also test the champion's outputs."),
    K("multivariate", BOOL, False, "Also run the classifier two-sample check."),
    K(
        "multivariate_auc",
        FLOAT,
        0.55,
        "The held-out AUC that is material.",
        lo=0.5,
        hi=1,
        open_lo=True,
        open_hi=True,
    ),
    K("multivariate_max_rows", INT, 20000, "Rows drawn per side for it.", lo=100),
    K("decision", STR, "combined", "How the dataset verdict is decided.", choices=DECISIONS),
    K("dependence", BOOL, True, "P-values at the effective size of correlated rows."),
    K("baseline", STR, "background", "Where materiality thresholds come from.", choices=BASELINES),
    K("background_windows", INT, 30, "Past windows to learn variation from.", lo=2),
    K("background_min_windows", INT, 8, "Fewer: fixed thresholds.", lo=2),
    K("background_quantile", FLOAT, 0.95, "Quantile of past effects: the threshold.", lo=0.5, hi=1),
    K("seasonal_period", DUR, None, "Compare with the span one period earlier."),
    K("importance", BOOL, True, "Weigh features by the champion's importances."),
    K(
        "min_importance",
        FLOAT,
        0.01,
        "A smaller share of importance weighs nothing.",
        lo=0,
        hi=1,
        open_hi=True,
    ),
)

TRAINING = _under(
    "models.training",
    K(
        "estimator",
        STR,
        "sklearn.linear_model.LogisticRegression",
        "Dotted path of a scikit-learn estimator class.",
    ),
    K("params", "table", {}, "Keyword arguments for the estimator."),
    K("window", DUR, "7d", "Candidates train on the labelled rows of this span."),
    K("timeout", DUR, "10m", "The training child is killed after this long."),
    K("seed", INT, 0, "Seed for the estimator and any resampling.", lo=0),
    K("memory_mb", INT, None, "Memory cap of the training child, MiB.", lo=1),
    K("allow_pickle", BOOL, False, "Allow pickle where skops cannot save."),
    K("trusted_types", LIST, [], "Extra types skops may load."),
    K("entrypoint", STR, None, 'Instead of estimator: "package.module:function".'),
    K("command", LIST, None, "Instead of estimator: argv with {train}, {model}."),
    K("cpu_seconds", INT, None, "CPU-time limit of the training child.", lo=1),
    K("executor", STR, "process", "Where a candidate is trained.", choices=EXECUTORS),
)

PROMOTION = _under(
    "models.promotion",
    K("scorer", STR, "roc_auc", "The primary metric: a scikit-learn scorer."),
    K("min_improvement", FLOAT, 0.0, "The margin the lower bound must exceed.", lo=-1e9, hi=1e9),
    K("holdout", DUR, "1d", "The holdout: labelled rows of this span."),
    K("min_holdout", INT, 200, "Fewer holdout rows: inconclusive.", lo=1),
    K(
        "confidence",
        FLOAT,
        0.95,
        "Confidence level of the paired intervals.",
        lo=0.5,
        hi=1,
        open_hi=True,
    ),
    K("bootstrap", INT, 1000, "Paired bootstrap resamples per interval.", lo=100),
    K("resample", STR, "rows", "What the paired bootstrap draws: rows or days.", choices=RESAMPLES),
    K(
        "mode",
        STR,
        "auto",
        "Promote, record would_promote, or await approval.",
        choices=PROMOTION_MODES,
    ),
    K("guardrails", "table", {}, "metric = how much worse the candidate may be."),
    K("refit", BOOL, True, "Refit the winner on training rows plus holdout."),
    K("recovery", BOOL, True, "After a performance collapse, newest rows only."),
    K("on_champion_change", LIST, None, "argv run after promotion/rollback."),
    K("hook_timeout", DUR, "30s", "The hook is killed after this long."),
)

POLICY = _under(
    "models.policy",
    K("cooldown", DUR, "1h", "No retrain within this long of the previous one."),
    K("max_retrains_per_day", INT, 4, "At most this many retrains a day.", lo=1),
    K("max_age", DUR, None, "Retrain a champion older than this."),
    K(
        "performance_drop",
        "float or `false`",
        0.05,
        "Retrain on this realised drop of the scorer; false: off.",
        lo=0,
        hi=1,
        open_lo=True,
    ),
    K(
        "estimated_drop",
        "float or `false`",
        0.05,
        "Retrain on this estimated drop; false: reported only.",
        lo=0,
        hi=1,
        open_lo=True,
    ),
    K("keep_versions", INT, 5, "driftd gc keeps this many newest versions.", lo=0),
    K("backoff", BOOL, True, "After n lost candidates, wait 2**n windows."),
)


def _notify(table: str) -> tuple[Key, ...]:
    return _under(
        table,
        K(
            "events",
            LIST,
            list(NOTIFY_EVENTS),
            "The events sent to this target.",
            choices=NOTIFY_EVENTS,
            shown="every event",
        ),
        K("command", LIST, None, "A program run per event (argv; event JSON on stdin)."),
        K("url", STR, None, "An http(s) URL the event is POSTed to."),
        K("format", STR, "json", "The event document's shape.", choices=NOTIFY_FORMATS),
        K("timeout", DUR, "10s", "One attempt is abandoned after this long."),
        K("retries", INT, 3, "Attempts after the first failure.", lo=0, hi=10),
        K("headers", "table", {}, 'HTTP headers; "env:NAME" / "credential:NAME" values.'),
    )


SERVICES = (
    K("metrics.textfile", "path", None, "Write metrics here after each check (*.prom)."),
    K("metrics.listen", STR, None, 'Serve /metrics on this "host:port".'),
    K("metrics.max_features", INT, 100, "Feature-labelled series per model, at most.", lo=0),
    K("report.dir", "path", None, "Write <dir>/<model>.html after each check."),
    K("dask.scheduler", STR, "threads", 'threads, processes or "tcp://host:port".'),
    K(
        "daemon.workers",
        INT,
        DERIVED,
        "Checks of different models run at once.",
        lo=1,
        shown="4 * CPUs, from 4 to 32",
    ),
)

ALL = (
    TOP
    + SERVICES
    + _notify("notify")
    + SCHEDULE
    + DATA
    + DRIFT
    + TRAINING
    + PROMOTION
    + POLICY
    + _notify("models.notify")
)


def _index() -> dict[str, Key]:
    index: dict[str, Key] = {}
    for key in ALL:
        assert key.path not in index, f"{key.path} is listed twice"
        index[key.path] = key
    return index


KEYS: dict[str, Key] = _index()


def default(path: str) -> Any:
    """The loaded default of the key at ``path`` (the dataclasses' field defaults)."""
    return KEYS[path].loaded


def names(table: str) -> tuple[str, ...]:
    """The keys of one table (``""`` for the top level), in reading order."""
    return tuple(k.name for k in KEYS.values() if k.table == table)


def tables() -> tuple[str, ...]:
    """Every table path that holds keys, the top level (``""``) first."""
    return tuple(dict.fromkeys(k.table for k in KEYS.values()))
