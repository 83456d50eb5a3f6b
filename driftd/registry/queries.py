"""The registry's read side, for ``driftd status``, ``history``, ``versions``, ``show``, ``verify``.

Stdlib ``sqlite3`` only, over a read-only connection (``mode=ro``), so these commands start fast,
never import pandas, scipy or scikit-learn, and work for a user who may only read the file.
Each function reads inside one transaction: it sees one committed snapshot, never half of a
promotion. Results are plain dicts and lists, ready for ``json.dumps``. A registry that does
not exist yet reads as empty (``show`` and ``resolve_version`` raise NotFoundError).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     status(Path(d) / "none.db")
{'daemon': None, 'models': []}
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftd.errors import NotFoundError, RegistryError
from driftd.registry import codec, liveness, schema
from driftd.registry.codec import loads, parse_iso, utc_iso
from driftd.registry.verify import verify

__all__ = [
    "artifact_usage",
    "champion",
    "champion_history",
    "history",
    "last_retrain_times",
    "last_run",
    "resolve_version",
    "retention_facts",
    "show",
    "status",
    "unpaid_trainings",
    "verify",
    "versions",
]

HEARTBEAT_SECONDS = 5.0
_BAND = re.compile(r"band ([-+0-9.e]+)\.\.([-+0-9.e]+)\)")  # as driftd.estimate writes it
_JSON = {
    "summary",
    "report",
    "drifted",
    "params",
    "spec",
    "features",
    "environment",
    "metrics",
    "comparisons",
    "champion_metrics",
    "candidate_metrics",
    "payload",
    "next_runs",
}


@contextmanager
def read(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only snapshot of the registry, or None when the file does not exist."""
    path = Path(path)
    if not path.exists():
        yield None
        return
    try:
        conn = codec.connect_ro(path)
    except sqlite3.Error as exc:
        raise codec.translate(exc, path) from None
    try:
        version = codec.schema_state(conn, path)
        if version == 0:  # created but never migrated: nothing to read
            yield None
            return
        if version < schema.SCHEMA_VERSION:
            raise RegistryError(
                f"{path}: schema version {version} is older than this driftd's "
                f"{schema.SCHEMA_VERSION}; run `driftd check` (or the daemon) once to migrate"
            )
        conn.execute("BEGIN")
        yield conn
    except sqlite3.Error as exc:
        raise codec.translate(exc, path) from None
    finally:
        conn.close()  # a read transaction needs no COMMIT; closing ends it


def row_dict(row: sqlite3.Row | None) -> dict[str, Any] | None:
    """A row as a dict, JSON columns parsed."""
    if row is None:
        return None
    return {k: (loads(row[k]) if k in _JSON else row[k]) for k in row.keys()}  # noqa: SIM118


