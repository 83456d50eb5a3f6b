"""The config loader: TOML -> frozen dataclasses, every problem reported at once as ``key: why``.

Every test writes a real file into ``tmp_path`` and loads it through :func:`driftd.config.load`,
so the TOML decoder, path resolution against the file's directory, and the error prefix are all
exercised as the daemon and ``driftd validate`` exercise them.
"""

from __future__ import annotations

import dataclasses
import importlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from driftd import config as cfg_mod
from driftd.config import (
    Config,
    DataConfig,
    DriftConfig,
    ModelConfig,
    NameChecks,
    PolicyConfig,
    PromotionConfig,
    Schedule,
    SourceConfig,
    TrainingConfig,
    load,
    resolve_config_path,
)
from driftd.errors import EXIT_CONFIG, ConfigError

REPO = Path(__file__).resolve().parents[1]

DATA = """\
reference = "data/ref.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
"""

# [[models]] sub-tables and the dataclass each one becomes.
SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "drift": DriftConfig,
    "training": TrainingConfig,
    "promotion": PromotionConfig,
    "policy": PolicyConfig,
}


def doc(
    *,
    top: str = 'registry = "state/registry.db"',
    model: str = 'name = "churn"\nevery = "15m"',
    data: str | None = DATA,
    **sections: str,
) -> str:
    """A config document: top-level keys, one [[models]] table, then its sub-tables."""
    parts = [top, "[[models]]", model]
    if data is not None:
        parts += ["[models.data]", data]
    for name, body in sections.items():
        parts += [f"[models.{name}]", body]
    return "\n".join(parts) + "\n"


