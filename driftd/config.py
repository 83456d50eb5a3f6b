"""TOML -> frozen dataclasses. Every problem is collected and reported as ``key.path: why (got v)``.

Relative paths in the file are resolved against the directory holding the file, so a config and
its data can move together. Names that need a heavy import to check (estimator classes, scorer
names) are checked by callables passed in by the caller, so that ``driftd status`` loads the
config without importing scikit-learn.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from driftd.durations import parse_duration
from driftd.errors import ConfigError

DEFAULT_CONFIG_PATH = "/etc/driftd/config.toml"
CORRECTIONS = ("bh", "bonferroni", "none")
PROMOTION_MODES = ("auto", "dry-run", "manual")
LOG_LEVELS = ("debug", "info", "warning", "error")


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


@dataclass(frozen=True, slots=True)
class DriftConfig:
    alpha: float = 0.05
    correction: str = "bh"
    share: float = 0.25
    numeric_test: str = "ks"
    numeric_effect: str = "wasserstein"
    numeric_threshold: float | str = 0.1
    categorical_test: str = "chi2"
    categorical_effect: str = "jensen_shannon"
    categorical_threshold: float | str = 0.1
    missing_threshold: float = 0.05
    min_samples: int = 30
    auto_quantile: float = 0.99
    hysteresis_k: int = 2
    hysteresis_n: int = 3
    prediction_drift: bool = True
    multivariate: bool = False


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


@dataclass(frozen=True, slots=True)
class PromotionConfig:
    scorer: str = "roc_auc"
    min_improvement: float = 0.0
    holdout: timedelta = timedelta(days=1)
    min_holdout: int = 200
    confidence: float = 0.95
    bootstrap: int = 1000
    mode: str = "auto"


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    cooldown: timedelta = timedelta(hours=1)
    max_retrains_per_day: int = 4
    max_age: timedelta | None = None


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


@dataclass(frozen=True, slots=True)
class NameChecks:
    estimator: NameCheck | None = None
    scorer: NameCheck | None = None


def resolve_config_path(cli_value: str | None) -> Path:
    """``--config``, else ``$DRIFTD_CONFIG``, else /etc/driftd/config.toml."""
    return Path(cli_value or os.environ.get("DRIFTD_CONFIG") or DEFAULT_CONFIG_PATH)


def load(path: str | Path, checks: NameChecks | None = None) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(["file not found"], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read: {exc}"], str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from None
    return parse(raw, base=path.parent, source=str(path), checks=checks)


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
    if raw_models is None:
        r.problem("models", "at least one [[models]] table is required", None, show=False)
    elif not isinstance(raw_models, list) or not all(isinstance(m, dict) for m in raw_models):
        r.problem("models", "must be an array of tables ([[models]])", raw_models)
    else:
        for i, m in enumerate(raw_models):
            model = _model(r.child(f"models[{i}]", m), checks or NameChecks())
            if model is not None:
                models.append(model)
        names = [m.name for m in models]
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
        r.problem("name", "must be letters, digits, '-', '_' or '.'", name)
    every = r.duration("every", default=None)
    cron = r.string("cron", default=None)
    if (every is None) == (cron is None):
        r.problem("every", 'set exactly one of every = "15m" or cron = "..."', every or cron)
    if cron is not None:
        problem = _cron_problem(cron)
        if problem:
            r.problem("cron", problem, cron)
    schedule = Schedule(
        every=every,
        cron=cron,
        misfire_grace=r.duration("misfire_grace", default=timedelta(minutes=5)) or timedelta(),
        jitter=r.duration("jitter", default=None),
    )
    data = _data(r.section("data", required=True))
    drift = _drift(r.section("drift"))
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
    categorical = r.string_list("categorical", default=()) or ()
    if features is not None and categorical:
        for c in categorical:
            if c not in features:
                r.problem("categorical", f"{c!r} is not in data.features", c)
    for col in (timestamp, target):
        if col is not None and features is not None and col in features:
            r.problem("features", f"{col!r} is the timestamp or target column", col)
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
    )


def _drift(r: _Reader) -> DriftConfig:
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
    )
    if out.hysteresis_k > out.hysteresis_n:
        r.problem("hysteresis_k", f"must be <= hysteresis_n ({out.hysteresis_n})", out.hysteresis_k)
    r.finish()
    return out


def _training(r: _Reader, checks: NameChecks) -> TrainingConfig:
    d = TrainingConfig()
    estimator = r.string("estimator", default=d.estimator) or d.estimator
    if checks.estimator is not None:
        problem = checks.estimator(estimator)
        if problem:
            r.problem("estimator", problem, estimator)
    params = r.take("params", default={})
    if not isinstance(params, dict):
        r.problem("params", "must be a table of estimator parameters", params)
        params = {}
    else:
        for key, value in params.items():
            if isinstance(value, float) and not math.isfinite(value):
                r.problem(f"params.{key}", "must be finite", value)
    memory = r.take("memory_mb", default=None)
    if memory is not None and (type(memory) is not int or memory <= 0):
        r.problem("memory_mb", "must be a positive integer", memory)
        memory = None
    out = TrainingConfig(
        estimator=estimator,
        params=dict(params),
        window=r.duration("window", default=d.window) or d.window,
        timeout=r.duration("timeout", default=d.timeout) or d.timeout,
        seed=r.integer("seed", d.seed, lo=0),
        memory_mb=memory,
        allow_pickle=r.boolean("allow_pickle", d.allow_pickle),
        trusted_types=tuple(r.string_list("trusted_types", default=()) or ()),
    )
    r.finish()
    return out


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
    )
    r.finish()
    return out


def _policy(r: _Reader) -> PolicyConfig:
    d = PolicyConfig()
    out = PolicyConfig(
        cooldown=r.duration("cooldown", default=d.cooldown) or d.cooldown,
        max_retrains_per_day=r.integer("max_retrains_per_day", d.max_retrains_per_day, lo=1),
        max_age=r.duration("max_age", default=None),
    )
    r.finish()
    return out


def _is_identifier(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_." for c in name)


def _cron_problem(expr: str) -> str | None:
    fields = expr.split()
    if len(fields) != 5:
        return "must have 5 fields: minute hour day month day_of_week"
    allowed = set("0123456789*/,-abcdefghijklmnopqrstuvwxyz")
    for f in fields:
        if not f or not set(f.lower()) <= allowed:
            return f"field {f!r} is not a cron field"
    return None


_MISSING = object()


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

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def problem(self, name: str, why: str, value: Any, show: bool = True) -> None:
        shown = f" (got {value!r})" if show else ""
        self.problems.append(f"{self.key(name)}: {why}{shown}")

    def child(self, prefix: str, table: Mapping[str, Any]) -> _Reader:
        return _Reader(table, prefix, self.base, self.problems)

    def take(self, name: str, default: Any = _MISSING, required: bool = False) -> Any:
        self.used.add(name)
        if name in self.table:
            return self.table[name]
        if required:
            self.problem(name, "is required", None, show=False)
        return None if default is _MISSING else default

    def section(self, name: str, required: bool = False) -> _Reader:
        value = self.take(name, default={}, required=required)
        if not isinstance(value, dict):
            self.problem(name, "must be a table", value)
            value = {}
        return self.child(self.key(name), value)

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
        value = self.take(name, default)
        if value is None or value == default:
            return list(value) if value is not None else None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
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
        open_lo: bool = False,
        open_hi: bool = False,
    ) -> float:
        value = self.take(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, "must be a number", value)
            return default
        value = float(value)
        if not math.isfinite(value):
            self.problem(name, "must be finite", value)
            return default
        too_low = value <= lo if open_lo else value < lo
        too_high = value >= hi if open_hi else value > hi
        if too_low or too_high:
            left = "(" if open_lo else "["
            right = ")" if open_hi else "]"
            self.problem(name, f"must be in {left}{lo:g}, {hi:g}{right}", value)
            return default
        return value

    def threshold(self, name: str, default: float | str) -> float | str:
        value = self.take(name, default)
        if value == "auto":
            return "auto"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, 'must be a number or "auto"', value)
            return default
        if not math.isfinite(value) or value < 0:
            self.problem(name, "must be a finite number >= 0", value)
            return default
        return float(value)

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
        return (self.base / Path(value).expanduser()).resolve()

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
            path = "sqlite:///" + str((self.base / db).resolve())
        else:
            if query is not None:
                sub.problem("query", "only applies to sqlite:/// sources", query)
            path = str(self.base / Path(path).expanduser())
        return SourceConfig(path=path, query=query)

    def finish(self) -> None:
        for key in self.table:
            if key not in self.used:
                self.problem(key, "unknown key", self.table[key])
