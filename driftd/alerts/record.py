"""The ``deliveries`` table: every delivery's outcome, written after its last attempt.

Rows are written through the daemon's own :class:`~driftd.registry.store.Registry`, so they
queue with the cycles' writes in the process (one writer at a time) rather than contend with
them for SQLite's lock. A registry that refuses the write (full disk, read-only) costs the
record, never the notification: the outcome is logged either way.

The table is bounded: each insert removes rows older than the newest :data:`KEEP` (a few MB),
so a target that fails every few minutes for months cannot grow the registry without limit.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd.errors import DriftdError
from driftd.registry import codec
from driftd.registry.queries import read, row_dict

if TYPE_CHECKING:  # types only: `driftd status` imports this module for last_failure
    from driftd.alerts.deliver import Outcome
    from driftd.alerts.events import Event
    from driftd.registry.store import Registry

KEEP = 10_000


def record(registry: Registry, event: Event, target: str, outcome: Outcome) -> None:
    """One row; raises DriftdError (RegistryError) when the registry refuses it."""
    registry.record_delivery(
        {
            "event": event.event,
            "model": event.model,
            "run_id": event.run_id,
            "decision_id": event.decision_id,
            "event_at": event.at or None,
            "target": target,
            "attempts": outcome.attempts,
            "ok": int(outcome.ok),
            "error": outcome.error,
            "at": codec.utc_iso(),
        },
        KEEP,
    )


def decision_of_run(path: Path, run_id: int) -> int | None:
    """The id of the newest decision a run recorded, or None."""
    try:
        with read(path) as c:
            if c is None:
                return None
            row = c.execute(
                "SELECT id FROM decisions WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,)
            ).fetchone()
            return int(row[0]) if row else None
    except (DriftdError, sqlite3.Error):
        return None  # the event goes out without it rather than not at all


def last_failure(path: Path) -> dict[str, Any] | None:
    """The newest failed delivery, or None (also for a registry without the table yet)."""
    with read(path) as c:
        if c is None:
            return None
        row = c.execute("SELECT * FROM deliveries WHERE ok = 0 ORDER BY id DESC LIMIT 1")
        return row_dict(row.fetchone())


def recent(path: Path, limit: int = 50) -> list[dict[str, Any]]:
    """Deliveries, newest first."""
    with read(path) as c:
        if c is None:
            return []
        rows = c.execute("SELECT * FROM deliveries ORDER BY id DESC LIMIT ?", (limit,))
        return [d for d in (row_dict(r) for r in rows.fetchall()) if d is not None]