def write(tmp_path: Path, text: str | bytes, name: str = "config.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_ok(tmp_path: Path, text: str, checks: NameChecks | None = None) -> Config:
    return load(write(tmp_path, text), checks)


def problems(tmp_path: Path, text: str, checks: NameChecks | None = None) -> list[str]:
    """The problems of an invalid document (and a check that the error is well-formed)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path, checks)
    err = info.value
    assert err.exit_code == EXIT_CONFIG
    assert err.source == str(path)
    assert str(err).splitlines() == [f"{path}: {p}" for p in err.problems]
    return list(err.problems)


def one_problem(tmp_path: Path, text: str, checks: NameChecks | None = None) -> str:
    found = problems(tmp_path, text, checks)
    assert len(found) == 1, found
    return found[0]


def _fields_typed(cls: type, token: str) -> list[str]:
    """Names of fields whose annotation has ``token`` as one of its ``|`` alternatives."""
    return [
        f.name
        for f in dataclasses.fields(cls)
        if token in [part.strip() for part in str(f.type).split("|")]
    ]


def _float_keys() -> list[tuple[str, str]]:
    return [(s, k) for s, cls in SECTIONS.items() for k in _fields_typed(cls, "float")]


def _duration_keys() -> list[tuple[str | None, str]]:
    flat: list[tuple[str | None, str]] = [(None, k) for k in _fields_typed(Schedule, "timedelta")]
    return flat + [(s, k) for s, cls in SECTIONS.items() for k in _fields_typed(cls, "timedelta")]


def set_key(section: str | None, key: str, value: str) -> str:
    """A valid document with one key of [[models]] (or of one of its sections) set to ``value``."""
    if section is None:
        keys = {"name": '"churn"', "every": '"15m"'}
        if key == "cron":
            del keys["every"]
        keys[key] = value
        return doc(model="\n".join(f"{k} = {v}" for k, v in keys.items()))
    if section == "data":
        lines = [line for line in DATA.splitlines() if not line.startswith(f"{key} ")]
        return doc(data="\n".join([*lines, f"{key} = {value}"]))
    return doc(**{section: f"{key} = {value}"})


def key_path(section: str | None, key: str) -> str:
    return f"models[0].{section}.{key}" if section else f"models[0].{key}"


# ---------------------------------------------------------------------------------------------
# valid documents


def test_minimal_config_gets_the_documented_defaults(tmp_path: Path) -> None:
    """Only the required keys: every optional key takes its dataclass default."""
    cfg = load_ok(tmp_path, doc())
    m = cfg.model("churn")
    assert cfg.log_level == "info"
    assert cfg.group is None
    assert m.schedule == Schedule(every=timedelta(minutes=15))
    assert m.drift == DriftConfig()
    assert m.training == TrainingConfig()
    assert m.promotion == PromotionConfig()
    assert m.policy == PolicyConfig()
    assert m.data.features is None
    assert m.data.categorical == ()
    assert m.data.labelled is None


def test_repository_config_toml_is_valid() -> None:
    """The config.toml shipped at the repository root loads (it is also the README's example)."""
    cfg = load(REPO / "config.toml")
    assert [m.name for m in cfg.models] == ["churn"]
    assert cfg.registry == (REPO / "state" / "registry.db").resolve()


def test_every_section_value_is_read(tmp_path: Path) -> None:
    """Non-default values in every section reach the dataclasses unchanged."""
    text = doc(
        top='registry = "r.db"\nartifacts = "art"\nlog_level = "debug"\ngroup = "ops"',
        model='name = "m-1.a"\ncron = "*/5 * * * mon-fri"\nmisfire_grace = "1m"',
        data=DATA + 'features = ["a", "b", "c"]\ncategorical = ["c"]\nlabelled = "labels.csv"',
        drift='alpha = 0.01\ncorrection = "bonferroni"\nshare = 1\nnumeric_threshold = "auto"\n'
        "categorical_threshold = 0.2\nhysteresis_k = 1\nhysteresis_n = 1\nmultivariate = true",
        training='estimator = "sklearn.ensemble.RandomForestClassifier"\n'
        'params = { n_estimators = 10, max_depth = 3 }\nwindow = "2d"\ntimeout = "90s"\n'
        'seed = 7\nmemory_mb = 512\ntrusted_types = ["sklearn.tree._tree.Tree"]',
        promotion='scorer = "accuracy"\nmin_improvement = 0.01\nholdout = "12h"\n'
        'mode = "manual"\nguardrails = { neg_log_loss = 0.05 }',
        policy='cooldown = "2h"\nmax_retrains_per_day = 1\nmax_age = "30d"',
    )
    cfg = load_ok(tmp_path, text)
    m = cfg.models[0]
    assert (cfg.log_level, cfg.group, cfg.artifacts) == (
        "debug",
        "ops",
        (tmp_path / "art").resolve(),
    )
    assert m.name == "m-1.a"
    assert m.schedule == Schedule(cron="*/5 * * * mon-fri", misfire_grace=timedelta(minutes=1))
    assert m.data.features == ("a", "b", "c")
    assert m.data.categorical == ("c",)
    assert m.data.labelled == SourceConfig(str(tmp_path / "labels.csv"))
    assert (m.drift.alpha, m.drift.correction, m.drift.share) == (0.01, "bonferroni", 1.0)
    assert (m.drift.numeric_threshold, m.drift.categorical_threshold) == ("auto", 0.2)
    assert m.drift.multivariate is True
    assert m.training.params == {"n_estimators": 10, "max_depth": 3}
    assert (m.training.window, m.training.timeout) == (timedelta(days=2), timedelta(seconds=90))
    assert (m.training.seed, m.training.memory_mb) == (7, 512)
    assert m.training.trusted_types == ("sklearn.tree._tree.Tree",)
    assert (m.promotion.scorer, m.promotion.min_improvement) == ("accuracy", 0.01)
    assert (m.promotion.holdout, m.promotion.mode) == (timedelta(hours=12), "manual")
    assert m.promotion.guardrails == {"neg_log_loss": 0.05}
    assert m.policy == PolicyConfig(
        cooldown=timedelta(hours=2), max_retrains_per_day=1, max_age=timedelta(days=30)
    )


def test_config_dataclasses_are_frozen(tmp_path: Path) -> None:
    """No part of a loaded config can be reassigned: a reload builds a new one instead."""
    cfg = load_ok(tmp_path, doc(data=DATA + 'labelled = "l.csv"'))
    m = cfg.models[0]
    parts: list[Any] = [cfg, m, m.schedule, m.data, m.data.reference, m.drift, m.training]
    parts += [m.promotion, m.policy]
    for part in parts:
        for field in dataclasses.fields(part):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(part, field.name, None)


def test_model_lookup_names_the_known_models(tmp_path: Path) -> None:
    """Config.model() on an unknown name is a ConfigError listing the names that do exist."""
    cfg = load_ok(tmp_path, doc())
    with pytest.raises(ConfigError, match=r"models: no model named 'nope' \(known: churn\)"):
        cfg.model("nope")


# ---------------------------------------------------------------------------------------------
# unknown keys


def test_unknown_top_level_key(tmp_path: Path) -> None:
    """A misspelt top-level key is an error, not silently ignored."""
    text = doc(top='registry = "r.db"\nlog_levle = "debug"')
    assert one_problem(tmp_path, text) == (
        "log_levle: unknown key, did you mean 'log_level'? (got 'debug')"
    )


def test_unknown_key_in_models(tmp_path: Path) -> None:
    """A misspelt key directly in [[models]] names the model's index."""
    text = doc(model='name = "churn"\nevery = "15m"\nevry = "1h"')
    assert one_problem(tmp_path, text) == (
        "models[0].evry: unknown key, did you mean 'every'? (got '1h')"
    )


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_unknown_key_in_each_section(tmp_path: Path, section: str) -> None:
    """Every [models.*] section rejects keys it does not define, with the full key path."""
    text = set_key(section, "bogus_key", "1")
    assert one_problem(tmp_path, text) == f"models[0].{section}.bogus_key: unknown key (got 1)"


def test_unknown_key_in_a_source_table(tmp_path: Path) -> None:
    """A source written as a table accepts only path and query."""
    text = set_key("data", "live", '{ path = "l.csv", glob = true }')
    assert one_problem(tmp_path, text) == "models[0].data.live.glob: unknown key (got true)"


# ---------------------------------------------------------------------------------------------
# wrong types


@pytest.mark.parametrize(
    ("section", "key", "value", "why"),
    [
        ("drift", "alpha", '"0.05"', "must be a number (got '0.05')"),
        ("drift", "alpha", "true", "must be a number (got true)"),
        ("data", "timestamp", "5", "must be a string (got 5)"),
        ("data", "target", '["y"]', "must be a string (got ['y'])"),
        ("drift", "min_samples", "true", "must be an integer (got true)"),
        ("drift", "min_samples", "30.0", "must be an integer (got 30.0)"),
        ("drift", "multivariate", '"yes"', "must be true or false (got 'yes')"),
        ("drift", "multivariate", "1", "must be true or false (got 1)"),
        ("data", "features", "{ a = 1 }", "must be a list of non-empty strings (got {'a': 1})"),
        ("data", "features", '"a"', "must be a list of non-empty strings (got 'a')"),
        ("data", "features", '["a", 1]', "must be a list of non-empty strings (got ['a', 1])"),
        ("data", "categorical", '[" "]', "must be a list of non-empty strings (got [' '])"),
        ("data", "window", "86400", 'must be a duration string such as "15m" (got 86400)'),
        (
            "data",
            "reference",
            "3",
            'must be a path or a table {path = "...", query = "..."} (got 3)',
        ),
        ("drift", "correction", "1", "must be one of bh, bonferroni, none (got 1)"),
        ("drift", "numeric_threshold", '"high"', "must be a number or \"auto\" (got 'high')"),
        ("training", "params", "[1, 2]", "must be a table of estimator parameters (got [1, 2])"),
        ("training", "memory_mb", '"1G"', "must be an integer (got '1G')"),
        ("training", "estimator", "1", "must be a string (got 1)"),
        ("promotion", "guardrails", "[]", "must be a table of metric = margin (got [])"),
        ("promotion", "mode", '"yolo"', "must be one of auto, dry-run, manual (got 'yolo')"),
        ("policy", "max_retrains_per_day", "1.5", "must be an integer (got 1.5)"),
        (None, "name", "7", "must be a string (got 7)"),
        (None, "cron", "[]", "must be a string (got [])"),
    ],
)
def test_wrong_type_is_reported_with_key_and_value(
    tmp_path: Path, section: str | None, key: str, value: str, why: str
) -> None:
    """A value of the wrong TOML type gives exactly one problem naming key, rule and value."""
    assert one_problem(tmp_path, set_key(section, key, value)) == f"{key_path(section, key)}: {why}"


def test_models_written_as_a_table_instead_of_an_array(tmp_path: Path) -> None:
    """`[models]` (one table) instead of `[[models]]` (an array of tables) is explained."""
    text = 'registry = "r.db"\n[models]\nname = "x"\n'
    assert one_problem(tmp_path, text) == (
        "models: must be an array of tables ([[models]]) (got {'name': 'x'})"
    )


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_section_that_is_not_a_table(tmp_path: Path, section: str) -> None:
    """`drift = 1` is one problem; the section's required keys are not listed again."""
    text = doc(model=f'name = "churn"\nevery = "15m"\n{section} = 1', data=None)
    found = problems(tmp_path, text)
    expected = [f"models[0].{section}: must be a table (got 1)"]
    if section != "data":
        expected.append("models[0].data: is required")
    assert sorted(found) == sorted(expected)


def test_top_level_string_keys_reject_other_types(tmp_path: Path) -> None:
    """registry, artifacts, log_level and group are strings; each wrong one is reported."""
    text = doc(top="registry = 1\nartifacts = true\nlog_level = 3\ngroup = []")
    assert problems(tmp_path, text) == [
        "registry: must be a string (got 1)",
        "artifacts: must be a string (got true)",
        "log_level: must be one of debug, info, warning, error (got 3)",
        "group: must be a string (got [])",
    ]


# ---------------------------------------------------------------------------------------------
# numbers: nan, inf, ranges


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(("section", "key"), _float_keys())
def test_nan_and_inf_are_rejected_for_every_float_key(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    """TOML's nan, inf and -inf are never a valid setting for any float field."""
    found = one_problem(tmp_path, set_key(section, key, value))
    assert found == f"models[0].{section}.{key}: must be finite (got {value})"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_inf_rejected_in_guardrails_and_params(tmp_path: Path, value: str) -> None:
    """Float values inside tables (guardrail margins, estimator params, nested) are checked too."""
    text = doc(
        training=f"params = {{ C = {value}, nested = {{ tol = {value} }}, grid = [1.0, {value}] }}",
        promotion=f"guardrails = {{ neg_log_loss = {value} }}",
    )
    assert problems(tmp_path, text) == [
        f"models[0].training.params.C: must be finite (got {value})",
        f"models[0].training.params.nested.tol: must be finite (got {value})",
        f"models[0].training.params.grid[1]: must be finite (got {value})",
        f"models[0].promotion.guardrails.neg_log_loss: must be finite (got {value})",
    ]


def test_params_reject_toml_dates(tmp_path: Path) -> None:
    """Params are stored as JSON; a TOML date or time has no JSON form and no estimator wants it."""
    text = doc(training="params = { start = 2024-01-01 }")
    assert one_problem(tmp_path, text) == (
        "models[0].training.params.start: must be a string, number, boolean, array or table "
        "(got datetime.date(2024, 1, 1))"
    )


@pytest.mark.parametrize("value", ["1.5", "0", "1", "-0.1"])
def test_alpha_must_be_strictly_between_zero_and_one(tmp_path: Path, value: str) -> None:
    """alpha is a significance level: 0 and 1 are excluded; the message has a fixed shape."""
    found = one_problem(tmp_path, set_key("drift", "alpha", value))
    assert found == f"models[0].drift.alpha: must be in (0, 1) (got {value})"


def test_alpha_message_exact_format_in_the_error_text(tmp_path: Path) -> None:
    """The exact line from the issue, prefixed with the file name in str(ConfigError)."""
    path = write(tmp_path, set_key("drift", "alpha", "1.5"))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: models[0].drift.alpha: must be in (0, 1) (got 1.5)"
    assert info.value.problems == ("models[0].drift.alpha: must be in (0, 1) (got 1.5)",)


@pytest.mark.parametrize(
    ("value", "ok"), [("0", False), ("0.0001", True), ("1", True), ("1.01", False)]
)
def test_share_is_in_zero_exclusive_to_one_inclusive(tmp_path: Path, value: str, ok: bool) -> None:
    """share = 1 means "only when every feature drifts"; 0 would alarm on nothing drifting."""
    text = set_key("drift", "share", value)
    if ok:
        assert load_ok(tmp_path, text).models[0].drift.share == float(value)
    else:
        assert (
            one_problem(tmp_path, text) == f"models[0].drift.share: must be in (0, 1] (got {value})"
        )


@pytest.mark.parametrize(
    ("section", "key", "value", "why"),
    [
        ("drift", "missing_threshold", "1.5", "must be in [0, 1] (got 1.5)"),
        ("drift", "auto_quantile", "1", "must be in [0.5, 1) (got 1)"),
        ("drift", "min_samples", "0", "must be a positive integer (got 0)"),
        ("drift", "numeric_threshold", "-0.1", "must be >= 0 (got -0.1)"),
        ("promotion", "confidence", "0.4", "must be in [0.5, 1) (got 0.4)"),
        ("promotion", "bootstrap", "99", "must be >= 100 (got 99)"),
        ("promotion", "min_holdout", "0", "must be a positive integer (got 0)"),
        ("promotion", "guardrails", "{ neg_log_loss = -1 }", None),
        ("training", "seed", "-1", "must be >= 0 (got -1)"),
        ("training", "memory_mb", "0", "must be a positive integer (got 0)"),
        ("policy", "max_retrains_per_day", "0", "must be a positive integer (got 0)"),
    ],
)
def test_numbers_out_of_range(
    tmp_path: Path, section: str, key: str, value: str, why: str | None
) -> None:
    """Each bounded number reports its allowed interval and the value as written."""
    found = one_problem(tmp_path, set_key(section, key, value))
    if why is None:  # a table of margins: the problem is on the inner key
        assert found == f"models[0].{section}.{key}.neg_log_loss: must be >= 0 (got -1)"
    else:
        assert found == f"models[0].{section}.{key}: {why}"


def test_hysteresis_k_may_not_exceed_n(tmp_path: Path) -> None:
    """K-of-N with K > N could never fire."""
    text = doc(drift="hysteresis_k = 4\nhysteresis_n = 3")
    assert (
        one_problem(tmp_path, text)
        == "models[0].drift.hysteresis_k: must be <= hysteresis_n (3) (got 4)"
    )


# ---------------------------------------------------------------------------------------------
# durations


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('"-5m"', "must be positive"),
        ('"0s"', "must be positive"),
        ('"0m0s"', "must be positive"),
        ('"15 minutes"', 'must be a duration such as "90s", "15m", "6h" or "7d"'),
        ('"15"', 'must be a duration such as "90s", "15m", "6h" or "7d"'),
        ('"1M"', 'must be a duration such as "90s", "15m", "6h" or "7d"'),
        ('""', 'must be a duration such as "90s", "15m", "6h" or "7d"'),
        ('"0.5s"', "must be a whole number of seconds"),
        ('"9999999999d"', "is too long (at most 999999999d)"),
        ("900", 'must be a duration string such as "15m"'),
        ("-5", 'must be a duration string such as "15m"'),
    ],
)
@pytest.mark.parametrize(("section", "key"), _duration_keys())
def test_bad_durations_for_every_duration_key(
    tmp_path: Path, section: str | None, key: str, value: str, why: str
) -> None:
    """Negative, zero, malformed and non-string durations are one problem each, for every key."""
    found = one_problem(tmp_path, set_key(section, key, value))
    shown = repr(value[1:-1]) if value.startswith('"') else value
    assert found == f"{key_path(section, key)}: {why} (got {shown})"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("6h", 21600), ("7d", 604800)]
)
def test_duration_spellings_from_the_issue(tmp_path: Path, text: str, seconds: int) -> None:
    """The four spellings of the issue are accepted as timedeltas."""
    cfg = load_ok(tmp_path, set_key("data", "window", f'"{text}"'))
    assert cfg.models[0].data.window == timedelta(seconds=seconds)


