"""The registry's state as the metrics need it: one read-only snapshot, plain dataclasses.

Stdlib only, through :func:`driftd.registry.queries.read` (``mode=ro``, one transaction): a
scrape sees one committed state, never half of a promotion, and never writes. Per model it
reads the newest check (its dataset verdict and per-feature rows), the newest runs, the
champion, and counts of runs, checks, trainings and decisions. Times become Unix seconds.

Per-feature rows are capped at ``max_features`` per model: the drifted ones first, then by
effect over threshold (the closest to drifting), then by name, so a capped model still shows
what matters and the order is stable between scrapes of one check.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     snapshot(Path(d) / "none.db", 100)
Snapshot(models=(), heartbeat=None)
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from driftd.registry import schema
from driftd.registry.codec import loads, parse_iso
from driftd.registry.queries import read

ESTIMATED, REALISED = "estimated:", "performance:"  # prefixes of driftd.extras' row names
PROMOTIONS = ("bootstrap", "promote", "manual_promote")  # the decisions that crown a version


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """One monitored feature in the newest check."""

    feature: str
    state: str
    effect_name: str
    effect: float | None
    threshold: float | None
    p_value: float | None
    p_adjusted: float | None


@dataclass(frozen=True, slots=True)
class Performance:
    """An estimated (``value`` the estimate, ``reference`` the champion's holdout value) or
    realised (``value`` the metric on fresh labels, ``reference`` its drop) performance row."""

    metric: str
    value: float | None
    reference: float | None
    threshold: float | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    beat_at: float
    started_at: float
    state: str
    next_runs: dict[str, float]


@dataclass(frozen=True, slots=True)
class Check:
    """The newest check of a model."""

    verdict: str
    dataset_p: float | None
    drifted_share: float | None
    share_threshold: float | None
    data_at: float  # the check's data clock (its run's `now`)
    features: tuple[FeatureRow, ...]  # capped; drifted and nearest to drifting first
    monitored: int  # every monitored feature, also those the cap left out
    drifted: int
    estimated: tuple[Performance, ...]
    realised: tuple[Performance, ...]

    @property
    def omitted(self) -> int:
        """Monitored features left out by the cap."""
        return self.monitored - len(self.features)


@dataclass(frozen=True, slots=True)
class Champion:
    version: str
    number: int
    since: float  # on the runs' clock: a run's `now`, or a CLI decision's wall time
    age: float  # at the model's own clock, as `driftd status` and policy.max_age have it


@dataclass(frozen=True, slots=True)
class ModelState:
    """One model: its newest check, its latest runs, its champion, and running totals."""

    name: str
    check: Check | None
    champion: Champion | None
    run_seconds: float | None  # wall-clock duration of the newest finished run
    last_run_at: float | None  # wall clock: when the newest finished run ended
    last_success_at: float | None  # ... and the newest run that ended ok or drift
    runs: dict[str, int] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)
    trainings: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Snapshot:
    models: tuple[ModelState, ...]
    heartbeat: Heartbeat | None


def snapshot(path: Path, max_features: int) -> Snapshot:
    """Everything the metrics show, from one read-only snapshot of the registry at ``path``."""
    with read(path) as c:
        if c is None:
            return Snapshot((), None)
        names = [str(r[0]) for r in c.execute("SELECT name FROM models ORDER BY name")]
        return Snapshot(tuple(_model(c, n, max_features) for n in names), _heartbeat(c))


def _seconds(text: str | None) -> float | None:
    return None if text is None else parse_iso(text).timestamp()


def _heartbeat(c: sqlite3.Connection) -> Heartbeat | None:
    row = c.execute(
        "SELECT beat_at, started_at, state, next_runs FROM heartbeat WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    runs = loads(row["next_runs"]) or {}
    return Heartbeat(
        parse_iso(row["beat_at"]).timestamp(),
        parse_iso(row["started_at"]).timestamp(),
        str(row["state"]),
        {str(m): parse_iso(str(t)).timestamp() for m, t in runs.items()},
    )


# Tables and columns are fixed names from this module, never input.
def _counts(
    c: sqlite3.Connection, table: str, column: str, name: str, keys: tuple[str, ...]
) -> dict[str, int]:
    """Rows per ``column`` value: every one of ``keys`` (0 when absent, so that each series
    exists from the start and ``rate()`` sees its first increase) and any other found."""
    out = dict.fromkeys(keys, 0)
    sql = f"SELECT {column}, count(*) FROM {table} WHERE model = ? GROUP BY {column}"
    out.update({str(k): int(n) for k, n in c.execute(sql, (name,)) if k != "running"})
    return out


def _model(c: sqlite3.Connection, name: str, max_features: int) -> ModelState:
    last = c.execute(
        "SELECT started_at, finished_at FROM runs WHERE model = ? AND finished_at IS NOT NULL "
        "ORDER BY id DESC LIMIT 1",
        (name,),
    ).fetchone()
    start, end = (None, None) if last is None else (_seconds(last[0]), _seconds(last[1]))
    ok = c.execute(
        "SELECT finished_at FROM runs WHERE model = ? AND status IN ('ok', 'drift') "
        "ORDER BY id DESC LIMIT 1",
        (name,),
    ).fetchone()
    finished = tuple(s for s in schema.RUN_STATUSES if s != "running")
    return ModelState(
        name=name,
        check=_check(c, name, max_features),
        champion=_champion(c, name),
        run_seconds=None if start is None or end is None else round(end - start, 3),
        last_run_at=end,
        last_success_at=None if ok is None else _seconds(ok[0]),
        runs=_counts(c, "runs", "status", name, finished),
        checks=_counts(c, "checks", "verdict", name, schema.VERDICTS),
        trainings=_counts(c, "trainings", "status", name, schema.TRAINING_STATUSES),
        decisions=_counts(c, "decisions", "action", name, schema.ACTIONS),
    )


def _check(c: sqlite3.Connection, name: str, max_features: int) -> Check | None:
    row = c.execute(
        "SELECT c.id, c.verdict, c.drifted_share, c.share_threshold, r.now_at, "
        "json_extract(c.report, '$.p_value') AS p FROM checks c JOIN runs r ON r.id = c.run_id "
        "WHERE c.model = ? ORDER BY c.id DESC LIMIT 1",
        (name,),
    ).fetchone()
    if row is None:
        return None
    features = [
        FeatureRow(*r)
        for r in c.execute(
            "SELECT feature, state, effect_name, effect, threshold, p_value, p_adjusted "
            "FROM feature_drift WHERE check_id = ? AND role = 'feature'",
            (row["id"],),
        )
    ]
    features.sort(key=_rank)
    return Check(
        verdict=str(row["verdict"]),
        dataset_p=row["p"],
        drifted_share=row["drifted_share"],
        share_threshold=row["share_threshold"],
        data_at=parse_iso(row["now_at"]).timestamp(),
        features=tuple(features[:max_features]),
        monitored=len(features),
        drifted=sum(f.state == "drift" for f in features),
        estimated=_performance(c, row["id"], ESTIMATED),
        realised=_performance(c, row["id"], REALISED),
    )


def _rank(row: FeatureRow) -> tuple[bool, float, str]:
    """Drifted first, then the largest effect relative to its threshold, then by name."""
    ratio = 0.0
    if row.effect is not None and row.threshold and math.isfinite(row.effect):
        ratio = row.effect / row.threshold
    return (row.state != "drift", -ratio, row.feature)


def _performance(c: sqlite3.Connection, check_id: int, prefix: str) -> tuple[Performance, ...]:
    # Estimated rows keep the estimate in `effect` and the holdout value in `statistic`;
    # realised rows keep the fresh-label value in `statistic` and its drop in `effect`.
    value, reference = ("effect", "statistic") if prefix == ESTIMATED else ("statistic", "effect")
    rows = c.execute(
        f"SELECT substr(feature, ?) AS metric, {value}, {reference}, threshold FROM feature_drift "
        "WHERE check_id = ? AND role = 'extra' AND substr(feature, 1, ?) = ? ORDER BY feature",
        (len(prefix) + 1, check_id, len(prefix), prefix),
    ).fetchall()
    return tuple(Performance(str(r[0]), r[1], r[2], r[3]) for r in rows if r[1] is not None)


def _champion(c: sqlite3.Connection, name: str) -> Champion | None:
    row = c.execute(
        "SELECT c.version_id, c.since, v.number FROM champions c "
        "JOIN versions v ON v.id = c.version_id WHERE c.model = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None
    since = parse_iso(row["since"]).timestamp()
    # The age at the model's clock (its newest run's `now`, or the champion's `since` when
    # later), as `driftd status` and policy.max_age measure it: a replay is not "years old".
    newest = c.execute(
        "SELECT now_at FROM runs WHERE model = ? ORDER BY id DESC LIMIT 1", (name,)
    ).fetchone()
    clock = max(since, parse_iso(newest[0]).timestamp()) if newest else since
    return Champion(str(row["version_id"]), int(row["number"]), since, clock - since)
