"""The registry's write side: :class:`Registry`. Each method is one ``BEGIN IMMEDIATE``
transaction (see :mod:`driftd.registry.connection` for why, and for the threading model).

>>> import tempfile
>>> from datetime import UTC, datetime
>>> with tempfile.TemporaryDirectory() as d, Registry.open(Path(d) / "r.db") as reg:
...     reg.ensure_model("churn")
...     run = reg.start_run("churn", "check", datetime(2025, 1, 1, tzinfo=UTC))
...     reg.finish_run(run, "ok", verdict="ok")
...     reg.recent_breaches("churn", 3)
[]
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from driftd.domain import Decision, DriftReport, Evaluation, TrainedModel
from driftd.errors import NotFoundError, RegistryError
from driftd.permissions import Access
from driftd.registry import codec, files, rows, schema, writes
from driftd.registry.codec import dumps, dumps_or_none, real, utc_iso
from driftd.registry.connection import Pool
from driftd.registry.writes import require_model, require_run, require_version


class Registry:
    """Writer handle on one registry file; safe to share between the threads of a process."""

    def __init__(
        self, path: Path, *, group_readable: bool, busy_timeout: float, group: str | None = None
    ) -> None:
        self.path = path
        self.access = Access(group, group_readable)
        self.group_readable = self.access.readable
        self._pool = Pool(path, busy_timeout)
        self._host = socket.gethostname()

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        group_readable: bool = False,
        group: str | None = None,
        create: bool = True,
        busy_timeout: float = codec.BUSY_TIMEOUT_S,
    ) -> Registry:
        """Open the registry at ``path``, creating and migrating it as needed.

        An existing file is first checked read-only (``quick_check`` and schema version), so a
        corrupt or newer file raises RegistryCorruptError / SchemaTooNewError untouched.
        ``group`` (the config's ``group``) implies ``group_readable`` and also gives the files
        and new directories that group (see :mod:`driftd.permissions`).
        """
        path = Path(path)
        access = Access(group, group_readable)
        if path.exists():
            codec.inspect(path)
        elif not create:
            raise NotFoundError(f"{path}: no registry here (the daemon creates it on first run)")
        else:
            files.create_file(path, access)
        reg = cls(path, group_readable=group_readable, busy_timeout=busy_timeout, group=group)
        try:
            files.enforce_modes(path, access)
            conn = reg._conn()
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RegistryError(f"{path}: cannot switch to WAL mode (got {mode})")
            files.enforce_modes(path, access)  # -wal and -shm exist now: give them the group
            if codec.schema_state(conn, path) != schema.SCHEMA_VERSION:
                from driftd.registry.migrate import migrate  # imports sqlite-utils (and pandas)

                migrate(conn, path)
        except sqlite3.Error as exc:
            reg.close()
            raise codec.translate(exc, path) from None
        except BaseException:
            reg.close()
            raise
        return reg

    def close(self) -> None:
        """Close every thread's connection. Idempotent."""
        self._pool.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        """This thread's raw connection (fault-injection tests use it; code should not)."""
        return self._pool.connection()

    # --- models and runs ----------------------------------------------------------------

    def ensure_model(self, name: str) -> None:
        if not name or name != name.strip():
            raise RegistryError(f"model name {name!r}: empty or padded with spaces")
        with self._pool.transaction() as c:
            c.execute(
                "INSERT INTO models(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                (name, utc_iso()),
            )

    def start_run(self, model: str, trigger: str, now: datetime) -> int:
        """A 'running' row for one cycle; ``now`` is the cycle's logical clock."""
        row = {
            "model": model,
            "started_at": utc_iso(),
            "status": "running",
            "trigger": trigger,
            "now_at": utc_iso(now),
            "pid": os.getpid(),
            "host": self._host,
        }
        with self._pool.transaction() as c:
            require_model(c, model)
            return writes.insert(c, "runs", row)

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        verdict: str | None = None,
        error: str | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        """Close a run. One marked 'interrupted' may still be finished with its real outcome."""
        if status == "running" or status not in schema.RUN_STATUSES:
            raise RegistryError(f"runs.status: cannot finish a run as {status!r}")
        if verdict is not None and verdict not in schema.VERDICTS:
            raise RegistryError(f"runs.verdict: unknown verdict {verdict!r}")
        summary_json = dumps_or_none(summary, "runs.summary")
        with self._pool.transaction() as c:
            row = c.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id}: no such run")
            if row["status"] not in ("running", "interrupted"):
                raise RegistryError(f"run {run_id}: already finished as {row['status']}")
            c.execute(
                "UPDATE runs SET status = ?, finished_at = ?, verdict = ?, error = ?, summary = ? "
                "WHERE id = ?",
                (status, utc_iso(), verdict, error, summary_json, run_id),
            )

    def interrupt_stale_runs(self, reason: str) -> int:
        """Mark 'interrupted' the runs left 'running' by this process or by a dead one.

        A run whose process is still alive on this host (a concurrent ``driftd check``) is
        left alone; one from another host name counts as dead (WAL needs a single host, so a
        different name means this host was renamed, e.g. a new container). Returns the count.
        """
        with self._pool.transaction() as c:
            rows = c.execute("SELECT id, pid, host FROM runs WHERE status = 'running'").fetchall()
            stale = writes.stale_run_ids(rows, self._host)
            now = utc_iso()
            c.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?",
                [(now, reason, run_id) for run_id in stale],
            )
            return len(stale)

    # --- checks and trainings -----------------------------------------------------------

    def record_check(
        self,
        run_id: int,
        model: str,
        report: DriftReport,
        *,
        breached: bool,
        reference_sha256: str,
        summaries: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """The check row, one row per feature (and per extra check) and the per-feature data
        ``summaries`` (:func:`driftd.report.summarize.summarize`), in one transaction."""
        row = rows.check_row(run_id, model, report, breached, reference_sha256)
        with self._pool.transaction() as c:
            require_run(c, run_id, model)
            check_id = writes.insert(c, "checks", row)
            features = [writes.feature_row(check_id, "feature", f) for f in report.features]
            features += [writes.feature_row(check_id, "extra", f) for f in report.extra]
            c.executemany(writes.INSERT_FEATURE, features)
            c.executemany(writes.INSERT_SUMMARY, writes.summary_rows(check_id, summaries or {}))
            return check_id

    def recent_breaches(
        self, model: str, n: int, reference_sha256: str | None = None
    ) -> list[bool]:
        """Whether each of the last ``n`` checks breached, newest first (K-of-N hysteresis).

        With ``reference_sha256``, only checks against that reference count: breaches measured
        against a former champion's data say nothing about the current one. Checks whose window
        was too thinly covered to judge (``insufficient_data``) are no evidence either way and
        are skipped.
        """
        if n <= 0:
            return []
        if reference_sha256 is None:
            rows = self._pool.query(
                "SELECT breached FROM checks WHERE model = ? AND verdict <> 'insufficient_data' "
                "ORDER BY id DESC LIMIT ?",
                (model, n),
            )
        else:
            rows = self._pool.query(
                "SELECT breached FROM checks WHERE model = ? AND reference_sha256 = ? "
                "AND verdict <> 'insufficient_data' ORDER BY id DESC LIMIT ?",
                (model, reference_sha256, n),
            )
        return [bool(r["breached"]) for r in rows]

    def recent_extra_breaches(
        self, model: str, n: int, scope: str, reference_sha256: str
    ) -> list[bool]:
        """Per check, newest first: whether an extra row named ``scope:...`` was ``drift``.

        The K-of-N history of prediction drift and of the multivariate check; like
        :meth:`recent_breaches`, only checks against ``reference_sha256`` count.
        """
        if n <= 0:
            return []
        prefix = f"{scope}:"
        rows = self._pool.query(
            "SELECT EXISTS (SELECT 1 FROM feature_drift f WHERE f.check_id = c.id "
            "AND f.role = 'extra' AND substr(f.feature, 1, ?) = ? AND f.state = 'drift') AS hit "
            "FROM checks c WHERE c.model = ? AND c.reference_sha256 = ? "
            "AND c.verdict <> 'insufficient_data' ORDER BY c.id DESC LIMIT ?",
            (len(prefix), prefix, model, reference_sha256, n),
        )
        return [bool(r["hit"]) for r in rows]

    def record_training(
        self,
        run_id: int | None,
        model: str,
        status: str,
        *,
        error: str | None = None,
        log_path: str | None = None,
        started_at: datetime,
        finished_at: datetime,
        version_id: str | None = None,
    ) -> int:
        if status not in schema.TRAINING_STATUSES:
            raise RegistryError(f"trainings.status: unknown status {status!r}")
        row = {
            "run_id": run_id,
            "model": model,
            "started_at": utc_iso(started_at),
            "finished_at": utc_iso(finished_at),
            "status": status,
            "error": error,
            "log_path": rows.abspath(log_path),
            "version_id": version_id,
        }
        with self._pool.transaction() as c:
            require_model(c, model)
            if run_id is not None:
                require_run(c, run_id, model)
            if version_id is not None:
                require_version(c, version_id, model)
            return writes.insert(c, "trainings", row)

    # --- versions and evaluations -------------------------------------------------------

    def add_version(
        self,
        model: str,
        trained: TrainedModel,
        *,
        run_id: int | None,
        parent_id: str | None,
        reference_sha256: str | None,
        spec: Mapping[str, Any],
        metrics: Mapping[str, Any],
    ) -> str:
        """Record a trained candidate as ``{model}-v{n}``, n = max + 1 under the write lock.

        The run's latest successful training row, if any, is linked to the new version.
        """
        row = rows.version_row(
            trained,
            run_id=run_id,
            parent_id=parent_id,
            reference_sha256=reference_sha256,
            spec=spec,
            metrics=metrics,
        )
        with self._pool.transaction() as c:
            return writes.insert_version(c, model, row, run_id=run_id, parent_id=parent_id)

    def record_evaluation(
        self,
        run_id: int | None,
        model: str,
        champion_id: str,
        candidate_id: str,
        evaluation: Evaluation,
    ) -> int:
        row = {
            "run_id": run_id,
            "model": model,
            "champion_id": champion_id,
            "candidate_id": candidate_id,
            "n_holdout": evaluation.n_holdout,
            "confidence": real(evaluation.confidence),
            "comparisons": dumps([x.to_dict() for x in evaluation.comparisons], "comparisons"),
            "champion_metrics": dumps(evaluation.champion_metrics, "champion_metrics"),
            "candidate_metrics": dumps(evaluation.candidate_metrics, "candidate_metrics"),
            "created_at": utc_iso(),
        }
        with self._pool.transaction() as c:
            require_model(c, model)
            if run_id is not None:
                require_run(c, run_id, model)
            require_version(c, champion_id, model)
            require_version(c, candidate_id, model)
            return writes.insert(c, "evaluations", row)

    # --- decisions and the champion pointer ---------------------------------------------

    def importances(self, version_id: str) -> dict[str, float]:
        """The stored permutation importances of a version ({} when not yet computed)."""
        rows = self._pool.query(
            "SELECT feature, importance FROM importances WHERE version_id = ?", (version_id,)
        )
        return {r["feature"]: float(r["importance"]) for r in rows}

    def record_importances(
        self, version_id: str, importances: Mapping[str, float], metric: str, n_rows: int
    ) -> None:
        """Store a version's importances once; a second writer's copy is ignored (the values
        come from the same seeded computation)."""
        now = utc_iso()
        values = [
            (version_id, name, float(value), metric, n_rows, now)
            for name, value in importances.items()
        ]
        with self._pool.transaction() as c:
            c.executemany(
                "INSERT INTO importances(version_id, feature, importance, metric, n_rows, "
                "computed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                values,
            )

    def decide(
        self,
        model: str,
        version_id: str | None,
        decision: Decision,
        *,
        run_id: int | None,
        actor: str,
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Append a hash-chained decision; for a pointer-moving action, move the champion.

        One transaction: a crash at any instant leaves either the old champion and no trace of
        the decision, or the new champion with its decision and history rows. Returns the
        decision id. NotFoundError for an unknown version, RegistryError for another model's.
        A pointer-moving decision's payload also records the version's ``artifact_sha256``.
        """
        with self._pool.transaction() as c:
            return writes.decide(
                c, model, version_id, decision, run_id=run_id, actor=actor, payload=payload
            )

    def promote_refit(
        self,
        model: str,
        trained: TrainedModel,
        *,
        run_id: int | None,
        candidate_id: str,
        reference_sha256: str | None,
        spec: Mapping[str, Any],
        metrics: Mapping[str, Any],
        decision: Decision,
        actor: str,
        payload: Mapping[str, Any] | None = None,
    ) -> tuple[str, int]:
        """Record a refitted artifact as the next version (parent: the evaluated candidate) and
        the decision that makes it champion, in one transaction: a crash leaves either the old
        champion and no refit version, or the refit as champion with its decision and history.
        Returns (version id, decision id).
        """
        row = rows.version_row(
            trained,
            run_id=run_id,
            parent_id=candidate_id,
            reference_sha256=reference_sha256,
            spec=spec,
            metrics=metrics,
        )
        with self._pool.transaction() as c:
            version_id = writes.insert_version(c, model, row, run_id=run_id, parent_id=candidate_id)
            decision_id = writes.decide(
                c, model, version_id, decision, run_id=run_id, actor=actor, payload=payload
            )
            return version_id, decision_id

    def delete_version_artifact(
        self,
        version_id: str,
        *,
        actor: str = "daemon",
        reason: str = "garbage-collected",
        payload: Mapping[str, Any] | None = None,
        remove_dir: bool = False,
    ) -> Path | None:
        """Mark a version's artifact deleted (with a 'gc' decision), then unlink the file.

        Refused (RegistryError) for a version that is or ever was champion: rollback needs it.
        This is the only way a version's artifact is collected (``decide`` refuses a 'gc'
        decision about a version), so the rule holds whoever calls. The decision and the mark
        commit together, before the unlink, so a crash in between leaves an unreferenced file
        for the next sweep, never a row pointing at nothing. With ``remove_dir`` the files
        driftd keeps beside the artifact (its training-data snapshot) go too, and the directory
        when that leaves it empty. ``payload`` is added to the decision's. Returns the artifact
        path, or None when it was already deleted.
        """
        with self._pool.transaction() as c:
            row = c.execute("SELECT * FROM versions WHERE id = ?", (version_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"version {version_id!r}: no such version")
            if c.execute(
                "SELECT 1 FROM champion_history WHERE version_id = ? LIMIT 1", (version_id,)
            ).fetchone():
                raise RegistryError(f"{version_id}: is or was champion; its artifact is kept")
            if row["artifact_deleted_at"] is not None:
                return None
            _, now = writes.append_decision(
                c,
                model=row["model"],
                version_id=version_id,
                run_id=None,
                action="gc",
                reason=reason,
                actor=actor,
                payload={
                    **(payload or {}),
                    "artifact_path": row["artifact_path"],
                    "artifact_sha256": row["artifact_sha256"],
                    "artifact_size": row["artifact_size"],
                },
            )
            c.execute("UPDATE versions SET artifact_deleted_at = ? WHERE id = ?", (now, version_id))
            shared = c.execute(
                "SELECT count(*) FROM versions WHERE id <> :id AND artifact_deleted_at IS NULL "
                "AND substr(artifact_path, 1, length(:dir)) = :dir",
                {"id": version_id, "dir": str(Path(row["artifact_path"]).parent) + os.sep},
            ).fetchone()[0]
        path = Path(row["artifact_path"])
        try:
            path.unlink(missing_ok=True)
            if remove_dir and not shared:
                files.remove_version_dir(path.parent)
        except OSError as exc:
            where = exc.filename or path
            raise RegistryError(
                f"{where}: marked deleted but not removed: {exc.strerror}"
            ) from None
        return path

    def record_hook(self, row: Mapping[str, Any]) -> int:
        """One run of ``promotion.on_champion_change`` (:mod:`driftd.champion.hooks`)."""
        with self._pool.transaction() as c:
            require_model(c, str(row["model"]))
            return writes.insert(c, "champion_hooks", row)

    def record_delivery(self, row: Mapping[str, Any], keep: int) -> int:
        """One notification delivery (:mod:`driftd.alerts.record`); all but the newest ``keep``
        rows go in the same transaction, so the table stays bounded."""
        with self._pool.transaction() as c:
            new = writes.insert(c, "deliveries", row)
            c.execute("DELETE FROM deliveries WHERE id <= ?", (new - keep,))
            return new

    # --- heartbeat ----------------------------------------------------------------------

    def beat(
        self,
        pid: int,
        state: str,
        *,
        next_runs: Mapping[str, str] | None = None,
        config_error: str | None = None,
        wait: float | None = None,
    ) -> None:
        """Upsert the one heartbeat row; ``started_at`` resets when the pid or host changes.

        Beat with ``state='stopped'`` at a clean shutdown so status shows the daemon down at once.
        With ``wait``, give up (:class:`~driftd.registry.connection.WriterBusyError`) rather than
        queue longer than that behind this process's other writers.
        """
        row = rows.heartbeat_row(pid, self._host, state, next_runs, config_error)
        with self._pool.transaction(wait) as c:
            c.execute(rows.UPSERT_HEARTBEAT, row)