# ---------------------------------------------------------------------------------------------
# schedule


def test_every_and_cron_both_set(tmp_path: Path) -> None:
    """A model runs on an interval or a crontab, not both."""
    text = doc(model='name = "churn"\nevery = "15m"\ncron = "0 * * * *"')
    assert one_problem(tmp_path, text) == (
        'models[0].every: set exactly one of every = "15m" or cron = "..." (both are set)'
    )


def test_every_and_cron_neither_set(tmp_path: Path) -> None:
    """A model without a schedule would never run."""
    text = doc(model='name = "churn"')
    assert one_problem(tmp_path, text) == (
        'models[0].every: set exactly one of every = "15m" or cron = "..." (neither is set)'
    )


def test_malformed_every_is_one_problem_not_two(tmp_path: Path) -> None:
    """A bad `every` is still "set": no second complaint that neither every nor cron is set."""
    text = doc(model='name = "churn"\nevery = "soon"')
    assert problems(tmp_path, text) == [
        'models[0].every: must be a duration such as "90s", "15m", "6h" or "7d" (got \'soon\')'
    ]


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("* * * *", "must have 5 fields: minute hour day month day_of_week"),
        ("0 0 * * * *", "must have 5 fields: minute hour day month day_of_week"),
        ("61 * * * *", "minute field '61': values must be in 0-59"),
        ("* 24 * * *", "hour field '24': values must be in 0-23"),
        ("* * 0 * *", "day field '0': values must be in 1-31"),
        ("* * * 13 *", "month field '13': values must be in 1-12"),
        ("*/0 * * * *", "minute field '*/0': the step must be between 1 and 59"),
        ("5-1 * * * *", "minute field '5-1': the range is reversed"),
        ("abc * * * *", "minute field 'abc': names are not allowed here"),
        ("* * * foo *", "month field 'foo': 'foo' is not a month name"),
        (
            "* * * * 1-5",
            "day_of_week field '1-5': use names such as mon-fri (APScheduler counts 0 = Monday)",
        ),
        ("* * * jan-mar/2 *", "month field 'jan-mar/2': a step needs numbers, not names"),
        ("1,,2 * * * *", "minute field '1,,2': '' is not a value, a range or a step"),
    ],
)
def test_bad_cron_is_rejected_at_load_time(tmp_path: Path, cron: str, why: str) -> None:
    """A crontab the scheduler would refuse or misread fails validation, not the running daemon."""
    text = doc(model=f'name = "churn"\ncron = "{cron}"')
    assert one_problem(tmp_path, text) == f"models[0].cron: {why} (got {cron!r})"


