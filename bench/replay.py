"""Replay real and synthetic streams through driftd's own cycle and score what it deployed.

Run: ``.venv/bin/python -P bench/replay.py [--quick | --steps N] [--streams a,b] [--json F]``.
The streams are in ``bench/streams.py`` (install: the README's "Replays on real data"). For
each stream the rows are written to a temp directory (Parquet), a config with driftd's default
drift and policy settings is written beside them (only data, training and promotion keys are
set, from the stream), and every step runs ``driftd.daemon.check_once(cfg, [name], now)``,
the function behind ``driftd check --now``, in this process. The outcomes are read back from
the registry.

Four policies are scored on the same steps, each by the **prequential** metric: the model
deployed after the check at ``t`` scored on the labelled rows of ``(t, t + step]``.

- ``never``: the bootstrap model (driftd's first version, trained on the reference) forever;
- ``every``: a model fitted in this process at every step on the window driftd's candidate
  would use (``training.window`` ending where the promotion holdout begins), always deployed;
- ``newest``: the same on the newest rows (``training.window + holdout`` ending at
  ``now - label_delay``), the ceiling that refit-on-promotion aims at;
- ``driftd``: the champion after each check, read from the registry.

``share of gain`` is ``(driftd - never) / (every - never)`` (undefined when ``every`` does not beat
``never``), with a 90 % interval from a moving-block bootstrap of the steps (blocks of about
steps^(1/3) consecutive steps, resampled alike for the three policies, so a good or bad spell of
weeks moves them together) and how often the resampled share reached the 90 % floor: how far the
one replay's share can be told from the floor at all. Trainings and promotions per step leave out
the first step, where every policy trains its first model. ``alarms`` is the share of checks whose
dataset verdict is ``drift``. ``sig. worse`` counts promotions whose new champion is worse than the
champion it replaced on the next window's rows: the upper bound of the paired bootstrap interval of
``new - old`` (:func:`driftd.evaluate.compare`, the promotion's own confidence) is below 0,
resampling the next window's days as driftd's own evaluation does (``(rows: n)`` in the table: the
same test resampling rows one by one, which is over-confident on rows that share a day).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from streams import CONTROL, REAL, STREAMS, Stream

import driftd
from driftd import config, daemon, evaluate, log, trainer
from driftd.cli import name_checks
from driftd.config import ModelConfig
from driftd.durations import format_duration
from driftd.registry import queries

QUICK_STEPS = 8
POLICIES = ("never", "every", "newest", "driftd")


@dataclass
class PolicyScore:
    metric: float  # mean prequential metric over the steps
    per_step: list[float]
    trainings_per_step: float
    promotions_per_step: float


@dataclass
class StreamResult:
    stream: str
    role: str
    scorer: str
    steps: int
    seconds: float
    policies: dict[str, PolicyScore]
    gain_share: float | None
    # 5th and 95th percentiles of the block-bootstrapped share, and the share of resamples
    # at or above the floor; None where the share is undefined.
    gain_share_interval: tuple[float, float] | None
    gain_share_reaches_floor: float | None
    alarm_rate: float  # dataset verdict drift / checks
    run_alarm_rate: float  # run status drift (any check breached) / runs
    failed_runs: int
    promotions: int
    significantly_worse: int  # day-block bootstrap on the next window, as driftd evaluates
    significantly_worse_rows: int  # the same with rows resampled one by one (over-confident)
    first_promotion_after_labels: int | None  # checks after the labels arrive; label_break only
    bootstrap_reproduced: bool  # an in-process fit on the reference predicts as version 1 does
    trigger_counts: dict[str, int] = field(default_factory=dict)


def toml_value(value: Any) -> str:
    """TOML for the few value types a stream's settings use.

    >>> toml_value({"max_iter": 1000, "C": 0.5}), toml_value(["a", "b"]), toml_value(True)
    ('{ max_iter = 1000, C = 0.5 }', '["a", "b"]', 'true')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def write_inputs(stream: Stream, directory: Path) -> Path:
    """The stream's reference and live Parquet files and a config TOML; returns the config."""
    directory.mkdir(parents=True, exist_ok=True)
    stream.reference().to_parquet(directory / "reference.parquet", index=False)
    stream.frame.to_parquet(directory / "live.parquet", index=False)
    data = {
        "reference": "reference.parquet",
        "live": "live.parquet",
        "timestamp": stream.timestamp,
        "target": stream.target,
        "features": list(stream.features),
        "categorical": list(stream.categorical),
        **stream.settings.get("data", {}),
    }
    lines = [
        'registry = "state/registry.db"',
        'artifacts = "state/artifacts"',
        'log_level = "warning"',
        "",
        "[[models]]",
        f"name = {toml_value(stream.name)}",
        f"every = {toml_value(format_duration(stream.step))}",
    ]
    tables = {**stream.settings, "data": data}
    for table, values in tables.items():
        lines += ["", f"[models.{table}]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _window(frame: pd.DataFrame, ts: str, start: datetime, end: datetime) -> pd.DataFrame:
    t = frame[ts]
    return frame[(t > pd.Timestamp(start)) & (t <= pd.Timestamp(end))]


def _fit(model: ModelConfig, stream: Stream, rows: pd.DataFrame) -> Any:
    est = trainer.build_estimator(model.training, list(stream.features), list(stream.categorical))
    return est.fit(rows[list(stream.features)], rows[stream.target].to_numpy())


def _metric(model_obj: Any, rows: pd.DataFrame, stream: Stream, scorer: str) -> float:
    x, y = rows[list(stream.features)], rows[stream.target].to_numpy()
    return float(evaluate.score(model_obj, x, y, [scorer])[scorer])


def _registry_rows(path: Path, sql: str) -> list[sqlite3.Row]:
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    c.row_factory = sqlite3.Row
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def replay(stream: Stream, directory: Path, limit: int | None = None) -> StreamResult:
    """Replay ``stream`` (at most ``limit`` steps) in ``directory`` and score the policies."""
    started = time.monotonic()
    cfg = config.load(write_inputs(stream, directory), name_checks())
    model = cfg.model(stream.name)
    scorer = model.promotion.scorer
    checks = stream.checks(limit)
    run_ids: list[int] = []
    champions: list[dict[str, Any]] = []
    for now in checks:
        (result,) = daemon.check_once(cfg, [model.name], now)
        champion = queries.champion(cfg.registry, model.name)
        if champion is None:
            raise SystemExit(f"{stream.name}: no champion after {now}: {result.error}")
        run_ids.append(result.run_id)
        champions.append(champion)

    models = _Artifacts(model)
    frame = stream.frame[stream.frame[stream.target].notna()]
    end_delay, holdout = model.data.label_delay, model.promotion.holdout
    start_delay = end_delay + holdout + model.training.window
    bootstrap = models.load(champions[0])
    scores: dict[str, list[float]] = {p: [] for p in POLICIES}
    nexts: list[pd.DataFrame] = []
    for k, now in enumerate(checks):
        nexts.append(_window(frame, stream.timestamp, now, now + stream.step))
        deployed = {"never": bootstrap, "driftd": models.load(champions[k])}
        if k == 0:  # every policy starts from the same first model
            deployed["every"] = deployed["newest"] = bootstrap
        else:
            begin = now - start_delay
            every = _window(frame, stream.timestamp, begin, now - end_delay - holdout)
            deployed["every"] = _fit(model, stream, every)
            newest = _window(frame, stream.timestamp, begin, now - end_delay)
            deployed["newest"] = _fit(model, stream, newest)
        for p in POLICIES:
            scores[p].append(_metric(deployed[p], nexts[k], stream, scorer))

    db = cfg.registry
    status = {r["id"]: r["status"] for r in _registry_rows(db, "SELECT id, status FROM runs")}
    verdict = {r["run_id"]: r["verdict"] for r in _registry_rows(db, "SELECT * FROM checks")}
    trained = {r["run_id"] for r in _registry_rows(db, "SELECT run_id FROM trainings")}
    decisions = _registry_rows(db, "SELECT * FROM decisions ORDER BY id")
    later = set(run_ids[1:])  # the first step trains the first model under every policy
    promoted = {d["run_id"] for d in decisions if d["action"] == "promote"} & later
    triggers: dict[str, int] = {}
    for d in decisions:
        if d["run_id"] in later and d["payload"]:
            trigger = json.loads(d["payload"]).get("trigger") or "?"
            triggers[trigger] = triggers.get(trigger, 0) + 1

    worse = worse_rows = 0
    for k in range(1, len(checks)):
        old, new = champions[k - 1], champions[k]
        if old["version_id"] != new["version_id"]:
            x, y = nexts[k][list(stream.features)], nexts[k][stream.target].to_numpy()
            pair = models.load(old), models.load(new)
            times = evaluate.day_times(nexts[k], stream.timestamp)
            ev = evaluate.compare(*pair, x, y, model.promotion, seed=k, timestamps=times)
            worse += int(ev.primary is not None and ev.primary.ci_high < 0)
            ev = evaluate.compare(*pair, x, y, model.promotion, seed=k)
            worse_rows += int(ev.primary is not None and ev.primary.ci_high < 0)

    refit = _fit(model, stream, stream.reference())
    probe = nexts[0][list(stream.features)]
    reproduced = bool(np.allclose(_outputs(refit, probe), _outputs(bootstrap, probe), atol=1e-9))
    n_later = max(len(later), 1)
    policies = {
        "never": PolicyScore(_mean(scores["never"]), scores["never"], 0.0, 0.0),
        "every": PolicyScore(_mean(scores["every"]), scores["every"], 1.0, 1.0),
        "newest": PolicyScore(_mean(scores["newest"]), scores["newest"], 1.0, 1.0),
        "driftd": PolicyScore(
            _mean(scores["driftd"]),
            scores["driftd"],
            len(trained & later) / n_later,
            len(promoted) / n_later,
        ),
    }
    gain = policies["every"].metric - policies["never"].metric
    share = (policies["driftd"].metric - policies["never"].metric) / gain if gain > 0 else None
    spread = (
        None if share is None else share_spread(scores["never"], scores["every"], scores["driftd"])
    )
    return StreamResult(
        stream=stream.name,
        role=stream.role,
        scorer=scorer,
        steps=len(checks),
        seconds=round(time.monotonic() - started, 1),
        policies=policies,
        gain_share=share,
        gain_share_interval=None if spread is None else spread[:2],
        gain_share_reaches_floor=None if spread is None else spread[2],
        alarm_rate=sum(verdict.get(r) == "drift" for r in run_ids) / len(run_ids),
        run_alarm_rate=sum(status[r] == "drift" for r in run_ids) / len(run_ids),
        failed_runs=sum(status[r] == "failed" for r in run_ids),
        promotions=len(promoted),
        significantly_worse=worse,
        significantly_worse_rows=worse_rows,
        first_promotion_after_labels=_first_promotion_after(stream, db, checks, run_ids),
        bootstrap_reproduced=reproduced,
        trigger_counts=triggers,
    )


GAIN_FLOOR = 0.9
RESAMPLES = 4_000


def share_spread(
    never: Sequence[float],
    every: Sequence[float],
    driftd: Sequence[float],
    resamples: int = RESAMPLES,
    seed: int = 10,
) -> tuple[float, float, float]:
    """(5th percentile, 95th percentile, share of resamples >= GAIN_FLOOR) of the share of
    gain over moving-block bootstrap resamples of the steps. Circular blocks of about
    ``steps ** (1/3)`` steps keep the dependence between neighbouring weeks; a resample where
    ``every`` does not beat ``never`` has no share and counts as below the floor."""
    scores = np.array([never, every, driftd], dtype=float)
    k = scores.shape[1]
    block = max(1, round(k ** (1 / 3)))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, k, size=(resamples, -(-k // block)))
    steps = ((starts[:, :, None] + np.arange(block)) % k).reshape(resamples, -1)[:, :k]
    means = scores[:, steps].mean(axis=2)  # policy x resample
    gain = means[1] - means[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(gain > 0, (means[2] - means[0]) / gain, np.nan)
    defined = shares[np.isfinite(shares)]
    lo, hi = (float(q) for q in np.percentile(defined, [5, 95])) if defined.size else (np.nan,) * 2
    return lo, hi, float(np.count_nonzero(defined >= GAIN_FLOOR)) / resamples


class _Artifacts:
    """Registry versions loaded once each, through driftd's own hash-checked loader."""

    def __init__(self, model: ModelConfig) -> None:
        self._model = model
        self._loaded: dict[str, Any] = {}

    def load(self, row: dict[str, Any]) -> Any:
        if row["version_id"] not in self._loaded:
            self._loaded[row["version_id"]] = trainer.load_model(
                Path(row["artifact_path"]),
                row["artifact_sha256"],
                trusted=self._model.training.trusted_types,
                allow_pickle=self._model.training.allow_pickle,
            )
        return self._loaded[row["version_id"]]


def _first_promotion_after(
    stream: Stream, db: Path, checks: Sequence[datetime], run_ids: Sequence[int]
) -> int | None:
    """Checks from the labels' arrival to the first promotion of a model whose training data
    reach past it (1 = the first check after it), as tests/test_label_break.py counts: a
    pre-break model promoted after the break does not count. None: none, or no label event."""
    if stream.labels_arrive is None:
        return None
    newest = {v["id"]: v["data_time_max"] for v in _registry_rows(db, "SELECT * FROM versions")}
    seen = {
        d["run_id"]
        for d in _registry_rows(db, "SELECT * FROM decisions WHERE action = 'promote'")
        if newest.get(d["version_id"]) and _utc(newest[d["version_id"]]) > stream.labels_arrive
    }
    after = [k for k, t in enumerate(checks) if t > stream.labels_arrive]
    hit = [k for k in after if run_ids[k] in seen]
    return hit[0] - after[0] + 1 if hit else None


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _outputs(model_obj: Any, x: pd.DataFrame) -> np.ndarray:
    out = (
        model_obj.predict_proba(x) if hasattr(model_obj, "predict_proba") else model_obj.predict(x)
    )
    return np.asarray(out, dtype=float)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def table(results: Sequence[StreamResult]) -> str:
    """The results as one Markdown table, one row per stream and policy."""
    head = (
        "| stream | steps | policy | mean prequential metric | share of gain "
        "| trainings/step | promotions/step | alarms | sig. worse |"
    )
    lines = [head, "|---|--:|---|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        for name in POLICIES:
            p = r.policies[name]
            is_d = name == "driftd"
            share = "" if not is_d else _share(r)
            lines.append(
                f"| {r.stream} | {r.steps} | {name} | {p.metric:.4f} ({r.scorer}) | {share} "
                f"| {p.trainings_per_step:.2f} | {p.promotions_per_step:.2f} "
                f"| {f'{r.alarm_rate:.0%}' if is_d else ''} "
                f"| {_worse(r) if is_d else ''} |"
            )
    return "\n".join(lines)


def _share(r: StreamResult) -> str:
    """``74% (52%..95%; 21% >= 90%)``: the share, its 90 % interval, resamples at the floor."""
    if r.gain_share is None:
        return "n/a"
    if r.gain_share_interval is None or r.gain_share_reaches_floor is None:
        return f"{r.gain_share:.0%}"
    lo, hi = r.gain_share_interval
    return f"{r.gain_share:.0%} ({lo:.0%}..{hi:.0%}; {r.gain_share_reaches_floor:.0%} >= 90%)"


def _worse(r: StreamResult) -> str:
    return f"{r.significantly_worse} of {r.promotions} (rows: {r.significantly_worse_rows})"


def floors(results: Sequence[StreamResult]) -> list[tuple[str, bool | None]]:
    """Issue 10's floors, each with its outcome (None: not measured in this run)."""
    out: list[tuple[str, bool | None]] = []
    for r in results:
        d = r.policies["driftd"]
        if r.role == REAL:
            share = _share(r)
            ok = r.gain_share is not None and r.gain_share >= GAIN_FLOOR
            out.append((f"{r.stream}: keeps >= 90 % of the gain ({share})", ok))
            out.append(
                (
                    f"{r.stream}: trains on <= 25 % of steps ({d.trainings_per_step:.0%})",
                    d.trainings_per_step <= 0.25,
                )
            )
        if r.role == CONTROL:
            out.append(
                (
                    f"{r.stream}: dataset verdict alarms on <= 10 % of checks ({r.alarm_rate:.0%})",
                    r.alarm_rate <= 0.10,
                )
            )
        if r.stream == "label_break":
            got = r.first_promotion_after_labels
            text = "never" if got is None else f"check {got}"
            ok = got is not None and got <= 2
            out.append((f"label_break: first promotion within 2 checks of the labels ({text})", ok))
        out.append(
            (
                f"{r.stream}: no promotion significantly worse on the next window "
                f"({r.significantly_worse} of {r.promotions})",
                r.significantly_worse == 0,
            )
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default=",".join(STREAMS), help="comma-separated names")
    parser.add_argument("--steps", type=int, default=None, help="at most this many checks each")
    parser.add_argument("--quick", action="store_true", help=f"--steps {QUICK_STEPS}")
    parser.add_argument("--keep", type=Path, default=None, help="keep the replays in this dir")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.streams.split(",") if n.strip()]
    unknown = [n for n in names if n not in STREAMS]
    if unknown:
        parser.error(f"unknown stream {unknown[0]!r}; choose from {', '.join(STREAMS)}")
    limit = QUICK_STEPS if args.quick and args.steps is None else args.steps
    log.setup("error")
    print(f"driftd {driftd.__version__} from {Path(driftd.__file__).parent}", flush=True)
    results: list[StreamResult] = []
    # One BLAS thread, as driftd's training child has: the baselines' fits otherwise fight the
    # child and everyone else on a shared machine (a flights fit took 7 s instead of 0.7 s).
    with threadpool_limits(limits=1), tempfile.TemporaryDirectory(prefix="driftd-replay-") as tmp:
        root = args.keep or Path(tmp)
        for name in names:
            stream = STREAMS[name]()
            r = replay(stream, root / name, limit)
            results.append(r)
            print(
                f"{name}: {r.steps} steps in {r.seconds:.0f} s; {stream.note}; "
                f"retrain triggers {r.trigger_counts or '{}'}; failed runs {r.failed_runs}; "
                f"bootstrap reproduced in-process: {r.bootstrap_reproduced}",
                flush=True,
            )
    print()
    print(table(results))
    print()
    for text, ok in floors(results):
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
