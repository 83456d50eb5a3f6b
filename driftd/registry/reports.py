"""The read side of ``driftd report``: one model's checks, features, summaries and decisions.

Stdlib ``sqlite3`` over one read-only snapshot (:func:`queries.read`), plain dicts out. The
timeline reads at most ``max_checks`` checks (newest), so a report's size stays bounded
however long a model has been monitored.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     model_report(Path(d) / "none.db", "churn") is None
True
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from driftd.errors import NotFoundError
from driftd.registry.codec import loads
from driftd.registry.queries import read, row_dict

TIMELINE_CHECKS = 100  # a year of weekly checks, or a quarter of daily ones, on one chart

# A decision's (or training's) logical time: its run's `now`, else when it was recorded.
_AT = "COALESCE((SELECT now_at FROM runs r WHERE r.id = {0}.run_id), {0}.{1})"
_FEATURE_COLUMNS = (
    "feature, kind, state, test, statistic, p_value, p_adjusted, effect_name, effect, "
    "threshold, n_ref, n_live, missing_ref, missing_live, missing_p, new_category_mass, detail"
)


def model_names(path: Path) -> list[str]:
    """Every model in the registry, by name."""
    with read(path) as c:
        return [] if c is None else [r[0] for r in c.execute("SELECT name FROM models ORDER BY 1")]


def model_report(
    path: Path, model: str, run_id: int | None = None, max_checks: int = TIMELINE_CHECKS
) -> dict[str, Any] | None:
    """What the report shows for ``model``, or None when the registry does not exist.

    ``selected`` is the check of run ``run_id`` (NotFoundError when that run recorded none),
    else the latest check (None when the model was never checked).
    """
    with read(path) as c:
        if c is None:
            return None
        if c.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is None:
            raise NotFoundError(f"model {model!r}: not in the registry")
        checks = _checks(c, model, max_checks)
        selected = _selected(c, model, run_id)
        ids = [ch["id"] for ch in checks]
        return {
            "model": model,
            "checks": checks,
            "selected": selected,
            "timeline": _timeline(c, ids),
            "trainings": _trainings(c, model, checks),
            "decisions": _decisions(c, model),
            "periods": _periods(c, model),
        }


def _checks(c: sqlite3.Connection, model: str, limit: int) -> list[dict[str, Any]]:
    rows = c.execute(
        "SELECT ch.id, ch.run_id, r.now_at AS at, ch.verdict, ch.drifted_share, "
        "ch.share_threshold, ch.reason, ch.n_ref, ch.n_live FROM checks ch "
        "JOIN runs r ON r.id = ch.run_id WHERE ch.model = ? ORDER BY ch.id DESC LIMIT ?",
        (model, limit),
    ).fetchall()
    return [dict(r) for r in reversed(rows)]


def _selected(c: sqlite3.Connection, model: str, run_id: int | None) -> dict[str, Any] | None:
    if run_id is None:
        row = c.execute(
            "SELECT ch.*, r.now_at AS at FROM checks ch JOIN runs r ON r.id = ch.run_id "
            "WHERE ch.model = ? ORDER BY ch.id DESC LIMIT 1",
            (model,),
        ).fetchone()
    else:
        row = c.execute(
            "SELECT ch.*, r.now_at AS at FROM checks ch JOIN runs r ON r.id = ch.run_id "
            "WHERE ch.model = ? AND ch.run_id = ? ORDER BY ch.id DESC LIMIT 1",
            (model, run_id),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"run {run_id}: no check of model {model!r} recorded by it")
    if row is None:
        return None
    check = row_dict(row) or {}
    check.pop("report", None)  # the same rows as feature_drift, already read below
    features = c.execute(
        f"SELECT role, {_FEATURE_COLUMNS} FROM feature_drift WHERE check_id = ? "
        "ORDER BY role, feature",
        (row["id"],),
    ).fetchall()
    check["features"] = [dict(f) for f in features if f["role"] == "feature"]
    check["extra"] = [dict(f) for f in features if f["role"] == "extra"]
    check["summaries"] = {
        r["feature"]: loads(r["summary"])
        for r in c.execute(
            "SELECT feature, summary FROM check_summaries WHERE check_id = ?", (row["id"],)
        )
    }
    return check


def _timeline(c: sqlite3.Connection, check_ids: list[int]) -> list[dict[str, Any]]:
    if not check_ids:
        return []
    rows = c.execute(
        "SELECT check_id, feature, state, effect, threshold FROM feature_drift "
        f"WHERE role = 'feature' AND check_id IN ({', '.join('?' * len(check_ids))}) "
        "ORDER BY feature, check_id",
        check_ids,
    ).fetchall()
    return [dict(r) for r in rows]


def _trainings(
    c: sqlite3.Connection, model: str, checks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    since = checks[0]["at"] if checks else ""
    rows = c.execute(
        f"SELECT t.id, t.status, t.version_id, {_AT.format('t', 'started_at')} AS at "
        "FROM trainings t WHERE t.model = ? ORDER BY t.id",
        (model,),
    ).fetchall()
    return [dict(r) for r in rows if str(r["at"]) >= since]


def _decisions(c: sqlite3.Connection, model: str) -> list[dict[str, Any]]:
    rows = c.execute(
        f"SELECT d.id, d.action, d.version_id, d.run_id, d.reason, d.actor, d.payload, "
        f"{_AT.format('d', 'created_at')} AS at FROM decisions d WHERE d.model = ? "
        "ORDER BY d.id DESC LIMIT 50",
        (model,),
    ).fetchall()
    return [d for d in map(row_dict, rows) if d is not None]


def _periods(c: sqlite3.Connection, model: str) -> list[dict[str, Any]]:
    rows = c.execute(
        "SELECT version_id, since, until FROM champion_history WHERE model = ? ORDER BY id",
        (model,),
    ).fetchall()
    return [dict(r) for r in rows]