@pytest.mark.parametrize(
    "cron", ["0 * * * *", "*/15 6-18 * * mon-fri", "0 3 last * *", "0 0 1 jan,jul *"]
)
def test_good_cron_is_accepted(tmp_path: Path, cron: str) -> None:
    """Ordinary crontab expressions, month/weekday names and `last` day load unchanged."""
    cfg = load_ok(tmp_path, doc(model=f'name = "churn"\ncron = "{cron}"'))
    assert cfg.models[0].schedule == Schedule(cron=cron)


def test_jitter_rules(tmp_path: Path) -> None:
    """jitter must be shorter than `every`, and is refused with cron (the daemon ignores it)."""
    assert one_problem(tmp_path, doc(model='name = "a"\nevery = "1m"\njitter = "1m"')) == (
        "models[0].jitter: must be shorter than every (got '1m')"
    )
    assert one_problem(tmp_path, doc(model='name = "a"\ncron = "* * * * *"\njitter = "5s"')) == (
        "models[0].jitter: only applies with every; cron runs are not jittered (got '5s')"
    )
    cfg = load_ok(tmp_path, doc(model='name = "a"\nevery = "1m"\njitter = "10s"'))
    assert cfg.models[0].schedule.jitter == timedelta(seconds=10)


# ---------------------------------------------------------------------------------------------
# models, names, required keys


def test_duplicate_model_names(tmp_path: Path) -> None:
    """Two models with one name would share a registry row and an artifact directory."""
    model = doc(top="", model='name = "churn"\nevery = "1h"')
    text = 'registry = "r.db"\n' + model + model
    assert one_problem(tmp_path, text) == "models: model name 'churn' is used more than once"


def test_duplicate_model_names_reported_alongside_other_problems(tmp_path: Path) -> None:
    """A duplicate is found even when one of the two tables is otherwise broken."""
    first = doc(top="", model='name = "churn"\nevery = "1h"')
    second = doc(top="", model='name = "churn"\nevery = "1h"', data=DATA.replace('"1d"', '"-1d"'))
    found = problems(tmp_path, 'registry = "r.db"\n' + first + second)
    assert found == [
        "models[1].data.window: must be positive (got '-1d')",
        "models: model name 'churn' is used more than once",
    ]


@pytest.mark.parametrize("name", ["..", ".hidden", "a b", "a/b", ""])
def test_model_name_must_be_safe_as_a_directory_name(tmp_path: Path, name: str) -> None:
    """The name becomes a directory under `artifacts`: no separators, spaces or leading dot."""
    found = one_problem(tmp_path, doc(model=f'name = "{name}"\nevery = "1h"'))
    if name:
        assert found == (
            "models[0].name: must be letters, digits, '-', '_' or '.', not starting with '.' "
            f"(got {name!r})"
        )
    else:
        assert found == "models[0].name: must not be empty (got '')"


def test_empty_models_array_is_rejected(tmp_path: Path) -> None:
    """`models = []` monitors nothing: the same problem as having no [[models]] at all."""
    assert one_problem(tmp_path, 'registry = "r.db"\nmodels = []\n') == (
        "models: at least one [[models]] table is required"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (doc(top=""), "registry: is required"),
        ('registry = "r.db"\n', "models: at least one [[models]] table is required"),
        (doc(model='every = "1h"'), "models[0].name: is required"),
        (doc(data=None), "models[0].data: is required"),
        *[
            (
                doc(data="\n".join(x for x in DATA.splitlines() if not x.startswith(k))),
                f"models[0].data.{k}: is required",
            )
            for k in ("reference", "live", "timestamp", "target", "window")
        ],
        (
            doc(data=DATA.replace('"data/ref.csv"', '{ query = "select 1" }')),
            "models[0].data.reference.path: is required",
        ),
    ],
)
def test_missing_required_key(tmp_path: Path, text: str, expected: str) -> None:
    """Each required key, when absent, is exactly one `key: is required` problem."""
    assert one_problem(tmp_path, text) == expected


