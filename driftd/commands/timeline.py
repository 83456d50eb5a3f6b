"""``driftd timeline MODEL``: the checks over time, as text, ``--json`` or ``--csv``.

One line per run at its data clock: status, dataset verdict and p-value, how many features
drifted and the one nearest its threshold (or, with ``--feature``, that feature's effect against
its threshold), the champion's estimated and realised performance, and the decisions taken.
Decisions from the command line (no run) are lines of their own. ``--csv`` has one row per run
and feature (long form, for a spreadsheet or pandas).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime
from typing import Any

from driftd import render
from driftd.commands import Add, common

CSV_COLUMNS = (
    "at",
    "run_id",
    "status",
    "verdict",
    "dataset_p_value",
    "drifted_share",
    "feature",
    "state",
    "effect_name",
    "effect",
    "threshold",
    "p_adjusted",
    "estimated_metric",
    "estimated",
    "realised_metric",
    "realised",
    "decisions",
)


def register(add: Add, as_json: argparse.ArgumentParser) -> None:
    p = add(
        "timeline", cmd_timeline, "one model's checks, effects and decisions over time", as_json
    )
    p.add_argument("model")
    p.add_argument("--feature", help="show this feature's effect against its threshold")
    p.add_argument(
        "--since",
        help="from this data time on: ISO-8601, or a duration (7d) before the newest run",
    )
    p.add_argument("--csv", action="store_true", help="one row per run and feature, as CSV")


def cmd_timeline(args: argparse.Namespace) -> int:
    from driftd.errors import DriftdError
    from driftd.metrics import timeline

    if args.csv and args.json:
        raise DriftdError("--json and --csv: choose one")
    cfg = common.load_config(args)
    configured = {m.name for m in cfg.models}
    if args.model not in configured and not timeline.known(cfg.registry, args.model):
        known = ", ".join(sorted(configured)) or "none"
        raise DriftdError(f"{args.model}: no such model (known: {known})")
    since = _since(args.since, timeline.newest(cfg.registry, args.model))
    data = timeline.timeline(cfg.registry, args.model, args.feature, since)
    if args.csv:
        _csv(data)
    else:
        common.emit(args, data, _text)
    return 0


def _since(text: str | None, newest: str | None) -> datetime | None:
    """``--since`` as a time: ISO-8601, or a duration back from the newest run's data clock."""
    from driftd.durations import parse_duration
    from driftd.errors import DriftdError
    from driftd.registry.codec import parse_iso

    if text is None:
        return None
    try:
        span = parse_duration(text)
    except ValueError:
        try:
            return common.parse_now(text)
        except DriftdError:
            raise DriftdError(
                f"--since: neither an ISO-8601 time nor a duration such as 7d (got {text!r})"
            ) from None
    return None if newest is None else parse_iso(newest) - span


def _decisions(rows: list[dict[str, Any]]) -> str:
    return "; ".join(f"{d['action']} {d['version_id'] or ''}".rstrip() for d in rows)


def _nearest(features: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The feature with the largest effect relative to its threshold."""
    scored = [f for f in features if f["effect"] is not None and f["threshold"]]
    return max(scored, key=lambda f: (f["effect"] / f["threshold"], f["feature"]), default=None)


def _against(f: dict[str, Any]) -> str:
    """A feature's effect against its threshold: ``0.754 / 0.05``."""
    return f"{render.cell(f['effect'])} / {render.cell(f['threshold'])}"


def _perf(row: dict[str, Any] | None) -> str:
    return "-" if row is None else f"{row['metric']} {render.cell(row['value'])}"


def _text(data: dict[str, Any]) -> str:
    feature = data["feature"]
    rows: list[tuple[str, int, dict[str, str]]] = []
    for run in data["runs"]:
        line = {
            "at": run["at"],
            "run": str(run["run_id"]),
            "status": run["status"],
            "verdict": run["verdict"] or "-",
            "p": render.cell(run["p_value"]),
            "estimated": _perf(run["estimated"]),
            "realised": _perf(run["realised"]),
            "decision": _decisions(run["decisions"]) or "-",
        }
        feats = run["features"]
        if feature is not None:
            f = feats[0] if feats else None
            line["effect"] = "-" if f is None else _against(f)
            line["state"] = "-" if f is None else f["state"]
        else:
            drifted = sum(f["state"] == "drift" for f in feats)
            line["drifted"] = f"{drifted}/{len(feats)}" if feats else "-"
            top = _nearest(feats)
            line["nearest"] = "-" if top is None else f"{top['feature']} {_against(top)}"
        rows.append((run["at"], 0, line))
    for d in data["decisions"]:
        if d["run_id"] is None:  # taken from the command line: a line of its own
            text = f"{d['action']} {d['version_id'] or ''} (by {d['actor']})"
            rows.append((d["at"], 1, {"at": d["at"], "status": "cli", "decision": text}))
    rows.sort(key=lambda r: (r[0], r[1]))
    middle = ["effect", "state"] if feature is not None else ["drifted", "nearest"]
    heads = {"effect": f"{feature} effect / threshold", "nearest": "largest effect / threshold"}
    cols = ["at", "run", "status", "verdict", "p", *middle, "estimated", "realised", "decision"]
    title = f"{data['model']}: {len(data['runs'])} run(s)"
    if data["since"]:
        title += f" since {data['since']}"
    if not rows:
        return title
    body = render.table([r[2] for r in rows], cols, [heads.get(c, c) for c in cols])
    return f"{title}\n{body}"


def _csv(data: dict[str, Any]) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    lines: list[tuple[str, int, list[Any]]] = []
    for run in data["runs"]:
        est, real = run["estimated"] or {}, run["realised"] or {}
        head = [run["at"], run["run_id"], run["status"], run["verdict"], run["p_value"]]
        head.append(run["drifted_share"])
        tail = [est.get("metric"), est.get("value"), real.get("metric"), real.get("value")]
        tail.append(_decisions(run["decisions"]))
        for f in run["features"] or [dict.fromkeys(("feature",))]:
            middle = [f.get(k) for k in ("feature", "state", "effect_name", "effect", "threshold")]
            lines.append((run["at"], 0, [*head, *middle, f.get("p_adjusted"), *tail]))
    for d in data["decisions"]:
        if d["run_id"] is None:
            row: list[Any] = [d["at"], None, "cli", *[None] * 13, _decisions([d])]
            lines.append((d["at"], 1, row))
    lines.sort(key=lambda r: (r[0], r[1]))
    for _, _, row in lines:
        out.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
