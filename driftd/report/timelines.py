"""Timelines of a model's checks: per feature and for the dataset, with retrain and champion
markers, from the rows of :func:`driftd.registry.reports.model_report`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from driftd.report import charts

# Decisions that change who serves: a champion marker on the timelines.
CHAMPION_ACTIONS = ("bootstrap", "promote", "manual_promote", "rollback")


def seconds(text: str) -> float:
    """An ISO time (``Z`` or offset) as seconds since the epoch.

    >>> seconds("1970-01-01T00:01:00.000Z")
    60.0
    """
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def markers(data: Mapping[str, Any]) -> list[charts.Marker]:
    """Champion changes and retrains (every training, any outcome), on the runs' clock.

    Retrains come last so that they are drawn on top: a promotion shares its run's moment with
    the training it promoted, and the dashed retrain line stays visible over the solid one.
    """
    out = [
        charts.Marker(
            seconds(str(d["at"])),
            "champion",
            f"{d['action']} {d.get('version_id') or ''} at {d['at']}: {d.get('reason') or ''}",
        )
        for d in data.get("decisions") or []
        if d.get("action") in CHAMPION_ACTIONS
    ]
    out += [
        charts.Marker(
            seconds(str(t["at"])),
            "retrain",
            f"training {t['status']} at {t['at']}"
            + (f" -> {t['version_id']}" if t.get("version_id") else ""),
        )
        for t in data.get("trainings") or []
    ]
    return out


def feature_timelines(data: Mapping[str, Any]) -> dict[str, str]:
    """Per feature, its effect against its threshold over the checks (SVG)."""
    checks = data.get("checks") or []
    at = {int(c["id"]): seconds(str(c["at"])) for c in checks}
    marks = markers(data)
    by_feature: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in data.get("timeline") or []:
        if int(row["check_id"]) in at:
            by_feature[str(row["feature"])].append(row)
    out: dict[str, str] = {}
    for name, rows in by_feature.items():
        out[name] = charts.timeline(
            [at[int(r["check_id"])] for r in rows],
            [_real(r.get("effect")) for r in rows],
            [_real(r.get("threshold")) for r in rows],
            [r.get("state") == "drift" for r in rows],
            marks,
            name,
        )
    return out


def dataset_timeline(data: Mapping[str, Any]) -> str:
    """The share of (weighted) drifted features against its threshold over the checks."""
    checks = [c for c in data.get("checks") or [] if c.get("verdict") != "insufficient_data"]
    return charts.timeline(
        [seconds(str(c["at"])) for c in checks],
        [_real(c.get("drifted_share")) for c in checks],
        [_real(c.get("share_threshold")) for c in checks],
        [c.get("verdict") == "drift" for c in checks],
        markers(data),
        "dataset drifted share",
        width=1060.0,
        height=150.0,
        series="drifted share",
    )


def _real(value: Any) -> float | None:
    return None if value is None else float(value)