def test_features_must_not_be_empty_and_must_hold_categoricals(tmp_path: Path) -> None:
    """An empty feature list would monitor nothing; categoricals must be among the features."""
    assert one_problem(tmp_path, set_key("data", "features", "[]")) == (
        "models[0].data.features: must not be empty (leave it out to monitor every column) (got [])"
    )
    text = doc(data=DATA + 'features = ["a", "ts", "a"]\ncategorical = ["b"]')
    assert problems(tmp_path, text) == [
        "models[0].data.features: has duplicates (got ['a', 'ts', 'a'])",
        "models[0].data.categorical: 'b' is not in data.features (got 'b')",
        "models[0].data.features: 'ts' is the timestamp or target column (got 'ts')",
    ]


# ---------------------------------------------------------------------------------------------
# paths and sources


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths follow the config file, not the working directory of whoever loads it."""
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    write(conf_dir, doc(top='registry = "state/r.db"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load(Path("..") / "etc" / "config.toml")
    m = cfg.models[0]
    assert cfg.registry == conf_dir.resolve() / "state" / "r.db"
    assert cfg.artifacts == conf_dir.resolve() / "state" / "artifacts"  # default: beside registry
    assert Path(m.data.reference.path).is_absolute()
    assert Path(m.data.reference.path).resolve() == conf_dir.resolve() / "data" / "ref.csv"
    assert m.data.live.path.endswith("data/live/*.csv")  # a glob stays a glob


def test_absolute_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Absolute paths are kept; `~` expands to $HOME (the process environment is a boundary)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = doc(
        top=f'registry = "{tmp_path}/abs/r.db"\nartifacts = "~/art"',
        data=DATA.replace('"data/ref.csv"', '"~/ref.csv"'),
    )
    cfg = load_ok(tmp_path, text)
    assert cfg.registry == (tmp_path / "abs" / "r.db").resolve()
    assert cfg.artifacts == (tmp_path / "home" / "art").resolve()
    assert cfg.models[0].data.reference.path == str(tmp_path / "home" / "ref.csv")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('"~no_such_user_xyz/r.db"', "is not a usable path: Could not determine home directory."),
        ('"a\\u0000b"', "is not a usable path: embedded null byte"),
    ],
)
def test_unusable_paths_are_problems_not_crashes(tmp_path: Path, value: str, why: str) -> None:
    """An unknown ~user or a NUL byte is reported like any other bad value."""
    found = one_problem(tmp_path, doc(top=f"registry = {value}"))
    assert found.startswith(f"registry: {why} (got ")


def test_sqlite_source_needs_a_query_and_resolves_its_file(tmp_path: Path) -> None:
    """sqlite:///rel.db is resolved like any path; without a query there is nothing to read."""
    good = DATA.replace(
        '"data/ref.csv"', '{ path = "sqlite:///db/ref.db", query = "select * from t" }'
    )
    ref = load_ok(tmp_path, doc(data=good)).models[0].data.reference
    assert ref == SourceConfig(
        f"sqlite:///{(tmp_path / 'db' / 'ref.db').resolve()}", "select * from t"
    )
    assert ref.is_sqlite
    absolute = DATA.replace(
        '"data/ref.csv"', f'{{ path = "sqlite:///{tmp_path}/x.db", query = "q" }}'
    )
    assert load_ok(tmp_path, doc(data=absolute)).models[0].data.reference.path == (
        f"sqlite:///{tmp_path.resolve()}/x.db"
    )
    no_query = DATA.replace('"data/ref.csv"', '"sqlite:///ref.db"')
    assert one_problem(tmp_path, doc(data=no_query)) == (
        "models[0].data.reference.query: is required for a sqlite:/// source"
    )


def test_sqlite_source_needs_a_file(tmp_path: Path) -> None:
    """`sqlite:///` alone would resolve to the config's directory."""
    text = doc(data=DATA.replace('"data/ref.csv"', '{ path = "sqlite:///", query = "q" }'))
    assert one_problem(tmp_path, text) == (
        "models[0].data.reference.path: needs a database file after sqlite:/// (got 'sqlite:///')"
    )


def test_query_on_a_file_source_is_an_error(tmp_path: Path) -> None:
    """A query on a CSV would be silently ignored; it is refused instead."""
    text = doc(data=DATA.replace('"data/ref.csv"', '{ path = "ref.csv", query = "select 1" }'))
    assert one_problem(tmp_path, text) == (
        "models[0].data.reference.query: only applies to sqlite:/// sources (got 'select 1')"
    )


@pytest.mark.parametrize(
    "url", ["s3://bucket/ref.csv", "https://example.com/ref.csv", "sqlite://rel.db"]
)
def test_url_sources_are_rejected(tmp_path: Path, url: str) -> None:
    """Path() would turn "s3://b/x" into "s3:/b/x" under the config dir; refuse URLs outright."""
    text = doc(data=DATA.replace('"data/ref.csv"', f'"{url}"'))
    assert one_problem(tmp_path, text) == (
        f"models[0].data.reference.path: must be a file, a glob or sqlite:///file.db (got {url!r})"
    )


# ---------------------------------------------------------------------------------------------
# estimator and scorer names


def _estimator(name: str) -> str | None:
    return None if name.startswith("sklearn.") else f"unknown estimator {name!r}"


def _scorer(name: str) -> str | None:
    return None if name in {"roc_auc", "accuracy", "neg_log_loss"} else f"unknown scorer {name!r}"


CHECKS = NameChecks(estimator=_estimator, scorer=_scorer)


def test_unknown_estimator_reported_via_name_check(tmp_path: Path) -> None:
    """The estimator path is checked by the caller's callable, and its message is kept."""
    text = doc(training='estimator = "mylib.Model"')
    assert one_problem(tmp_path, text, CHECKS) == (
        "models[0].training.estimator: unknown estimator 'mylib.Model' (got 'mylib.Model')"
    )


def test_unknown_scorer_and_guardrail_reported_via_name_check(tmp_path: Path) -> None:
    """The scorer and each guardrail metric go through the scorer check; built-ins are exempt."""
    text = doc(
        promotion='scorer = "auc"\n'
        "guardrails = { f9 = 0.1, latency_ms_per_1k = 5, accuracy = 0.01 }"
    )
    assert problems(tmp_path, text, CHECKS) == [
        "models[0].promotion.scorer: unknown scorer 'auc' (got 'auc')",
        "models[0].promotion.guardrails.f9: unknown scorer 'f9' (got 'f9')",
    ]


def test_names_are_not_checked_without_checkers(tmp_path: Path) -> None:
    """Without NameChecks (e.g. `driftd status`) any name loads, so no sklearn import is needed."""
    text = doc(training='estimator = "mylib.Model"', promotion='scorer = "auc"')
    cfg = load_ok(tmp_path, text)
    assert (cfg.models[0].training.estimator, cfg.models[0].promotion.scorer) == (
        "mylib.Model",
        "auc",
    )


