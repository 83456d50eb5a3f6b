"""A decoded TOML document -> :class:`Config`, or a ConfigError listing every problem.

Keys are read as the key table (keys.py) says; this module adds the rules that involve more than
one key (exactly one of ``every`` and ``cron``, ``hysteresis_k <= hysteresis_n``, ...) and the
name checks that need heavy imports, which the caller passes in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftd.config import cron, services
from driftd.config.models import (
    Config,
    DataConfig,
    DriftConfig,
    ModelConfig,
    PolicyConfig,
    PromotionConfig,
    Schedule,
    TrainingConfig,
)
from driftd.config.reader import Reader
from driftd.errors import ConfigError

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

_ENTRYPOINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")

# guardrails measured by driftd itself rather than by a scikit-learn scorer
_BUILTIN_GUARDRAILS = ("latency_ms_per_1k", "model_size_bytes")


@dataclass(frozen=True, slots=True)
class NameChecks:
    """Checks that need heavy imports (scikit-learn, scipy), passed in by the caller."""

    estimator: NameCheck | None = None
    scorer: NameCheck | None = None
    test: TestCheck | None = None


def parse(
    raw: Mapping[str, Any],
    base: Path = Path("."),
    source: str = "",
    checks: NameChecks | None = None,
) -> Config:
    """Validate an already-decoded TOML document."""
    r = Reader(raw, "", base)
    top = r.read_all()
    metrics = services.metrics(r.section("metrics"))
    report = services.report(r.section("report"))
    notify = services.notify_list(r)
    dask = services.dask(r.section("dask"))
    daemon = services.daemon(r.section("daemon"))
    models: list[ModelConfig] = []
    raw_models = r.take("models", default=None)
    if raw_models is None or raw_models == []:
        r.problem("models", "at least one [[models]] table is required", None, show_value=False)
    elif not isinstance(raw_models, list) or not all(isinstance(m, dict) for m in raw_models):
        r.problem("models", "must be an array of tables ([[models]])", raw_models)
    else:
        for i, m in enumerate(raw_models):
            model = _model(r.child(f"models[{i}]", m, "models"), checks or NameChecks())
            if model is not None:
                models.append(model)
        # From the raw tables: a duplicate is reported even when one copy has other problems.
        names = [m["name"] for m in raw_models if isinstance(m.get("name"), str)]
        for name in sorted({n for n in names if names.count(n) > 1}):
            why = f"model name {name!r} is used more than once"
            r.problem("models", why, None, show_value=False)
    r.finish()
    if r.problems:
        raise ConfigError(r.problems, source)
    registry: Path = top["registry"]
    return Config(
        registry=registry,
        artifacts=top["artifacts"] or registry.parent / "artifacts",
        models=tuple(models),
        log_level=top["log_level"],
        group=top["group"],
        source=source,
        metrics=metrics,
        report=report,
        notify=notify,
        dask=dask,
        daemon=daemon,
    )


def _model(r: Reader, checks: NameChecks) -> ModelConfig | None:
    values = r.read_all()
    name = values.pop("name")
    if name is not None and not _is_identifier(name):
        why = "must be letters, digits, '-', '_' or '.', not starting with '.'"
        r.problem("name", why, name)
    # Decided on the keys as written, so a malformed `every` is one problem, not two.
    if ("every" in r.table) == ("cron" in r.table):
        which = "both are set" if "every" in r.table else "neither is set"
        why = f'set exactly one of every = "15m" or cron = "..." ({which})'
        r.problem("every", why, None, show_value=False)
    if values["cron"] is not None and (problem := cron.problem(values["cron"])):
        r.problem("cron", problem, values["cron"])
    jitter, every, written = values["jitter"], values["every"], r.table.get("jitter")
    if jitter is not None and every is None and "cron" in r.table:
        r.problem("jitter", "only applies with every; cron runs are not jittered", written)
    elif jitter is not None and every is not None and jitter >= every:
        r.problem("jitter", "must be shorter than every", written)
    schedule = Schedule(**values)
    data = _data(r.section("data", required=True))
    drift = _drift(r.section("drift"), checks)
    training = _training(r.section("training"), checks)
    promotion = _promotion(r.section("promotion"), checks)
    policy = PolicyConfig(**r.section("policy").finished(Reader.read_all))
    notify = services.notify_list(r)
    r.finish()
    if data is None or name is None:
        return None
    return ModelConfig(name, schedule, data, drift, training, promotion, policy, notify)


def _data(r: Reader) -> DataConfig | None:
    v = r.read_all()
    features, categorical = v["features"], v["categorical"]
    timestamp, target = v["timestamp"], v["target"]
    if features == ():
        r.problem("features", "must not be empty (leave it out to monitor every column)", [])
        v["features"] = features = None
    if features is not None:
        for c in categorical:
            if c not in features:
                r.problem("categorical", f"{c!r} is not in data.features", c)
        for col in (timestamp, target):
            if col is not None and col in features:
                r.problem("features", f"{col!r} is the timestamp or target column", col)
    if timestamp is not None and timestamp == target:
        why = "must differ from data.timestamp (one column cannot be both)"
        r.problem("target", why, target)
    for c in categorical if features is None else ():
        if c in (timestamp, target):
            r.problem("categorical", f"{c!r} is the timestamp or target column", c)
    r.finish()
    if any(v[k] is None for k in ("reference", "live", "timestamp", "target", "window")):
        return None
    return DataConfig(**v)


def _drift(r: Reader, checks: NameChecks) -> DriftConfig:
    out = DriftConfig(**r.read_all())
    if out.hysteresis_k > out.hysteresis_n:
        why = f"must be <= hysteresis_n ({out.hysteresis_n})"
        r.problem("hysteresis_k", why, out.hysteresis_k)
    if out.background_min_windows > out.background_windows:
        why = f"must be <= background_windows ({out.background_windows})"
        r.problem("background_min_windows", why, out.background_min_windows)
    if checks.test is not None:
        for key, kind, role in TEST_KEYS:
            name = getattr(out, key)
            problem = checks.test(name, kind, role)
            if problem:
                r.problem(key, problem, name, show_value=False)
    r.finish()
    return out


def _training(r: Reader, checks: NameChecks) -> TrainingConfig:
    ways = [k for k in ("estimator", "entrypoint", "command") if k in r.table]
    if len(ways) > 1:
        why = f"set at most one of estimator, entrypoint or command (got {', '.join(ways)})"
        r.problem(ways[1], why, None, show_value=False)
    v = {"estimator": r.read("estimator")}
    # The default estimator is checked only when it is the way in use.
    if checks.estimator is not None and ("estimator" in r.table or not ways):
        problem = checks.estimator(v["estimator"])
        if problem:
            r.problem("estimator", problem, v["estimator"])
    v |= r.read_all(skip=("estimator",))
    if v["entrypoint"] is not None and not _ENTRYPOINT.fullmatch(v["entrypoint"]):
        r.problem("entrypoint", 'must look like "package.module:function"', v["entrypoint"])
        v["entrypoint"] = None
    command = v["command"]
    if command == ():
        r.problem("command", "must not be empty", [])
        v["command"] = None
    elif command is not None and not any("{model}" in arg for arg in command):
        why = "must contain the {model} placeholder (where to write the model)"
        r.problem("command", why, list(command))
        v["command"] = None
    params = r.take("params", default={})
    if not isinstance(params, dict):
        r.problem("params", "must be a table of estimator parameters", params)
        params = {}
    else:
        _check_param(r, "params", params)
    if params and ("entrypoint" in r.table or "command" in r.table):
        why = "only applies to estimator (an entrypoint or command sets its own)"
        r.problem("params", why, params)
    r.finish()
    return TrainingConfig(**v, params=dict(params))


def _check_param(r: Reader, key: str, value: Any) -> None:
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


def _promotion(r: Reader, checks: NameChecks) -> PromotionConfig:
    v = r.read_all()
    if checks.scorer is not None and (problem := checks.scorer(v["scorer"])):
        r.problem("scorer", problem, v["scorer"])
    if v["on_champion_change"] == ():
        r.problem("on_champion_change", "must not be empty (leave it out for none)", [])
        v["on_champion_change"] = None
    out = PromotionConfig(**v, guardrails=_margins(r, "guardrails", checks.scorer))
    r.finish()
    return out


def _margins(r: Reader, name: str, check: NameCheck | None) -> dict[str, float]:
    value = r.take(name, default={})
    if not isinstance(value, dict):
        r.problem(name, "must be a table of metric = margin", value)
        return {}
    out: dict[str, float] = {}
    for metric, margin in value.items():
        key = f"{name}.{metric}"
        if isinstance(margin, bool) or not isinstance(margin, int | float):
            r.problem(key, "must be a number", margin)
        elif not math.isfinite(margin):
            r.problem(key, "must be finite", margin)
        elif margin < 0:
            r.problem(key, "must be >= 0", margin)
        elif check is not None and metric not in _BUILTIN_GUARDRAILS and (why := check(metric)):
            r.problem(key, why, metric)
        else:
            out[metric] = float(margin)
    return out


def _is_identifier(name: str) -> bool:
    # No leading '.': the name becomes a directory under `artifacts` ("..", ".hidden").
    return bool(name) and name[0] != "." and all(c.isalnum() or c in "-_." for c in name)
