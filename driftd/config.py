"""TOML -> frozen dataclasses. Every problem is collected and reported as ``key.path: why (got v)``.

Relative paths in the file are resolved against the directory holding the file, so a config and
its data can move together. Names that need a heavy import to check (estimator classes, scorer
names) are checked by callables passed in by the caller, so that ``driftd status`` loads the
config without importing scikit-learn.
"""

from __future__ import annotations

import calendar
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from driftd.durations import cron_problem, parse_duration
from driftd.errors import ConfigError
from driftd.filekind import describe

DEFAULT_CONFIG_PATH = "/etc/driftd/config.toml"
CORRECTIONS = ("bh", "bonferroni", "none")
PROMOTION_MODES = ("auto", "dry-run", "manual")
DECISIONS = ("combined", "share")  # drift.decision: how the dataset verdict is decided
BASELINES = ("background", "fixed")  # drift.baseline: where materiality thresholds come from
LOG_LEVELS = ("debug", "info", "warning", "error")
# data.min_coverage. Complete windows of randomly timed events measured >= 0.94 (50+ rows per
# window) while an hourly source read mid-day, before its daily batch, measures about 0.5:
# see the README ("Half-covered windows").
DEFAULT_MIN_COVERAGE = 0.8


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
    every: timedelta | None = None
    cron: str | None = None
    misfire_grace: timedelta = timedelta(minutes=5)
    jitter: timedelta | None = None


@dataclass(frozen=True, slots=True)
class DataConfig:
    reference: SourceConfig
    live: SourceConfig
    timestamp: str
    target: str
    window: timedelta
    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    labelled: SourceConfig | None = None  # defaults to ``live``
    label_delay: timedelta = timedelta(0)  # labels arrive this long after their row's timestamp
    # A live window whose rows cover less of its span (by their own cadence) is not judged.
    min_coverage: float = DEFAULT_MIN_COVERAGE


@dataclass(frozen=True, slots=True)
class DriftConfig:
    alpha: float = 0.05
    correction: str = "bh"
    share: float = 0.25
    numeric_test: str = "ks"
    numeric_effect: str = "wasserstein"
    numeric_threshold: float | str = 0.05
    categorical_test: str = "chi2"
    categorical_effect: str = "jensen_shannon"
    categorical_threshold: float | str = 0.05
    missing_threshold: float = 0.05
    min_samples: int = 30
    auto_quantile: float = 0.99
    hysteresis_k: int = 2
    hysteresis_n: int = 3
    prediction_drift: bool = True
    multivariate: bool = False
    multivariate_auc: float = 0.55
    multivariate_max_rows: int = 20_000
    decision: str = "combined"
    dependence: bool = True  # deflate p-values by the rows' autocorrelation
    baseline: str = "background"
    background_windows: int = 30  # past windows to learn normal variation from, at most
    background_min_windows: int = 8  # fewer: fixed thresholds, with a note
    background_quantile: float = 0.95
    seasonal_period: timedelta | None = None  # compare with the same span one period earlier
    importance: bool = True  # weigh features by the champion's permutation importance
    min_importance: float = 0.01  # a smaller share of the importance counts as ignored


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    estimator: str = "sklearn.linear_model.LogisticRegression"
    params: Mapping[str, Any] = field(default_factory=dict)
    window: timedelta = timedelta(days=7)
    timeout: timedelta = timedelta(minutes=10)
    seed: int = 0
    memory_mb: int | None = None
    allow_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    # Exactly one way to train: ``estimator`` (the default), ``entrypoint`` or ``command``.
    entrypoint: str | None = None  # "package.module:function"
    command: tuple[str, ...] | None = None  # argv with {train} and {model} placeholders
    cpu_seconds: int | None = None

    @property
    def way(self) -> str:
        """``estimator``, ``entrypoint`` or ``command``."""
        if self.entrypoint is not None:
            return "entrypoint"
        return "command" if self.command is not None else "estimator"