def _real_checks() -> NameChecks | None:
    """The checkers of driftd.trainer and driftd.evaluate, or None while they are not written."""
    try:
        trainer = importlib.import_module("driftd.trainer")
        evaluate = importlib.import_module("driftd.evaluate")
    except ImportError:
        return None
    estimator = getattr(trainer, "check_estimator", None)
    scorer = getattr(evaluate, "check_scorer", None)
    if estimator is None or scorer is None:
        return None
    return NameChecks(estimator=estimator, scorer=scorer)


def test_real_name_checks_from_trainer_and_evaluate(tmp_path: Path) -> None:
    """The real checkers accept the repository's config and reject made-up names."""
    checks = _real_checks()
    if checks is None:
        pytest.skip("driftd.trainer.check_estimator / driftd.evaluate.check_scorer not written yet")
    load(REPO / "config.toml", checks)
    text = doc(
        training='estimator = "sklearn.linear_model.NoSuchModel"', promotion='scorer = "no_such"'
    )
    found = problems(tmp_path, text, checks)
    assert [p.split(":")[0] for p in found] == [
        "models[0].training.estimator",
        "models[0].promotion.scorer",
    ]


# ---------------------------------------------------------------------------------------------
# many problems at once


def test_many_problems_are_reported_together(tmp_path: Path) -> None:
    """One run of `driftd validate` lists every problem, one per line, none hidden by another.

    Problems come in reading order: a table's keys, its sub-tables, then its unknown keys.
    """
    text = """\
registry = 5
log_level = "loud"
colour = "blue"

[[models]]
name = "a"
every = "-1m"

[models.data]
reference = "sqlite:///x.db"
live = { path = "l.csv", query = "select 1" }
timestamp = "ts"
target = "y"
window = "1 day"

[models.drift]
alpha = 1.5
share = nan
hysteresis_k = true

[models.training]
estimator = "mylib.Model"
timeout = 0

[models.promotion]
scorer = "auc"

[models.policy]
cooldown = "0s"
max_retrains_per_day = 0

[[models]]
name = "a"
cron = "61 * * * *"
[models.data]
reference = "r.csv"
"""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path, CHECKS)
    expected = [
        "registry: must be a string (got 5)",
        "log_level: must be one of debug, info, warning, error (got 'loud')",
        "models[0].every: must be positive (got '-1m')",
        "models[0].data.reference.query: is required for a sqlite:/// source",
        "models[0].data.live.query: only applies to sqlite:/// sources (got 'select 1')",
        "models[0].data.window: must be a duration such as "
        '"90s", "15m", "6h" or "7d" (got \'1 day\')',
        "models[0].drift.alpha: must be in (0, 1) (got 1.5)",
        "models[0].drift.share: must be finite (got nan)",
        "models[0].drift.hysteresis_k: must be an integer (got true)",
        "models[0].training.estimator: unknown estimator 'mylib.Model' (got 'mylib.Model')",
        'models[0].training.timeout: must be a duration string such as "15m" (got 0)',
        "models[0].promotion.scorer: unknown scorer 'auc' (got 'auc')",
        "models[0].policy.cooldown: must be positive (got '0s')",
        "models[0].policy.max_retrains_per_day: must be a positive integer (got 0)",
        "models[1].cron: minute field '61': values must be in 0-59 (got '61 * * * *')",
        "models[1].data.live: is required",
        "models[1].data.timestamp: is required",
        "models[1].data.target: is required",
        "models[1].data.window: is required",
        "models: model name 'a' is used more than once",
        "colour: unknown key (got 'blue')",
    ]
    assert list(info.value.problems) == expected
    assert str(info.value).splitlines() == [f"{path}: {p}" for p in expected]
    assert info.value.exit_code == 78


# ---------------------------------------------------------------------------------------------
# reading the file


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming it (exit 78), not a FileNotFoundError."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: file not found"
    assert info.value.exit_code == 78


