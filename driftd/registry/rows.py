"""Domain objects as registry rows: every JSON column through :func:`codec.dumps`, every float
through :func:`codec.real`, every time through :func:`codec.utc_iso`. No I/O."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from driftd import __version__
from driftd.domain import DriftReport, TrainedModel
from driftd.registry.codec import dumps, dumps_or_none, real, utc_iso

# started_at survives beats of the same daemon and resets when another process takes over.
UPSERT_HEARTBEAT = (
    "INSERT INTO heartbeat(id, pid, host, started_at, beat_at, state, config_error, next_runs, "
    "code_version) VALUES (1, :pid, :host, :now, :now, :state, :config_error, :next_runs, "
    ":code_version) ON CONFLICT(id) DO UPDATE SET "
    "started_at = CASE WHEN heartbeat.pid = excluded.pid AND heartbeat.host = excluded.host "
    "THEN heartbeat.started_at ELSE excluded.started_at END, "
    "pid = excluded.pid, host = excluded.host, beat_at = excluded.beat_at, "
    "state = excluded.state, config_error = excluded.config_error, "
    "next_runs = excluded.next_runs, code_version = excluded.code_version"
)


def abspath(path: str | None) -> str | None:
    """Stored paths are absolute, so verify and the cycle find them from any directory."""
    return None if path is None else os.path.abspath(path)


def check_row(
    run_id: int, model: str, report: DriftReport, breached: bool, reference_sha256: str
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": model,
        "checked_at": utc_iso(),
        "verdict": str(report.verdict),
        "reason": report.reason,
        "drifted": dumps(list(report.drifted)),
        "drifted_share": real(report.drifted_share),
        "share_threshold": real(report.share_threshold),
        "correction": report.correction,
        "alpha": real(report.alpha),
        "breached": int(breached),
        "n_ref": report.n_ref,
        "n_live": report.n_live,
        "reference_sha256": reference_sha256,
        "report": dumps(report.to_dict(), "checks.report"),
    }


def version_row(
    trained: TrainedModel,
    *,
    run_id: int | None,
    parent_id: str | None,
    reference_sha256: str | None,
    spec: Mapping[str, Any],
    metrics: Mapping[str, Any],
) -> dict[str, Any]:
    """Every ``versions`` column but id, model and number (allocated under the write lock)."""
    return {
        "created_at": utc_iso(),
        "run_id": run_id,
        "parent_id": parent_id,
        "artifact_path": abspath(trained.artifact_path),
        "artifact_sha256": trained.artifact_sha256,
        "artifact_size": trained.artifact_size,
        "estimator": trained.estimator,
        "params": dumps(trained.params, "versions.params"),
        "spec": dumps(spec, "versions.spec"),
        "features": dumps(list(trained.features), "versions.features"),
        "data_sha256": trained.data_sha256,
        "data_rows": trained.n_rows,
        "data_time_min": trained.time_min,
        "data_time_max": trained.time_max,
        "reference_sha256": reference_sha256,
        "seed": trained.seed,
        "code_version": __version__,
        "environment": dumps(trained.environment, "versions.environment"),
        "metrics": dumps(metrics, "versions.metrics"),
        "training_seconds": real(trained.duration_s),
        "log_path": abspath(trained.log_path),
    }


def heartbeat_row(
    pid: int,
    host: str,
    state: str,
    next_runs: Mapping[str, str] | None,
    config_error: str | None,
) -> dict[str, Any]:
    return {
        "pid": pid,
        "host": host,
        "now": utc_iso(),
        "state": state,
        "config_error": config_error,
        "next_runs": dumps_or_none(next_runs, "heartbeat.next_runs"),
        "code_version": __version__,
    }