@dataclass(frozen=True, slots=True)
class PromotionConfig:
    scorer: str = "roc_auc"
    min_improvement: float = 0.0
    holdout: timedelta = timedelta(days=1)
    min_holdout: int = 200
    confidence: float = 0.95
    bootstrap: int = 1000
    mode: str = "auto"
    # metric name -> how much worse the candidate may be (non-inferiority margin)
    guardrails: Mapping[str, float] = field(default_factory=dict)
    # After a win, train the live artifact again on training window + holdout (same spec, seed).
    refit: bool = True
    # After a `performance` trigger, train and hold out on the newest labelled rows only.
    recovery: bool = True


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    cooldown: timedelta = timedelta(hours=1)
    max_retrains_per_day: int = 4
    max_age: timedelta | None = None
    # Absolute drop of promotion.scorer on labelled live rows; None (`false` in TOML) = off.
    performance_drop: float | None = 0.05
    # Estimated (label-free) drop of the primary metric: accuracy, absolute; MAE, relative rise.
    # None (`false` in TOML) = reported but never a trigger.
    estimated_drop: float | None = 0.05
    # `driftd gc` keeps this many newest versions of the model whatever their status.
    keep_versions: int = 5
    # After n evaluated candidates in a row that lost, wait 2**n live windows (at most 32).
    backoff: bool = True


@dataclass(frozen=True, slots=True)
class ModelConfig:
    name: str
    schedule: Schedule
    data: DataConfig
    drift: DriftConfig
    training: TrainingConfig
    promotion: PromotionConfig
    policy: PolicyConfig


@dataclass(frozen=True, slots=True)
class Config:
    registry: Path
    artifacts: Path
    models: tuple[ModelConfig, ...]
    log_level: str = "info"
    group: str | None = None
    source: str = ""

    def model(self, name: str) -> ModelConfig:
        for m in self.models:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.models)
        raise ConfigError([f"models: no model named {name!r} (known: {known})"], self.source)


NameCheck = Callable[[str], str | None]  # returns a problem, or None when the name is fine


# (test name, feature kind, role "test" or "effect") -> a problem, or None when it fits.
TestCheck = Callable[[str, str, str], str | None]

# The drift keys that name a test of the stats table: (key, feature kind, role).
TEST_KEYS = (
    ("numeric_test", "numeric", "test"),
    ("numeric_effect", "numeric", "effect"),
    ("categorical_test", "categorical", "test"),
    ("categorical_effect", "categorical", "effect"),
)


@dataclass(frozen=True, slots=True)
class NameChecks:
    """Checks that need heavy imports (scikit-learn, scipy), passed in by the caller."""

    estimator: NameCheck | None = None
    scorer: NameCheck | None = None
    test: TestCheck | None = None


def resolve_config_path(cli_value: str | None) -> Path:
    """``--config``, else ``$DRIFTD_CONFIG``, else /etc/driftd/config.toml."""
    return Path(cli_value or os.environ.get("DRIFTD_CONFIG") or DEFAULT_CONFIG_PATH)


