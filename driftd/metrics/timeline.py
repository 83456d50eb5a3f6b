"""One model's checks over time, for ``driftd timeline``: stdlib only, one read-only snapshot.

Each run is placed at its data clock (``now``: the end of its live window, which
``driftd check --now`` sets in a replay), so a backfill lands where its data is. A run carries
its check (dataset verdict and p-value, drifted share, each monitored feature's effect against
its threshold), the champion's primary estimated and realised performance, and the decisions it
made. Decisions taken from the command line have no run and are listed at their own time.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     timeline(Path(d) / "none.db", "churn")
{'model': 'churn', 'feature': None, 'since': None, 'runs': [], 'decisions': []}
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from driftd.errors import NotFoundError
from driftd.metrics.queries import ESTIMATED, REALISED
from driftd.registry.codec import utc_iso
from driftd.registry.queries import read

_PRIMARY = ("accuracy", "mae", "performance")  # the estimate the policy acts on comes first
_RUN_AT = "COALESCE((SELECT now_at FROM runs r WHERE r.id = d.run_id), d.created_at)"


def known(path: Path, model: str) -> bool:
    """Whether the registry holds ``model`` (a missing registry holds none)."""
    with read(path) as c:
        return c is not None and bool(
            c.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone()
        )


def newest(path: Path, model: str) -> str | None:
    """The data clock of the model's newest run, or None."""
    with read(path) as c:
        if c is None:
            return None
        row = c.execute("SELECT max(now_at) FROM runs WHERE model = ?", (model,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])


def features(path: Path, model: str) -> list[str]:
    """Every monitored feature any check of ``model`` recorded, sorted."""
    with read(path) as c:
        if c is None:
            return []
        rows = c.execute(
            "SELECT DISTINCT f.feature FROM feature_drift f JOIN checks c ON c.id = f.check_id "
            "WHERE c.model = ? AND f.role = 'feature' ORDER BY f.feature",
            (model,),
        )
        return [str(r[0]) for r in rows]


def timeline(
    path: Path, model: str, feature: str | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """The model's runs from ``since`` on (data clock), oldest first, and its decisions.

    With ``feature``, each run's ``features`` holds that feature alone; NotFoundError when no
    check ever recorded it.
    """
    out: dict[str, Any] = {
        "model": model,
        "feature": feature,
        "since": None if since is None else utc_iso(since),
        "runs": [],
        "decisions": [],
    }
    with read(path) as c:
        if c is None:
            return out
        start = out["since"] or ""
        if (
            feature is not None
            and not c.execute(
                "SELECT 1 FROM feature_drift f JOIN checks c ON c.id = f.check_id "
                "WHERE c.model = ? AND f.role = 'feature' AND f.feature = ? LIMIT 1",
                (model, feature),
            ).fetchone()
        ):
            raise NotFoundError(f"{model}: no check recorded a feature {feature!r}")
        decisions = _decisions(c, model, start)
        out["decisions"] = decisions
        by_run: dict[int, list[dict[str, Any]]] = {}
        for d in decisions:
            if d["run_id"] is not None:
                by_run.setdefault(int(d["run_id"]), []).append(d)
        rows = _features(c, model, feature, start)
        extras = _extras(c, model, start)
        for r in c.execute(
            "SELECT r.id AS run_id, r.now_at AS at, r.started_at, r.finished_at, r.status, "
            "r.trigger, r.error, c.id AS check_id, c.verdict, c.drifted_share, c.share_threshold, "
            "json_extract(c.report, '$.p_value') AS p_value, c.reason "
            "FROM runs r LEFT JOIN checks c ON c.run_id = r.id "
            "WHERE r.model = ? AND r.now_at >= ? ORDER BY r.now_at, r.id",
            (model, start),
        ):
            run = dict(r)
            check_id = run.pop("check_id")
            run["features"] = rows.get(check_id, [])
            run["estimated"], run["realised"] = extras.get(check_id, (None, None))
            run["decisions"] = by_run.get(run["run_id"], [])
            out["runs"].append(run)
    return out


def _decisions(c: sqlite3.Connection, model: str, start: str) -> list[dict[str, Any]]:
    rows = c.execute(
        f"SELECT d.id, {_RUN_AT} AS at, d.run_id, d.action, d.version_id, d.actor, d.reason, "
        "d.created_at AS recorded_at FROM decisions d WHERE d.model = ? AND at >= ? "
        "ORDER BY at, d.id",
        (model, start),
    )
    return [dict(r) for r in rows]


def _features(
    c: sqlite3.Connection, model: str, feature: str | None, start: str
) -> dict[int, list[dict[str, Any]]]:
    """Per check id, its monitored features by name."""
    only, params = ("AND f.feature = ?", (feature,)) if feature is not None else ("", ())
    out: dict[int, list[dict[str, Any]]] = {}
    for r in c.execute(
        "SELECT f.check_id, f.feature, f.state, f.test, f.effect_name, f.effect, f.threshold, "
        "f.p_value, f.p_adjusted, f.detail FROM feature_drift f "
        "JOIN checks c ON c.id = f.check_id JOIN runs r ON r.id = c.run_id "
        f"WHERE c.model = ? AND f.role = 'feature' AND r.now_at >= ? {only} "
        "ORDER BY f.check_id, f.feature",
        (model, start, *params),
    ):
        row = dict(r)
        out.setdefault(int(row.pop("check_id")), []).append(row)
    return out


def _extras(
    c: sqlite3.Connection, model: str, start: str
) -> dict[int, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """Per check id, the primary estimated performance and the realised one (or None)."""
    out: dict[int, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
    for r in c.execute(
        "SELECT f.check_id, f.feature, f.state, f.effect, f.statistic, f.threshold "
        "FROM feature_drift f JOIN checks c ON c.id = f.check_id "
        "JOIN runs r ON r.id = c.run_id WHERE c.model = ? AND f.role = 'extra' "
        "AND r.now_at >= ? AND (substr(f.feature, 1, ?) = ? OR substr(f.feature, 1, ?) = ?) "
        "ORDER BY f.check_id, f.feature",
        (model, start, len(ESTIMATED), ESTIMATED, len(REALISED), REALISED),
    ):
        estimated, realised = out.get(r["check_id"], (None, None))
        name = str(r["feature"])
        if name.startswith(ESTIMATED) and r["effect"] is not None:
            metric = name.removeprefix(ESTIMATED)
            if estimated is None or (metric in _PRIMARY and estimated["metric"] not in _PRIMARY):
                estimated = {
                    "metric": metric,
                    "value": r["effect"],
                    "reference": r["statistic"],
                    "state": r["state"],
                }
        elif name.startswith(REALISED) and r["statistic"] is not None:
            realised = {
                "metric": name.removeprefix(REALISED),
                "value": r["statistic"],
                "drop": r["effect"],
                "threshold": r["threshold"],
                "state": r["state"],
            }
        out[r["check_id"]] = (estimated, realised)
    return out
