"""Statements that run inside a caller's write transaction (see :mod:`connection`).

Keeping them here leaves :mod:`store` a thin public API: each of its methods opens one
transaction and calls these, so everything a method writes commits together or not at all.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from typing import Any

from driftd.domain import Action, Decision, FeatureDrift
from driftd.errors import NotFoundError, RegistryError
from driftd.registry import codec
from driftd.registry.codec import dumps_or_none, real, utc_iso

FEATURE_COLUMNS = (
    "check_id",
    "role",
    "feature",
    "kind",
    "state",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
    "effect_name",
    "effect",
    "threshold",
    "n_ref",
    "n_live",
    "missing_ref",
    "missing_live",
    "missing_p",
    "new_category_mass",
    "detail",
)
INSERT_FEATURE = (
    f"INSERT INTO feature_drift({', '.join(FEATURE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(FEATURE_COLUMNS))})"
)


INSERT_SUMMARY = "INSERT INTO check_summaries(check_id, feature, kind, summary) VALUES (?, ?, ?, ?)"


def summary_rows(
    check_id: int, summaries: Mapping[str, Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """``check_summaries`` rows: one per feature, its summary as canonical JSON."""
    return [
        (check_id, feature, str(s["kind"]), codec.dumps(s, f"check_summaries[{feature!r}]"))
        for feature, s in summaries.items()
    ]


def insert(c: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
    """INSERT one row given as a mapping; returns its rowid. Table names are ours, not input."""
    cols = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    cur = c.execute(f"INSERT INTO {table}({cols}) VALUES ({marks})", dict(row))
    if cur.lastrowid is None:  # pragma: no cover - an INSERT always sets it
        raise RegistryError(f"{table}: insert returned no row id")
    return int(cur.lastrowid)


def feature_row(check_id: int, role: str, f: FeatureDrift) -> tuple[Any, ...]:
    return (
        check_id,
        role,
        f.feature,
        str(f.kind),
        str(f.state),
        f.test,
        real(f.statistic),
        real(f.p_value),
        real(f.p_adjusted),
        f.effect_name,
        real(f.effect),
        real(f.threshold),
        f.n_ref,
        f.n_live,
        real(f.missing_ref),
        real(f.missing_live),
        real(f.missing_p),
        real(f.new_category_mass),
        f.detail,
    )


def require_model(c: sqlite3.Connection, model: str) -> None:
    if c.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is None:
        raise NotFoundError(f"model {model!r}: not in the registry")


def require_run(c: sqlite3.Connection, run_id: int, model: str) -> None:
    row = c.execute("SELECT model FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"run {run_id}: no such run")
    if row["model"] != model:
        raise RegistryError(f"run {run_id}: belongs to model {row['model']!r}, not {model!r}")


def require_version(c: sqlite3.Connection, version_id: str, model: str) -> sqlite3.Row:
    row: sqlite3.Row | None = c.execute(
        "SELECT * FROM versions WHERE id = ?", (version_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"version {version_id!r}: no such version")
    if row["model"] != model:
        raise RegistryError(
            f"version {version_id!r}: belongs to model {row['model']!r}, not {model!r}"
        )
    return row


def insert_version(
    c: sqlite3.Connection,
    model: str,
    row: Mapping[str, Any],
    *,
    run_id: int | None,
    parent_id: str | None,
) -> str:
    """Insert a ``versions`` row as ``{model}-v{n}``, n = max + 1; link the run's training."""
    require_model(c, model)
    if run_id is not None:
        require_run(c, run_id, model)
    if parent_id is not None:
        require_version(c, parent_id, model)
    number = int(
        c.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE model = ?", (model,)
        ).fetchone()[0]
    )
    version_id = f"{model}-v{number}"
    insert(c, "versions", {"id": version_id, "model": model, "number": number, **row})
    if run_id is not None:
        c.execute(
            "UPDATE trainings SET version_id = ? WHERE id = (SELECT MAX(id) FROM "
            "trainings WHERE run_id = ? AND status = 'ok' AND version_id IS NULL)",
            (version_id, run_id),
        )
    return version_id