def _dicts(rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    return [d for d in map(row_dict, rows) if d is not None]


def _age(text: str | None, now: datetime) -> float | None:
    return None if text is None else round((now - parse_iso(text)).total_seconds(), 3)


def status(
    path: Path, *, now: datetime | None = None, heartbeat_interval: float = HEARTBEAT_SECONDS
) -> dict[str, Any]:
    """The daemon's heartbeat and, per model, champion, last check/decision/error/run.

    ``daemon`` (None when no daemon ever ran) is the heartbeat row plus what the registry's lock
    file says (``daemon.lock``: whether a process holds it now, its pid, and how many starts in
    a row did not reach a first heartbeat), which settles at once what the beat's age only
    suggests after three heartbeat intervals. ``daemon.condition`` is one of: ``alive``,
    ``stalled`` (the lock is held but the beats stopped: wedged, or the registry cannot be
    written), ``starting`` (a daemon holds the lock and has not beaten yet), ``crash_looping``
    (``daemon.start_failures``, the starts in a row that died before their first heartbeat, is
    2 or more; a new start may be under way), ``stopped`` (a clean shutdown at
    ``daemon.stopped_at``) and ``died`` (gone without a clean stop; in start-up when
    ``start_failures`` is 1).
    ``daemon.alive`` is ``condition == "alive"``. Without a readable lock file, or when the
    heartbeat comes from another host, the beat's age alone decides alive, stopped or died.

    Per model, times are on the runs' clock, as the policy reads them: each ``at`` and the
    champion's ``since`` are logical times (a run's ``now``, which ``driftd check --now`` sets
    in a replay), with the wall-clock time of the write beside them as ``recorded_at``. The
    champion's ``age_s`` and ``retrains_today`` (trainings, any outcome, in the 24 hours before)
    are measured at the model's ``as_of`` (see :func:`_clock`), as the retrain cap does.
    """
    now = now or datetime.now(UTC)
    lock = liveness.lock_state(path)
    with read(path) as c:
        if c is None:
            return {"daemon": liveness.daemon(None, lock, now, heartbeat_interval), "models": []}
        beat = row_dict(c.execute("SELECT * FROM heartbeat WHERE id = 1").fetchone())
        names = [r[0] for r in c.execute("SELECT name FROM models ORDER BY name")]
        return {
            "daemon": liveness.daemon(beat, lock, now, heartbeat_interval),
            "models": [_model_status(c, name, now) for name in names],
        }


# A decision's logical time: its run's `now`, else (a CLI decision) when it was recorded.
_DECISION_AT = "COALESCE((SELECT now_at FROM runs r WHERE r.id = d.run_id), d.created_at)"


def _model_status(c: sqlite3.Connection, name: str, now: datetime) -> dict[str, Any]:
    champ = c.execute(
        "SELECT c.*, d.created_at AS recorded_at FROM champions c "
        "JOIN decisions d ON d.id = c.decision_id WHERE c.model = ?",
        (name,),
    ).fetchone()
    check = c.execute(
        "SELECT c.*, r.now_at FROM checks c JOIN runs r ON r.id = c.run_id "
        "WHERE c.model = ? ORDER BY c.id DESC LIMIT 1",
        (name,),
    ).fetchone()
    decision = c.execute(
        f"SELECT d.*, {_DECISION_AT} AS at FROM decisions d "
        "WHERE d.model = ? ORDER BY d.id DESC LIMIT 1",
        (name,),
    ).fetchone()
    error = c.execute(
        "SELECT id, started_at, finished_at, now_at, status, error FROM runs "
        "WHERE model = ? AND error IS NOT NULL ORDER BY id DESC LIMIT 1",
        (name,),
    ).fetchone()
    run = c.execute(
        "SELECT id, status, trigger, started_at, finished_at, now_at, verdict, error FROM runs "
        "WHERE model = ? ORDER BY id DESC LIMIT 1",
        (name,),
    ).fetchone()
    as_of = _clock(run, champ, now)
    retrains = c.execute(
        "SELECT count(*) FROM trainings t LEFT JOIN runs r ON r.id = t.run_id "
        "WHERE t.model = ? AND COALESCE(r.now_at, t.started_at) >= ? "
        "AND COALESCE(r.now_at, t.started_at) <= ?",
        (name, utc_iso(as_of - timedelta(days=1)), utc_iso(as_of)),
    ).fetchone()[0]
    return {
        "name": name,
        "as_of": utc_iso(as_of),
        "champion": None
        if champ is None
        else {
            "id": champ["version_id"],
            "since": champ["since"],
            "recorded_at": champ["recorded_at"],
            "age_s": _age(champ["since"], as_of),
        },
        "last_check": None
        if check is None
        else {
            "at": check["now_at"],
            "recorded_at": check["checked_at"],
            "run_id": check["run_id"],
            "verdict": check["verdict"],
            "drifted": loads(check["drifted"]),
            "drifted_share": check["drifted_share"],
            "reason": check["reason"],
            "extra": _dicts(
                c.execute(
                    "SELECT feature, state, test, p_adjusted, effect_name, effect, threshold, "
                    "n_live, detail FROM feature_drift WHERE check_id = ? AND role = 'extra' "
                    "AND substr(feature, 1, 10) != 'estimated:' ORDER BY feature",
                    (check["id"],),
                ).fetchall()
            ),
            "estimated": _estimated(c, check["id"]),
        },
        "last_decision": None
        if decision is None
        else {
            "id": decision["id"],
            "action": decision["action"],
            "reason": decision["reason"],
            "at": decision["at"],
            "recorded_at": decision["created_at"],
            "version_id": decision["version_id"],
            "actor": decision["actor"],
        },
        "last_error": None
        if error is None
        else {
            "at": error["now_at"],
            "recorded_at": error["finished_at"] or error["started_at"],
            "run_id": error["id"],
            "status": error["status"],
            "error": error["error"],
        },
        "last_run": row_dict(run),
        "retrains_today": int(retrains),
        # The last run of promotion.on_champion_change (None: never ran); status shows a failure.
        "last_hook": row_dict(
            c.execute(
                "SELECT version_id, decision_id, argv, started_at, finished_at, status, "
                "exit_code, output FROM champion_hooks WHERE model = ? ORDER BY id DESC LIMIT 1",
                (name,),
            ).fetchone()
        ),
    }


def _clock(run: sqlite3.Row | None, champ: sqlite3.Row | None, now: datetime) -> datetime:
    """The time a model's status is read at: its last run's logical ``now`` (a replay's clock,
    or about the wall clock for the daemon), or the champion's ``since`` when that is later (a
    promotion from the CLI after the run); the wall clock ``now`` for a model that never ran.
    """
    if run is None:
        return now
    moments = [parse_iso(run["now_at"])] + ([parse_iso(champ["since"])] if champ else [])
    return max(moments)


def _estimated(c: sqlite3.Connection, check_id: int) -> list[dict[str, Any]]:
    """The check's label-free performance estimates (``estimated:*`` rows), primary first."""
    rows = c.execute(
        "SELECT substr(feature, 11) AS metric, state, test AS method, effect AS value, "
        "statistic AS reference, threshold, n_ref AS n_holdout, n_live, detail FROM feature_drift "
        "WHERE check_id = ? AND role = 'extra' AND substr(feature, 1, 10) = 'estimated:' "
        "ORDER BY substr(feature, 11) NOT IN ('accuracy', 'mae', 'performance'), feature",
        (check_id,),
    ).fetchall()
    out = _dicts(rows)
    for row in out:
        band = _BAND.search(row["detail"] or "")
        row["low"], row["high"] = (float(band[1]), float(band[2])) if band else (None, None)
    return out


def history(path: Path, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Decisions, newest first. ``at`` is when each was decided on the runs' clock (its run's
    logical ``now``; a decision from the CLI has no run and happens when it is recorded);
    ``recorded_at`` is the wall-clock time of the write (the ``created_at`` column)."""
    with read(path) as c:
        if c is None:
            return []
        where, params = ("WHERE d.model = ?", (model,)) if model else ("", ())
        rows = c.execute(
            f"SELECT d.*, {_DECISION_AT} AS at, d.created_at AS recorded_at FROM decisions d "
            f"{where} ORDER BY d.id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return _dicts(rows)


_VERSION_COLUMNS = (
    "v.id, v.model, v.number, v.created_at, s.status, v.run_id, v.parent_id, v.estimator, "
    "v.data_rows, v.data_sha256, v.artifact_path, v.artifact_sha256, v.artifact_size, "
    "v.artifact_deleted_at, v.metrics"
)


def versions(path: Path, model: str | None = None) -> list[dict[str, Any]]:
    """Versions with their derived status, by model then newest first."""
    with read(path) as c:
        if c is None:
            return []
        where, params = ("WHERE v.model = ?", (model,)) if model else ("", ())
        rows = c.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions v "
            f"JOIN version_status s ON s.version_id = v.id {where} "
            "ORDER BY v.model, v.number DESC",
            params,
        ).fetchall()
        return _dicts(rows)


def show(path: Path, version_id: str) -> dict[str, Any]:
    """One version in full: lineage, trainings, evaluations, decisions, champion periods."""
    with read(path) as c:
        row = None if c is None else _version_row(c, version_id)
        if c is None or row is None:
            raise NotFoundError(f"version {version_id!r}: no such version")
        out = row_dict(row) or {}
        out["status"] = c.execute(
            "SELECT status FROM version_status WHERE version_id = ?", (version_id,)
        ).fetchone()[0]
        out["lineage"] = _dicts(
            c.execute(
                "WITH RECURSIVE up(id, depth) AS (SELECT parent_id, 1 FROM versions WHERE id = ? "
                "UNION ALL SELECT v.parent_id, up.depth + 1 FROM versions v JOIN up "
                "ON v.id = up.id WHERE v.parent_id IS NOT NULL) "
                "SELECT v.id, v.created_at, s.status, v.artifact_sha256 FROM up "
                "JOIN versions v ON v.id = up.id JOIN version_status s ON s.version_id = v.id "
                "ORDER BY up.depth",
                (version_id,),
            ).fetchall()
        )
        out["children"] = [
            r[0] for r in c.execute("SELECT id FROM versions WHERE parent_id = ?", (version_id,))
        ]
        out["trainings"] = _dicts(
            c.execute("SELECT * FROM trainings WHERE version_id = ?", (version_id,)).fetchall()
        )
        out["evaluations"] = _dicts(
            c.execute(
                "SELECT * FROM evaluations WHERE candidate_id = ? OR champion_id = ? ORDER BY id",
                (version_id, version_id),
            ).fetchall()
        )
        out["decisions"] = _dicts(
            c.execute(
                "SELECT * FROM decisions WHERE version_id = ? ORDER BY id", (version_id,)
            ).fetchall()
        )
        out["champion_periods"] = _dicts(
            c.execute(
                "SELECT since, until, decision_id, ended_by FROM champion_history "
                "WHERE version_id = ? ORDER BY id",
                (version_id,),
            ).fetchall()
        )
        return out


def _version_row(c: sqlite3.Connection, version_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = c.execute(
        "SELECT * FROM versions WHERE id = ?", (version_id,)
    ).fetchone()
    return row


def champion(path: Path, model: str) -> dict[str, Any] | None:
    """The current champion joined with its version row, or None."""
    with read(path) as c:
        if c is None:
            return None
        row = c.execute(
            "SELECT v.*, c.version_id, c.since, c.decision_id FROM champions c "
            "JOIN versions v ON v.id = c.version_id WHERE c.model = ?",
            (model,),
        ).fetchone()
        return row_dict(row)


def champion_history(path: Path, model: str) -> list[dict[str, Any]]:
    """Every champion period of a model, newest first, with the action that opened it."""
    with read(path) as c:
        if c is None:
            return []
        rows = c.execute(
            "SELECT h.id, h.version_id, h.since, h.until, h.decision_id, h.ended_by, d.action, "
            "d.actor, d.reason FROM champion_history h JOIN decisions d ON d.id = h.decision_id "
            "WHERE h.model = ? ORDER BY h.id DESC",
            (model,),
        ).fetchall()
        return _dicts(rows)


def last_retrain_times(
    path: Path, model: str, since: datetime, until: datetime | None = None
) -> list[str]:
    """Logical times (the run's ``now``) of trainings, any outcome, in [``since``, ``until``].

    The run's clock, not the wall clock, so replays with ``driftd check --now`` obey the same
    cool-down and cap as the daemon; ``until`` (the cycle's ``now``) keeps a backfill before
    trainings already recorded from seeing them as "in the future" and cooling down for ever.
    """
    with read(path) as c:
        if c is None:
            return []
        rows = c.execute(
            "SELECT COALESCE(r.now_at, t.started_at) AS at FROM trainings t "
            "LEFT JOIN runs r ON r.id = t.run_id "
            "WHERE t.model = ? AND at >= ? AND at <= ? ORDER BY at DESC",
            (model, utc_iso(since), utc_iso(until) if until else "9999"),
        ).fetchall()
        return [str(r[0]) for r in rows]


# Decisions on a trained candidate: it paid (won on evidence, or was the first model), or not.
_PAID = ("bootstrap", "promote", "would_promote", "awaiting_approval", "manual_promote")
_UNPAID = ("reject", "inconclusive")


def unpaid_trainings(path: Path, model: str, until: datetime) -> tuple[int, str | None]:
    """How many evaluated candidates in a row, newest first up to ``until`` (logical time),
    lost on evidence (``reject``, ``inconclusive``), and the logical time of the newest of
    them (None without any). Failed trainings neither count nor break the run: the cool-down
    and the daily cap already pace those."""
    with read(path) as c:
        if c is None:
            return 0, None
        rows = c.execute(
            "SELECT COALESCE(r.now_at, d.created_at) AS at, d.action FROM decisions d "
            "LEFT JOIN runs r ON r.id = d.run_id "
            "WHERE d.model = ? AND d.action IN "
            f"({', '.join('?' * len(_PAID + _UNPAID))}) AND at <= ? "
            "ORDER BY at DESC, d.id DESC LIMIT 64",
            (model, *_PAID, *_UNPAID, utc_iso(until)),
        ).fetchall()
    unpaid = 0
    for row in rows:
        if row[1] in _PAID:
            break
        unpaid += 1
    return unpaid, (str(rows[0][0]) if unpaid else None)


def last_run(path: Path, model: str) -> dict[str, Any] | None:
    """The most recent run of a model (any trigger, any status), or None."""
    with read(path) as c:
        if c is None:
            return None
        row = c.execute(
            "SELECT * FROM runs WHERE model = ? ORDER BY id DESC LIMIT 1", (model,)
        ).fetchone()
        return row_dict(row)


def artifact_usage(path: Path) -> tuple[set[str], set[str], set[str]]:
    """``(models, artifact directories, busy models)`` in one snapshot, for the start-up sweep.

    The directories are those of every version's artifact, garbage-collected ones included;
    busy models are those with a run still 'running'.
    """
    with read(path) as c:
        if c is None:
            return set(), set(), set()
        models = {str(r[0]) for r in c.execute("SELECT name FROM models")}
        dirs = {os.path.dirname(str(r[0])) for r in c.execute("SELECT artifact_path FROM versions")}
        busy = {str(r[0]) for r in c.execute("SELECT model FROM runs WHERE status = 'running'")}
        return models, dirs, busy


def resolve_version(path: Path, model: str, text: str) -> str:
    """A version id from '3', 'v3' or 'churn-v3'; NotFoundError when it does not exist."""
    raw = text.strip()
    number = raw.removeprefix(f"{model}-v") if raw.startswith(f"{model}-v") else raw
    number = number.removeprefix("v")
    if not number.isdigit():
        raise NotFoundError(f"{model}: {text!r} is not a version of this model (try {model}-v3)")
    version_id = f"{model}-v{int(number)}"
    with read(path) as c:
        if c is None or _version_row(c, version_id) is None:
            raise NotFoundError(f"{model}: no version {version_id}")
    return version_id


def retention_facts(path: Path, model: str | None = None) -> list[dict[str, Any]]:
    """What ``driftd gc`` decides on, per version, in one snapshot, by model then number.

    ``champion`` (current), ``was_champion`` (ever, including now), ``last_action`` (the latest
    decision about it other than 'gc', or None), ``run_status`` (of the run that trained it),
    plus the artifact columns.
    """
    with read(path) as c:
        if c is None:
            return []
        where, params = ("WHERE v.model = ?", (model,)) if model else ("", ())
        rows = c.execute(
            "SELECT v.id, v.model, v.number, v.created_at, v.artifact_path, v.artifact_size, "
            "v.artifact_deleted_at, v.run_id, r.status AS run_status, "
            "EXISTS (SELECT 1 FROM champions c WHERE c.version_id = v.id) AS champion, "
            "EXISTS (SELECT 1 FROM champion_history h WHERE h.version_id = v.id) "
            "AS was_champion, "
            "(SELECT d.action FROM decisions d WHERE d.version_id = v.id AND d.action <> 'gc' "
            "ORDER BY d.id DESC LIMIT 1) AS last_action "
            f"FROM versions v LEFT JOIN runs r ON r.id = v.run_id {where} "
            "ORDER BY v.model, v.number",
            params,
        ).fetchall()
        return [
            {**dict(r), "champion": bool(r["champion"]), "was_champion": bool(r["was_champion"])}
            for r in rows
        ]