def test_non_utf8_file(tmp_path: Path) -> None:
    """TOML is UTF-8; a Latin-1 file is reported with the offending byte and its offset."""
    path = write(tmp_path, 'registry = "caf\xe9.db"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: is not UTF-8 text (byte 0xe9 at offset 15)"


def test_invalid_toml(tmp_path: Path) -> None:
    """A syntax error carries tomllib's line and column, prefixed with the file name."""
    path = write(tmp_path, 'registry = "r.db"\n[[models]\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in line


def test_directory_instead_of_file(tmp_path: Path) -> None:
    """Pointing --config at a directory is a one-line ConfigError too."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == f"{tmp_path}: not a regular file (it is a directory)"


# ---------------------------------------------------------------------------------------------
# finding the file


def test_resolve_config_path_prefers_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """--config wins over $DRIFTD_CONFIG."""
    monkeypatch.setenv("DRIFTD_CONFIG", "/from/env.toml")
    assert resolve_config_path("/from/flag.toml") == Path("/from/flag.toml")


def test_resolve_config_path_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --config, $DRIFTD_CONFIG is used."""
    monkeypatch.setenv("DRIFTD_CONFIG", "/from/env.toml")
    assert resolve_config_path(None) == Path("/from/env.toml")


def test_resolve_config_path_then_etc(monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither (or an empty variable), the system path /etc/driftd/config.toml is used."""
    monkeypatch.delenv("DRIFTD_CONFIG", raising=False)
    assert resolve_config_path(None) == Path("/etc/driftd/config.toml")
    monkeypatch.setenv("DRIFTD_CONFIG", "")
    assert resolve_config_path(None) == Path(cfg_mod.DEFAULT_CONFIG_PATH)


def test_model_config_fields_match_the_sections() -> None:
    """The SECTIONS table used above covers every sub-table of ModelConfig."""
    nested = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "schedule", "notify"}
    assert nested == set(SECTIONS)


# ---------------------------------------------------------------------------------------------
# metrics, report, notify, dask, daemon; hooks, engine, executor (session 5's keys)

NEW_KEYS_DOC = """\
registry = "state/registry.db"
[metrics]
textfile = "out/driftd.prom"
listen = "[::1]:9108"
max_features = 7
[report]
dir = "reports"
[[notify]]
url = "https://hooks.example.com/x"
format = "slack"
events = ["drift", "promote"]
headers = { Authorization = "env:HOOK_TOKEN", X-Team = "ml" }
[[notify]]
command = ["/usr/local/bin/page", "--quiet"]
retries = 0
timeout = "2s"
[dask]
scheduler = "tcp://10.0.0.5:8786"
[daemon]
workers = 3
[[models]]
name = "churn"
every = "15m"
[models.data]
reference = "data/ref.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
engine = "dask"
[models.training]
executor = "dask"
[models.promotion]
on_champion_change = ["systemctl", "reload", "model-server"]
hook_timeout = "5s"
[[models.notify]]
command = ["notify-send", "driftd"]
events = ["failure"]
"""


def test_new_sections_default_when_left_out(tmp_path: Path) -> None:
    """A config written before these keys existed loads with every new field at its default."""
    cfg = load_ok(tmp_path, doc())
    m = cfg.model("churn")
    assert cfg.metrics == cfg_mod.MetricsConfig(textfile=None, listen=None, max_features=100)
    assert cfg.report == cfg_mod.ReportConfig(dir=None)
    assert cfg.notify == () and m.notify == ()
    assert cfg.dask == cfg_mod.DaskConfig(scheduler="threads")
    assert cfg.daemon.workers == cfg_mod.default_workers()
    assert 1 <= cfg.daemon.workers <= 8
    assert m.data.engine == "pandas" and m.training.executor == "process"
    assert m.promotion.on_champion_change is None
    assert m.promotion.hook_timeout == timedelta(seconds=30)


def test_new_keys_are_read_into_their_fields(tmp_path: Path) -> None:
    """Every new key, set to a non-default value, arrives in its dataclass field, converted."""
    cfg = load_ok(tmp_path, NEW_KEYS_DOC)
    m = cfg.model("churn")
    assert cfg.metrics.textfile == (tmp_path / "out" / "driftd.prom").resolve()
    assert cfg.metrics.listen == ("::1", 9108)
    assert cfg.metrics.max_features == 7
    assert cfg.report.dir == (tmp_path / "reports").resolve()
    hook, page = cfg.notify
    assert hook.url == "https://hooks.example.com/x" and hook.command is None
    assert hook.format == "slack" and hook.events == ("drift", "promote")
    assert hook.headers == {"Authorization": "env:HOOK_TOKEN", "X-Team": "ml"}
    assert hook.timeout == timedelta(seconds=10) and hook.retries == 3
    assert page.command == ("/usr/local/bin/page", "--quiet") and page.url is None
    assert page.events == cfg_mod.NOTIFY_EVENTS and len(page.events) == 9
    assert page.retries == 0 and page.timeout == timedelta(seconds=2)
    assert cfg.dask.scheduler == "tcp://10.0.0.5:8786"
    assert cfg.daemon.workers == 3
    assert m.data.engine == "dask" and m.training.executor == "dask"
    assert m.promotion.on_champion_change == ("systemctl", "reload", "model-server")
    assert m.promotion.hook_timeout == timedelta(seconds=5)
    assert m.notify == (
        cfg_mod.NotifyConfig(events=("failure",), command=("notify-send", "driftd")),
    )


TOP = 'registry = "r.db"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TOP + '[metrics]\ntextfile = "m.txt"', "metrics.textfile: must end in .prom"),
        (TOP + '[metrics]\nlisten = "9108"', 'metrics.listen: must be "host:port"'),
        (TOP + '[metrics]\nlisten = "h:70000"', 'metrics.listen: must be "host:port"'),
        (TOP + '[metrics]\nlisten = ":9108"', 'metrics.listen: must be "host:port"'),
        (TOP + "[metrics]\nmax_features = -1", "metrics.max_features: must be >= 0 (got -1)"),
        (TOP + "[report]\ndir = 3", "report.dir: must be a string (got 3)"),
        (TOP + "[dask]\nscheduler = 'tcp://h'", "dask.scheduler: must be threads, processes"),
        (TOP + "[dask]\nscheduler = 'thread'", "dask.scheduler: must be threads, processes"),
        (TOP + "[daemon]\nworkers = 0", "daemon.workers: must be a positive integer (got 0)"),
        (TOP + "[daemon]\nworkers = 2.0", "daemon.workers: must be an integer (got 2.0)"),
        (TOP + "notify = {url = 'http://h'}", "notify: must be an array of tables ([[notify]])"),
        (TOP + "[[notify]]\nurl = 'ftp://h/x'", "notify[0].url: must be an http:// or https://"),
        (TOP + "[[notify]]\nurl = 'https://'", "notify[0].url: must be an http:// or https://"),
        (TOP + "[[notify]]\nformat = 'json'", "notify[0].url: set exactly one of command or url"),
        (
            TOP + "[[notify]]\nurl = 'http://h'\ncommand = ['x']",
            "notify[0].url: set exactly one of command or url (both are set)",
        ),
        (TOP + "[[notify]]\ncommand = []", "notify[0].command: must not be empty"),
        (TOP + "[[notify]]\ncommand = ['x']\nevents = []", "notify[0].events: must not be empty"),
        (
            TOP + "[[notify]]\ncommand = ['x']\nevents = ['promoted']",
            "notify[0].events: 'promoted' is not one of drift, retrain, promote, reject, "
            "awaiting_approval, rollback, failure, daemon_stop, watchdog, did you mean 'promote'?",
        ),
        (TOP + "[[notify]]\ncommand = ['x']\nformat = 'xml'", "notify[0].format: must be one of"),
        (
            TOP + "[[notify]]\ncommand = ['x']\nretries = 11",
            "notify[0].retries: must be in [0, 10]",
        ),
        (
            TOP + "[[notify]]\ncommand = ['x']\ntimeout = '0s'",
            "notify[0].timeout: must be positive",
        ),
        (
            TOP + "[[notify]]\ncommand = ['x']\nheaders = {A = 'b'}",
            "notify[0].headers: only applies with url",
        ),
        (
            TOP + "[[notify]]\nurl = 'http://h'\nheaders = {'A B' = 'c'}",
            "notify[0].headers.A B: is not a valid HTTP header name",
        ),
        (
            TOP + "[[notify]]\nurl = 'http://h'\nheaders = {A = \"x\\ny\"}",
            "notify[0].headers.A: must not contain line breaks",
        ),
        (
            TOP + "[[notify]]\nurl = 'http://h'\nheaders = {A = 'credential:../k'}",
            'notify[0].headers.A: needs a name after "credential:"',
        ),
        (TOP + "[[notify]]\nurl = 'http://h'\nheaders = {A = 1}", "notify[0].headers.A: must be a"),
    ],
)
def test_new_top_level_keys_are_validated(tmp_path: Path, text: str, expected: str) -> None:
    """Each bad value of a new top-level key is one problem, naming the key path."""
    found = [p for p in problems(tmp_path, text + "\n" + doc(top="")) if not p.startswith("models")]
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("section", "line", "expected"),
    [
        ("data", 'engine = "spark"', "models[0].data.engine: must be one of pandas, dask"),
        ("training", 'executor = "ray"', "models[0].training.executor: must be one of process"),
        (
            "promotion",
            "on_champion_change = []",
            "models[0].promotion.on_champion_change: must not",
        ),
        (
            "promotion",
            'on_champion_change = "x"',
            "models[0].promotion.on_champion_change: must be",
        ),
        (
            "promotion",
            'hook_timeout = "30"',
            "models[0].promotion.hook_timeout: must be a duration",
        ),
    ],
)
def test_new_model_keys_are_validated(
    tmp_path: Path, section: str, line: str, expected: str
) -> None:
    """The new [[models]] keys refuse bad values with one problem naming the full key path."""
    key, _, value = line.partition(" = ")
    assert one_problem(tmp_path, set_key(section, key, value)).startswith(expected)


def test_model_notify_problems_name_the_model_and_the_target(tmp_path: Path) -> None:
    """[[models.notify]] problems carry both indexes, and its header in the array-shape error."""
    text = doc() + "[[models.notify]]\nurl = 'http://h'\n[[models.notify]]\nretries = 3\n"
    assert one_problem(tmp_path, text) == (
        "models[0].notify[1].url: set exactly one of command or url (neither is set)"
    )
    bad = doc(model='name = "churn"\nevery = "15m"\nnotify = 3')
    assert one_problem(tmp_path, bad) == (
        "models[0].notify: must be an array of tables ([[models.notify]]) (got 3)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            doc(top='registry = "r.db"\n[metrics]\nlisten_on = ":1"'),
            "metrics.listen_on: unknown key, did you mean 'listen'?",
        ),
        (doc(drift="alhpa = 0.1"), "models[0].drift.alhpa: unknown key, did you mean 'alpha'?"),
        (
            doc(policy="cooldwn = '1h'"),
            "models[0].policy.cooldwn: unknown key, did you mean 'cooldown'?",
        ),
        (
            doc() + "[models.drfit]\nalpha = 0.1\n",
            "models[0].drfit: unknown key, did you mean 'drift'?",
        ),
        (doc(top='registry = "r.db"\n[[notfy]]'), "notfy: unknown key, did you mean 'notify'?"),
        (doc(drift="zzz = 1"), "models[0].drift.zzz: unknown key (got 1)"),
    ],
)
def test_misspelt_keys_get_a_did_you_mean(tmp_path: Path, text: str, expected: str) -> None:
    """An unknown key names the closest key of the same table; nothing close, no guess."""
    assert one_problem(tmp_path, text).startswith(expected)


def test_validate_suggests_the_key_and_exits_78(tmp_path: Path) -> None:
    """`driftd validate` on a misspelt key: exit 78, one stderr line with the suggestion."""
    import subprocess
    import sys

    path = write(tmp_path, doc(promotion="hook_timout = '5s'"))
    proc = subprocess.run(
        [sys.executable, "-m", "driftd", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == EXIT_CONFIG
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [
        f"driftd: {path}: models[0].promotion.hook_timout: unknown key, "
        "did you mean 'hook_timeout'? (got '5s')"
    ]


# ---------------------------------------------------------------------------------------------
# the key table (driftd/config/keys.py): one source for types, defaults, ranges, choices, docs


def _written_defaults() -> str:
    """A document that writes every key with a TOML default at that default, table by table."""
    from driftd.config.keys import KEYS, tables
    from driftd.config.spec import ARRAY_TABLES, toml_literal

    filled = {"models.every": '"15m"', "models.name": '"churn"'}
    filled |= {"notify.command": '["x"]', "models.notify.command": '["x"]'}
    for line in DATA.splitlines():
        name, _, value = line.partition(" = ")
        filled[f"models.data.{name}"] = value
    lines = ['registry = "state/registry.db"']
    for table in tables():
        if table:
            lines.append(f"[[{table}]]" if table in ARRAY_TABLES else f"[{table}]")
        for path, key in KEYS.items():
            writable = isinstance(key.default, str | int | float | list | dict)
            if key.type == "duration" and not isinstance(key.default, str):
                writable = False  # label_delay: 0 is "unset", not a duration string
            if key.table != table:
                continue
            if path in filled:
                lines.append(f"{key.name} = {filled[path]}")
            elif writable:
                lines.append(f"{key.name} = {toml_literal(key.default)}")
    return "\n".join(lines) + "\n"


def test_every_default_written_out_loads_as_the_defaults(tmp_path: Path) -> None:
    """Writing each key's documented default changes nothing: the table's defaults are values
    the reader accepts and converts to what the dataclasses hold when the key is left out."""
    text = _written_defaults()
    assert "alpha = 0.05" in text and 'cooldown = "1h"' in text and "[[models.notify]]" in text
    written = load_ok(tmp_path, text)
    left_out = load_ok(tmp_path, doc())
    m, d = written.model("churn"), left_out.model("churn")
    assert (m.drift, m.training, m.promotion, m.policy) == (
        d.drift,
        d.training,
        d.promotion,
        d.policy,
    )
    assert (m.schedule, m.data) == (d.schedule, d.data)
    assert (written.metrics, written.report, written.dask) == (
        left_out.metrics,
        left_out.report,
        left_out.dask,
    )
    assert written.notify == (cfg_mod.NotifyConfig(command=("x",)),)
    assert m.notify == written.notify


def test_every_key_has_a_one_line_doc_and_its_bounds() -> None:
    """Each row says what the key is in one line; numbers carry their range, strings of a fixed
    set their choices, so that validation has them to run from."""
    from driftd.config.keys import KEYS

    for path, key in KEYS.items():
        assert key.doc.strip() and "\n" not in key.doc and len(key.doc) <= 100, path
        if key.kind in ("number", "number_or_false"):
            assert key.lo is not None and key.hi is not None, path
        assert key.kind is not None or key.type == "table", path


def test_enumerations_are_typed_with_the_tables_choices() -> None:
    """A key with choices is a Literal-typed field whose arguments are exactly those choices."""
    import typing

    from driftd.config.keys import KEYS

    owners = {
        "models.drift": DriftConfig,
        "models.promotion": PromotionConfig,
        "models.data": DataConfig,
        "models.training": TrainingConfig,
        "notify": cfg_mod.NotifyConfig,
        "": Config,
    }
    typed = 0
    for key in KEYS.values():
        if not key.choices or key.table not in owners:
            continue
        hint = typing.get_type_hints(owners[key.table])[key.name]
        if typing.get_origin(hint) is tuple:  # notify.events: tuple[NotifyEvent, ...]
            hint = typing.get_args(hint)[0]
        assert typing.get_origin(hint) is typing.Literal, key.path
        assert typing.get_args(hint) == key.choices, key.path
        typed += 1
    assert typed == 10  # log_level, engine, correction, decision, baseline, executor, mode,
    # resample, 2 notify