def decide(
    c: sqlite3.Connection,
    model: str,
    version_id: str | None,
    decision: Decision,
    *,
    run_id: int | None,
    actor: str,
    payload: Mapping[str, Any] | None,
) -> int:
    """Append a decision; for a pointer-moving action, move the champion. Returns its id."""
    action = decision.action
    require_model(c, model)
    if run_id is not None:
        require_run(c, run_id, model)
    version = require_version(c, version_id, model) if version_id is not None else None
    if action is Action.GC and version is not None:
        raise RegistryError(
            f"{version_id}: a version's artifact is collected only through "
            "delete_version_artifact, which keeps every current and past champion"
        )
    if action.moves_pointer:
        check_pointer_move(c, model, version, action)
        if version is not None:
            # Anchor the artifact in the hash chain: rewriting versions.artifact_sha256
            # to match a swapped file then shows in `driftd verify`.
            payload = {**(payload or {}), "artifact_sha256": version["artifact_sha256"]}
    decision_id, recorded_at = append_decision(
        c,
        model=model,
        version_id=version_id,
        run_id=run_id,
        action=str(action),
        reason=decision.reason,
        actor=actor,
        payload=payload,
    )
    if action.moves_pointer and version_id is not None:
        move_pointer(c, model, version_id, decision_id, logical_time(c, run_id, recorded_at))
    return decision_id


def logical_time(c: sqlite3.Connection, run_id: int | None, recorded_at: str) -> str:
    """When a decision happened on the clock the policy uses: its run's ``now`` (the logical
    time, ``driftd check --now`` in a replay), else ``recorded_at`` (a decision from the CLI
    happens when it is made). Champion periods open and close at this time, so
    ``policy.max_age`` and ``status`` measure a champion's age on the runs' clock.
    """
    if run_id is None:
        return recorded_at
    row = c.execute("SELECT now_at FROM runs WHERE id = ?", (run_id,)).fetchone()
    return recorded_at if row is None else str(row["now_at"])


def append_decision(
    c: sqlite3.Connection,
    *,
    model: str,
    version_id: str | None,
    run_id: int | None,
    action: str,
    reason: str,
    actor: str,
    payload: Mapping[str, Any] | None,
) -> tuple[int, str]:
    """Insert the next link of the hash chain; returns (id, created_at)."""
    if not actor:
        raise RegistryError("decisions.actor: empty")
    last = c.execute("SELECT id, hash FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
    prev_hash = last["hash"] if last is not None else codec.GENESIS_HASH
    row: dict[str, Any] = {
        "id": (int(last["id"]) if last is not None else 0) + 1,
        "model": model,
        "version_id": version_id,
        "run_id": run_id,
        "action": action,
        "reason": reason,
        "actor": actor,
        "created_at": utc_iso(),
        "payload": dumps_or_none(payload, "decisions.payload"),
    }
    insert(
        c, "decisions", {**row, "prev_hash": prev_hash, "hash": codec.decision_hash(prev_hash, row)}
    )
    return int(row["id"]), str(row["created_at"])


def check_pointer_move(
    c: sqlite3.Connection, model: str, version: sqlite3.Row | None, action: Action
) -> None:
    """Refuse a pointer move to nothing, to a collected artifact, or to the current champion."""
    if version is None:
        raise RegistryError(f"{model}: {action} needs a version")
    if version["artifact_deleted_at"] is not None:
        raise RegistryError(f"{version['id']}: artifact was garbage-collected")
    current = c.execute("SELECT version_id FROM champions WHERE model = ?", (model,)).fetchone()
    if current is not None and current["version_id"] == version["id"]:
        raise RegistryError(f"{model}: {version['id']} is already the champion")


def move_pointer(
    c: sqlite3.Connection, model: str, version_id: str, decision_id: int, now: str
) -> None:
    """Close the open champion period, open the new one, point ``champions`` at it, at ``now``
    (the decision's :func:`logical_time`)."""
    c.execute(
        "UPDATE champion_history SET until = ?, ended_by = ? WHERE model = ? AND until IS NULL",
        (now, decision_id, model),
    )
    insert(
        c,
        "champion_history",
        {"model": model, "version_id": version_id, "since": now, "decision_id": decision_id},
    )
    c.execute(
        "INSERT INTO champions(model, version_id, since, decision_id) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(model) DO UPDATE SET version_id = excluded.version_id, "
        "since = excluded.since, decision_id = excluded.decision_id",
        (model, version_id, now, decision_id),
    )


def stale_run_ids(rows: list[sqlite3.Row], host: str) -> list[int]:
    """Runs left 'running' by this process, by a process that is gone, or on another host."""
    return [
        int(r["id"])
        for r in rows
        if r["host"] != host or r["pid"] == os.getpid() or not alive(int(r["pid"]))
    ]


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True