def load(path: str | Path, checks: NameChecks | None = None) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(_read_regular(path))
    except FileNotFoundError:
        raise ConfigError(["file not found"], str(path)) from None
    except UnicodeDecodeError as exc:
        where = f"byte {exc.object[exc.start]:#04x} at offset {exc.start}"
        raise ConfigError([f"is not UTF-8 text ({where})"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror or exc}"], str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from None
    # Absolute, so that source paths (kept unresolved for globs) do not depend on the cwd.
    return parse(raw, base=path.absolute().parent, source=str(path), checks=checks)


def _read_regular(path: Path) -> str:
    # Non-blocking open, then fstat: a FIFO or a device is refused at once, where a plain read
    # would block `driftd validate` (or the daemon's SIGHUP reload) forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError([f"not a regular file (it is {describe(mode)})"], str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8")
    finally:
        os.close(fd)


def parse(
    raw: Mapping[str, Any],
    base: Path = Path("."),
    source: str = "",
    checks: NameChecks | None = None,
) -> Config:
    """Validate an already-decoded TOML document."""
    r = _Reader(raw, "", base)
    registry = r.path("registry", required=True)
    artifacts = r.path("artifacts", default=None)
    log_level = r.choice("log_level", LOG_LEVELS, default="info")
    group = r.string("group", default=None)
    models: list[ModelConfig] = []
    raw_models = r.take("models", default=None)
    if raw_models is None or raw_models == []:
        r.problem("models", "at least one [[models]] table is required", None, show=False)
    elif not isinstance(raw_models, list) or not all(isinstance(m, dict) for m in raw_models):
        r.problem("models", "must be an array of tables ([[models]])", raw_models)
    else:
        for i, m in enumerate(raw_models):
            model = _model(r.child(f"models[{i}]", m), checks or NameChecks())
            if model is not None:
                models.append(model)
        # From the raw tables: a duplicate is reported even when one copy has other problems.
        names = [m["name"] for m in raw_models if isinstance(m.get("name"), str)]
        for name in sorted({n for n in names if names.count(n) > 1}):
            r.problem("models", f"model name {name!r} is used more than once", None, show=False)
    r.finish()
    if r.problems:
        raise ConfigError(r.problems, source)
    assert registry is not None
    return Config(
        registry=registry,
        artifacts=artifacts or registry.parent / "artifacts",
        models=tuple(models),
        log_level=str(log_level),
        group=group,
        source=source,
    )


def _model(r: _Reader, checks: NameChecks) -> ModelConfig | None:
    name = r.string("name", required=True)
    if name is not None and not _is_identifier(name):
        r.problem("name", "must be letters, digits, '-', '_' or '.', not starting with '.'", name)
    every = r.duration("every", default=None)
    cron = r.string("cron", default=None)
    # Decided on the keys as written, so a malformed `every` is one problem, not two.
    if ("every" in r.table) == ("cron" in r.table):
        which = "both are set" if "every" in r.table else "neither is set"
        why = f'set exactly one of every = "15m" or cron = "..." ({which})'
        r.problem("every", why, None, show=False)
    if cron is not None:
        problem = _cron_problem(cron)
        if problem:
            r.problem("cron", problem, cron)
    jitter = r.duration("jitter", default=None)
    written = r.table.get("jitter")
    if jitter is not None and every is None and "cron" in r.table:
        r.problem("jitter", "only applies with every; cron runs are not jittered", written)
    elif jitter is not None and every is not None and jitter >= every:
        r.problem("jitter", "must be shorter than every", written)
    d = Schedule()
    schedule = Schedule(
        every=every,
        cron=cron,
        misfire_grace=r.duration("misfire_grace", default=d.misfire_grace) or d.misfire_grace,
        jitter=jitter,
    )
    data = _data(r.section("data", required=True))
    drift = _drift(r.section("drift"), checks)
    training = _training(r.section("training"), checks)
    promotion = _promotion(r.section("promotion"), checks)
    policy = _policy(r.section("policy"))
    r.finish()
    if data is None or name is None:
        return None
    return ModelConfig(name, schedule, data, drift, training, promotion, policy)


def _data(r: _Reader) -> DataConfig | None:
    reference = r.source("reference", required=True)
    live = r.source("live", required=True)
    labelled = r.source("labelled", required=False)
    timestamp = r.string("timestamp", required=True)
    target = r.string("target", required=True)
    window = r.duration("window", required=True)
    features = r.string_list("features", default=None)
    if features == []:
        r.problem("features", "must not be empty (leave it out to monitor every column)", [])
        features = None
    categorical = r.string_list("categorical", default=()) or ()
    label_delay = r.duration("label_delay", default=timedelta(0)) or timedelta(0)
    min_coverage = r.number("min_coverage", DEFAULT_MIN_COVERAGE, lo=0.0, hi=1.0)
    if features is not None and categorical:
        for c in categorical:
            if c not in features:
                r.problem("categorical", f"{c!r} is not in data.features", c)
    for col in (timestamp, target):
        if col is not None and features is not None and col in features:
            r.problem("features", f"{col!r} is the timestamp or target column", col)
    if timestamp is not None and timestamp == target:
        r.problem("target", "must differ from data.timestamp (one column cannot be both)", target)
    for c in categorical if features is None else ():
        if c in (timestamp, target):
            r.problem("categorical", f"{c!r} is the timestamp or target column", c)
    r.finish()
    if None in (reference, live, timestamp, target, window):
        return None
    assert reference and live and timestamp and target and window
    return DataConfig(
        reference=reference,
        live=live,
        timestamp=timestamp,
        target=target,
        window=window,
        features=tuple(features) if features is not None else None,
        categorical=tuple(categorical),
        labelled=labelled,
        label_delay=label_delay,
        min_coverage=min_coverage,
    )


def _drift(r: _Reader, checks: NameChecks) -> DriftConfig:
    d = DriftConfig()
    out = DriftConfig(
        alpha=r.number("alpha", d.alpha, lo=0.0, hi=1.0, open_lo=True, open_hi=True),
        correction=r.choice("correction", CORRECTIONS, default=d.correction),
        share=r.number("share", d.share, lo=0.0, hi=1.0, open_lo=True),
        numeric_test=r.string("numeric_test", default=d.numeric_test) or d.numeric_test,
        numeric_effect=r.string("numeric_effect", default=d.numeric_effect) or d.numeric_effect,
        numeric_threshold=r.threshold("numeric_threshold", d.numeric_threshold),
        categorical_test=r.string("categorical_test", default=d.categorical_test)
        or d.categorical_test,
        categorical_effect=r.string("categorical_effect", default=d.categorical_effect)
        or d.categorical_effect,
        categorical_threshold=r.threshold("categorical_threshold", d.categorical_threshold),
        missing_threshold=r.number("missing_threshold", d.missing_threshold, lo=0.0, hi=1.0),
        min_samples=r.integer("min_samples", d.min_samples, lo=1),
        auto_quantile=r.number("auto_quantile", d.auto_quantile, lo=0.5, hi=1.0, open_hi=True),
        hysteresis_k=r.integer("hysteresis_k", d.hysteresis_k, lo=1),
        hysteresis_n=r.integer("hysteresis_n", d.hysteresis_n, lo=1),
        prediction_drift=r.boolean("prediction_drift", d.prediction_drift),
        multivariate=r.boolean("multivariate", d.multivariate),
        multivariate_auc=r.number(
            "multivariate_auc", d.multivariate_auc, lo=0.5, hi=1.0, open_lo=True, open_hi=True
        ),
        multivariate_max_rows=r.integer("multivariate_max_rows", d.multivariate_max_rows, lo=100),
        decision=r.choice("decision", DECISIONS, default=d.decision),
        dependence=r.boolean("dependence", d.dependence),
        baseline=r.choice("baseline", BASELINES, default=d.baseline),
        background_windows=r.integer("background_windows", d.background_windows, lo=2),
        background_min_windows=r.integer("background_min_windows", d.background_min_windows, lo=2),
        background_quantile=r.number("background_quantile", d.background_quantile, lo=0.5, hi=1.0),
        seasonal_period=r.duration("seasonal_period", default=None),
        importance=r.boolean("importance", d.importance),
        min_importance=r.number("min_importance", d.min_importance, lo=0.0, hi=1.0, open_hi=True),
    )
    if out.hysteresis_k > out.hysteresis_n:
        r.problem("hysteresis_k", f"must be <= hysteresis_n ({out.hysteresis_n})", out.hysteresis_k)
    if out.background_min_windows > out.background_windows:
        why = f"must be <= background_windows ({out.background_windows})"
        r.problem("background_min_windows", why, out.background_min_windows)
    if checks.test is not None:
        for key, kind, role in TEST_KEYS:
            name = getattr(out, key)
            problem = checks.test(name, kind, role)
            if problem:
                r.problem(key, problem, name, show=False)
    r.finish()
    return out


def _training(r: _Reader, checks: NameChecks) -> TrainingConfig:
    d = TrainingConfig()
    ways = [k for k in ("estimator", "entrypoint", "command") if k in r.table]
    if len(ways) > 1:
        why = f"set at most one of estimator, entrypoint or command (got {', '.join(ways)})"
        r.problem(ways[1], why, None, show=False)
    estimator = r.string("estimator", default=d.estimator) or d.estimator
    # The default estimator is checked only when it is the way in use.
    if checks.estimator is not None and ("estimator" in r.table or not ways):
        problem = checks.estimator(estimator)
        if problem:
            r.problem("estimator", problem, estimator)
    entrypoint = r.string("entrypoint", default=None)
    if entrypoint is not None and not _ENTRYPOINT.fullmatch(entrypoint):
        r.problem("entrypoint", 'must look like "package.module:function"', entrypoint)
        entrypoint = None
    command = r.string_list("command", default=None)
    if command == []:
        r.problem("command", "must not be empty", command)
        command = None
    elif command is not None and not any("{model}" in arg for arg in command):
        why = "must contain the {model} placeholder (where to write the model)"
        r.problem("command", why, command)
        command = None
    params = r.take("params", default={})
    if not isinstance(params, dict):
        r.problem("params", "must be a table of estimator parameters", params)
        params = {}
    else:
        _check_param(r, "params", params)
    if params and ("entrypoint" in r.table or "command" in r.table):
        why = "only applies to estimator (an entrypoint or command sets its own)"
        r.problem("params", why, params)
    memory = r.take("memory_mb", default=None)
    if memory is not None and (type(memory) is not int or memory <= 0):
        r.problem("memory_mb", "must be a positive integer", memory)
        memory = None
    cpu = r.take("cpu_seconds", default=None)
    if cpu is not None and (type(cpu) is not int or cpu <= 0):
        r.problem("cpu_seconds", "must be a positive integer", cpu)
        cpu = None
    out = TrainingConfig(
        estimator=estimator,
        params=dict(params),
        window=r.duration("window", default=d.window) or d.window,
        timeout=r.duration("timeout", default=d.timeout) or d.timeout,
        seed=r.integer("seed", d.seed, lo=0),
        memory_mb=memory,
        allow_pickle=r.boolean("allow_pickle", d.allow_pickle),
        trusted_types=tuple(r.string_list("trusted_types", default=()) or ()),
        entrypoint=entrypoint,
        command=tuple(command) if command is not None else None,
        cpu_seconds=cpu,
    )
    r.finish()
    return out


def _check_param(r: _Reader, key: str, value: Any) -> None:
    """Nested too: params go to the training child and into the registry as JSON."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_param(r, f"{key}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_param(r, f"{key}[{i}]", v)
    elif isinstance(value, float) and not math.isfinite(value):
        r.problem(key, "must be finite", value)
    elif not isinstance(value, str | int | float):  # TOML dates and times
        r.problem(key, "must be a string, number, boolean, array or table", value)


def _promotion(r: _Reader, checks: NameChecks) -> PromotionConfig:
    d = PromotionConfig()
    scorer = r.string("scorer", default=d.scorer) or d.scorer
    if checks.scorer is not None:
        problem = checks.scorer(scorer)
        if problem:
            r.problem("scorer", problem, scorer)
    out = PromotionConfig(
        scorer=scorer,
        min_improvement=r.number("min_improvement", d.min_improvement, lo=-1e9, hi=1e9),
        holdout=r.duration("holdout", default=d.holdout) or d.holdout,
        min_holdout=r.integer("min_holdout", d.min_holdout, lo=1),
        confidence=r.number("confidence", d.confidence, lo=0.5, hi=1.0, open_hi=True),
        bootstrap=r.integer("bootstrap", d.bootstrap, lo=100),
        mode=r.choice("mode", PROMOTION_MODES, default=d.mode),
        guardrails=r.margins("guardrails", checks.scorer),
        refit=r.boolean("refit", d.refit),
        recovery=r.boolean("recovery", d.recovery),
    )
    r.finish()
    return out


def _policy(r: _Reader) -> PolicyConfig:
    d = PolicyConfig()
    out = PolicyConfig(
        cooldown=r.duration("cooldown", default=d.cooldown) or d.cooldown,
        max_retrains_per_day=r.integer("max_retrains_per_day", d.max_retrains_per_day, lo=1),
        max_age=r.duration("max_age", default=None),
        performance_drop=(
            None
            if r.table.get("performance_drop") is False and r.take("performance_drop") is False
            else r.number("performance_drop", 0.05, lo=0.0, hi=1.0, open_lo=True)
        ),
        estimated_drop=(
            None
            if r.table.get("estimated_drop") is False and r.take("estimated_drop") is False
            else r.number("estimated_drop", d.estimated_drop or 0.05, lo=0.0, hi=1.0, open_lo=True)
        ),
        keep_versions=r.integer("keep_versions", d.keep_versions, lo=0),
        backoff=r.boolean("backoff", d.backoff),
    )
    r.finish()
    return out


def _is_identifier(name: str) -> bool:
    # No leading '.': the name becomes a directory under `artifacts` ("..", ".hidden").
    return bool(name) and name[0] != "." and all(c.isalnum() or c in "-_." for c in name)


def _cron_problem(expr: str) -> str | None:
    # Checked here, not at scheduling time, where a bad field would stop the daemon.
    return cron_problem(expr) or _cron_never_fires(expr)


_CRON_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler: 0 = Monday


def _cron_never_fires(expr: str) -> str | None:
    """Why a well-formed crontab names no date at all ("0 0 30 feb *"), or None.

    APScheduler fires only on dates that match day, month *and* day_of_week. 28 years
    (2000-2027) hold every combination of leap year and weekday of 1 January.
    """
    _, _, day, month, weekday = expr.lower().split()
    days = _cron_values(day, 1, 31, ())
    months = _cron_values(month, 1, 12, _CRON_MONTHS)
    weekdays = _cron_values(weekday, 0, 6, _CRON_DAYS)
    for year in range(2000, 2028):
        for m in months:
            last = calendar.monthrange(year, m)[1]
            wanted = days | ({last} if "last" in day.split(",") else set())
            if any(d <= last and date(year, m, d).weekday() in weekdays for d in wanted):
                return None
    return "names no date that exists (day, month and day_of_week must all match): never fires"


def _cron_values(field_text: str, lo: int, hi: int, names: tuple[str, ...]) -> set[int]:
    """The values of one crontab field already checked by ``cron_problem``."""
    base = 1 if names == _CRON_MONTHS else 0
    values: set[int] = set()
    for item in field_text.split(","):
        if item == "last":
            continue
        span, _, step = item.partition("/")
        if span == "*":
            first, last = lo, hi
        else:
            ends = [names.index(v) + base if v in names else int(v) for v in span.split("-")]
            first, last = ends[0], hi if len(ends) == 1 and step else ends[-1]
        values.update(range(first, last + 1, int(step or 1)))
    return values


_MISSING = object()


def _show(value: Any) -> str:
    """A value as it was written in TOML where that differs from Python's repr."""
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


_ENTRYPOINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")

# guardrails measured by driftd itself rather than by a scikit-learn scorer
_BUILTIN_GUARDRAILS = ("latency_ms_per_1k", "model_size_bytes")


class _Reader:
    """Reads one TOML table, remembering which keys were used and every problem found."""

    def __init__(
        self, table: Mapping[str, Any], prefix: str, base: Path, problems: list[str] | None = None
    ) -> None:
        self.table = table
        self.prefix = prefix
        self.base = base
        self.problems: list[str] = problems if problems is not None else []
        self.used: set[str] = set()
        # A missing or malformed section is one problem; its own required keys are not listed.
        self.absent = False

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def problem(self, name: str, why: str, value: Any, show: bool = True) -> None:
        shown = f" (got {_show(value)})" if show else ""
        self.problems.append(f"{self.key(name)}: {why}{shown}")

    def child(self, prefix: str, table: Mapping[str, Any]) -> _Reader:
        return _Reader(table, prefix, self.base, self.problems)

    def take(self, name: str, default: Any = _MISSING, required: bool = False) -> Any:
        self.used.add(name)
        if name in self.table:
            return self.table[name]
        if required and not self.absent:
            self.problem(name, "is required", None, show=False)
        return None if default is _MISSING else default

    def section(self, name: str, required: bool = False) -> _Reader:
        value = self.take(name, default={}, required=required)
        absent = name not in self.table or not isinstance(value, dict)
        if not isinstance(value, dict):
            self.problem(name, "must be a table", value)
            value = {}
        child = self.child(self.key(name), value)
        child.absent = absent
        return child

    def string(self, name: str, default: Any = None, required: bool = False) -> str | None:
        value = self.take(name, default, required)
        if value is None or isinstance(value, str):
            if isinstance(value, str) and not value.strip():
                self.problem(name, "must not be empty", value)
                return None
            return value
        self.problem(name, "must be a string", value)
        return None

    def string_list(self, name: str, default: Any = None) -> list[str] | None:
        # Only an absent key takes the default; a written value is always validated.
        value = self.take(name, _MISSING)
        if name not in self.table:
            return list(default) if default is not None else None
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(name, "must be a list of non-empty strings", value)
            return None
        if len(set(value)) != len(value):
            self.problem(name, "has duplicates", value)
        return list(value)

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.take(name, default)
        if value not in options:
            self.problem(name, f"must be one of {', '.join(options)}", value)
            return default
        return str(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.take(name, default)
        if not isinstance(value, bool):
            self.problem(name, "must be true or false", value)
            return default
        return value

    def integer(self, name: str, default: int, lo: int | None = None) -> int:
        value = self.take(name, default)
        if type(value) is not int:
            self.problem(name, "must be an integer", value)
            return default
        if lo is not None and value < lo:
            self.problem(name, f"must be >= {lo}", value)
            return default
        return value

    def number(
        self,
        name: str,
        default: float,
        lo: float,
        hi: float,
        *,
        open_lo: bool = False,
        open_hi: bool = False,
    ) -> float:
        value = self.take(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, "must be a number", value)
            return default
        number = float(value)  # problems show `value` as written: 2, not 2.0
        if not math.isfinite(number):
            self.problem(name, "must be finite", value)
            return default
        too_low = number <= lo if open_lo else number < lo
        too_high = number >= hi if open_hi else number > hi
        if too_low or too_high:
            left = "(" if open_lo else "["
            right = ")" if open_hi else "]"
            self.problem(name, f"must be in {left}{lo:g}, {hi:g}{right}", value)
            return default
        return number

    def threshold(self, name: str, default: float | str) -> float | str:
        value = self.take(name, default)
        if value == "auto":
            return "auto"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, 'must be a number or "auto"', value)
            return default
        if not math.isfinite(value) or value < 0:
            self.problem(name, "must be >= 0" if math.isfinite(value) else "must be finite", value)
            return default
        return float(value)

    def margins(self, name: str, check: NameCheck | None) -> dict[str, float]:
        value = self.take(name, default={})
        if not isinstance(value, dict):
            self.problem(name, "must be a table of metric = margin", value)
            return {}
        out: dict[str, float] = {}
        for metric, margin in value.items():
            if isinstance(margin, bool) or not isinstance(margin, int | float):
                self.problem(f"{name}.{metric}", "must be a number", margin)
            elif not math.isfinite(margin):
                self.problem(f"{name}.{metric}", "must be finite", margin)
            elif margin < 0:
                self.problem(f"{name}.{metric}", "must be >= 0", margin)
            elif check is not None and metric not in _BUILTIN_GUARDRAILS and (why := check(metric)):
                self.problem(f"{name}.{metric}", why, metric)
            else:
                out[metric] = float(margin)
        return out

    def duration(
        self, name: str, default: timedelta | None = None, required: bool = False
    ) -> timedelta | None:
        value = self.take(name, _MISSING, required)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(name, 'must be a duration string such as "15m"', value)
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.problem(name, str(exc), value)
            return default

    def path(self, name: str, default: Path | None = None, required: bool = False) -> Path | None:
        value = self.string(name, required=required)
        if value is None:
            return default
        return self.local_path(name, value, resolve=True) or default

    def local_path(self, name: str, text: str, resolve: bool) -> Path | None:
        """``text`` after ``~``, against the config's directory; None and a problem if unusable."""
        try:
            if "\0" in text:  # TOML allows "\u0000"; the OS does not
                raise ValueError("embedded null byte")
            path = self.base / Path(text).expanduser()  # RuntimeError for an unknown ~user
            return path.resolve() if resolve else path
        except (RuntimeError, ValueError, OSError) as exc:
            self.problem(name, f"is not a usable path: {exc}", text)
            return None

    def source(self, name: str, required: bool = False) -> SourceConfig | None:
        value = self.take(name, None, required)
        if value is None:
            return None
        if isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, dict):
            self.problem(name, 'must be a path or a table {path = "...", query = "..."}', value)
            return None
        sub = self.child(self.key(name), value)
        path = sub.string("path", required=True)
        query = sub.string("query", default=None)
        sub.finish()
        if path is None:
            return None
        if path.startswith("sqlite:///"):
            if query is None:
                sub.problem("query", "is required for a sqlite:/// source", None, show=False)
            db = path[len("sqlite:///") :]
            if not db.strip():
                sub.problem("path", "needs a database file after sqlite:///", path)
                return None
            local = sub.local_path("path", db, resolve=True)
        elif "://" in path:  # Path() would quietly turn "s3://b/x" into "s3:/b/x"
            sub.problem("path", "must be a file, a glob or sqlite:///file.db", path)
            return None
        else:
            if query is not None:
                sub.problem("query", "only applies to sqlite:/// sources", query)
            local = sub.local_path("path", path, resolve=False)  # a glob must stay a glob
        if local is None:
            return None
        prefix = "sqlite:///" if path.startswith("sqlite:///") else ""
        return SourceConfig(path=prefix + str(local), query=query)

    def finish(self) -> None:
        for key in self.table:
            if key not in self.used:
                self.problem(key, "unknown key", self.table[key])
