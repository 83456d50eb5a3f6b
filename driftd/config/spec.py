"""What a key is: its type, default, range or choices and one-line doc (the table is in keys.py).

The reader takes bounds, choices and defaults from here, the dataclasses in models.py take their
defaults from here, and tests/test_readme_defaults.py checks the README's configuration reference
against the same table, so a key is described once.

>>> Key("models.policy.cooldown", "duration", "1h", "No retrain within this long.").loaded
datetime.timedelta(seconds=3600)
>>> Key("models.drift.alpha", "float", 0.05, "Significance level.").cell
'`0.05`'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

from driftd.durations import parse_duration

# The enumerations: the Literal is the type of the dataclass field, its arguments the choices.
Correction = Literal["bh", "bonferroni", "none"]
PromotionMode = Literal["auto", "dry-run", "manual"]
Decision = Literal["combined", "share"]  # drift.decision: how the dataset verdict is decided
Resample = Literal["rows", "days"]  # promotion.resample: what the paired bootstrap draws
Baseline = Literal["background", "fixed"]  # drift.baseline: where materiality thresholds come from
LogLevel = Literal["debug", "info", "warning", "error"]
Engine = Literal["pandas", "dask"]  # data.engine: what reads the sources
Executor = Literal["process", "dask"]  # training.executor: where a candidate is trained
NotifyFormat = Literal["json", "slack"]
NotifyEvent = Literal[
    "drift",
    "retrain",
    "promote",
    "reject",
    "awaiting_approval",
    "rollback",
    "failure",
    "daemon_stop",
    "watchdog",
]

CORRECTIONS: tuple[Correction, ...] = get_args(Correction)
PROMOTION_MODES: tuple[PromotionMode, ...] = get_args(PromotionMode)
DECISIONS: tuple[Decision, ...] = get_args(Decision)
BASELINES: tuple[Baseline, ...] = get_args(Baseline)
RESAMPLES: tuple[Resample, ...] = get_args(Resample)
LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)
ENGINES: tuple[Engine, ...] = get_args(Engine)
EXECUTORS: tuple[Executor, ...] = get_args(Executor)
NOTIFY_FORMATS: tuple[NotifyFormat, ...] = get_args(NotifyFormat)
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)
DASK_SCHEDULERS = ("threads", "processes")  # or "tcp://host:port" of a running scheduler

# Tables written [[name]]: one or more of them.
ARRAY_TABLES = ("models", "notify", "models.notify")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


REQUIRED: Any = _Marker("REQUIRED")  # no default: the key must be written
DERIVED: Any = _Marker("DERIVED")  # computed by the loader (or the host): described in prose

# README "type" column -> how the reader reads the value. None: read by the table's own code.
_KINDS: dict[str, str | None] = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
    "duration": "duration",
    "path": "path",
    "source": "source",
    "list of strings": "strings",
    'float or `"auto"`': "threshold",
    "float or `false`": "number_or_false",
    "table": None,
}


@dataclass(frozen=True, slots=True)
class Key:
    """One TOML key. ``default`` is the TOML value as written in the README (None: unset)."""

    path: str  # dotted, as the README names it: "models.drift.alpha"
    type: str  # the README's type column
    default: Any
    doc: str
    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    choices: tuple[str, ...] = ()
    shown: str | None = None  # the README's default cell when the default is not a TOML value

    @property
    def table(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def kind(self) -> str | None:
        return "choice" if self.choices and self.type == "string" else _KINDS[self.type]

    @property
    def cell(self) -> str:
        """The README's default cell for this key."""
        if self.shown is not None:
            return self.shown
        if self.default is REQUIRED:
            return "required"
        if self.default is None:
            return "unset"
        return f"`{toml_literal(self.default)}`"

    @property
    def loaded(self) -> Any:
        """The default as the loader holds it: durations as timedelta, lists as tuples."""
        value = self.default
        if value is None or value is REQUIRED or value is DERIVED:
            return None
        if self.type == "duration":
            return timedelta(0) if value == 0 else parse_duration(value)
        if isinstance(value, list):
            return tuple(value)
        if isinstance(value, dict):
            return dict(value)
        if self.kind in ("number", "threshold", "number_or_false") and type(value) is int:
            return float(value)
        return value


def toml_literal(value: Any) -> str:
    """A default written the way TOML (and the README) writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``", did you mean 'x'?"`` for the closest known word, or ``""`` when none is close.

    >>> did_you_mean("alhpa", ["alpha", "share"])
    ", did you mean 'alpha'?"
    >>> did_you_mean("zzz", ["alpha"])
    ''
    """
    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f", did you mean {close[0]!r}?" if close else ""
