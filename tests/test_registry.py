"""The SQLite registry on real files: schema, writes, reads, integrity checks and file modes.

Concurrency and crash tests (real child processes, SIGKILL) are in test_registry_concurrency.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd.domain import (
    Action,
    Decision,
    DriftReport,
    Evaluation,
    FeatureDrift,
    FeatureKind,
    FeatureState,
    MetricComparison,
    TrainedModel,
    Verdict,
)
from driftd.errors import (
    NotFoundError,
    RegistryCorruptError,
    RegistryError,
    SchemaTooNewError,
)
from driftd.registry import queries, schema
from driftd.registry.store import Registry

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# --- helpers (test_registry_concurrency.py imports these) -------------------------------------


def make_trained(root: Path, seed: int = 0) -> TrainedModel:
    """A fake artifact on disk (random bytes) described the way the trainer would."""
    directory = root / "artifacts" / uuid.uuid4().hex[:8]
    directory.mkdir(parents=True)
    path = directory / "model.skops"
    data = os.urandom(256)
    path.write_bytes(data)
    return TrainedModel(
        artifact_path=str(path),
        artifact_sha256=hashlib.sha256(data).hexdigest(),
        artifact_size=len(data),
        estimator="sklearn.linear_model.LogisticRegression",
        params={"C": 1.0, "max_iter": 100},
        data_sha256="d" * 64,
        n_rows=500,
        time_min="2025-01-01T00:00:00Z",
        time_max="2025-02-01T00:00:00Z",
        seed=seed,
        duration_s=1.25,
        log_path=None,
        features=("age", "plan"),
        environment={"python": "3.11.7", "sklearn": "1.9"},
    )


def feature(name: str, state: FeatureState, p: float = 0.01) -> FeatureDrift:
    return FeatureDrift(
        feature=name,
        kind=FeatureKind.NUMERIC,
        state=state,
        test="ks",
        statistic=0.2,
        p_value=p,
        p_adjusted=p * 2,
        effect_name="wasserstein_sd",
        effect=0.3,
        threshold=0.1,
        n_ref=1000,
        n_live=200,
        missing_ref=0.0,
        missing_live=0.01,
    )


def make_report(drift: bool = True) -> DriftReport:
    odd = FeatureDrift(  # NaN and inf, as a degenerate statistic may produce
        feature="plan",
        kind=FeatureKind.CATEGORICAL,
        state=FeatureState.INSUFFICIENT,
        test="chi2",
        statistic=float("inf"),
        p_value=float("nan"),
        p_adjusted=None,
        effect_name="psi",
        effect=None,
        threshold=0.2,
        n_ref=1000,
        n_live=3,
        missing_ref=0.0,
        missing_live=0.0,
        detail="live window has 3 rows",
    )
    age = feature("age", FeatureState.DRIFT if drift else FeatureState.OK)
    return DriftReport(
        verdict=Verdict.DRIFT if drift else Verdict.OK,
        features=(age, odd),
        drifted_share=0.5 if drift else 0.0,
        share_threshold=0.3,
        correction="bh",
        alpha=0.05,
        n_ref=1000,
        n_live=200,
        extra=(feature("prediction", FeatureState.OK, 0.5),),
        reason="1 of 2 features drifted",
    )


def make_evaluation() -> Evaluation:
    row = MetricComparison(
        metric="roc_auc",
        role="primary",
        champion=0.80,
        candidate=0.84,
        difference=0.04,
        ci_low=0.01,
        ci_high=0.07,
        p_value=0.004,
        margin=0.0,
        passed=True,
    )
    return Evaluation(
        n_holdout=400,
        confidence=0.95,
        comparisons=(row,),
        candidate_metrics={"roc_auc": 0.84},
        champion_metrics={"roc_auc": 0.80},
    )


def seed_versions(reg: Registry, root: Path, model: str, n: int) -> list[str]:
    """``n`` versions of ``model``, the first one bootstrapped as champion."""
    reg.ensure_model(model)
    ids = []
    for i in range(n):
        parent = ids[-1] if ids else None
        ids.append(
            reg.add_version(
                model,
                make_trained(root, i),
                run_id=None,
                parent_id=parent,
                reference_sha256="r" * 64,
                spec={"trigger": "drift"},
                metrics={"roc_auc": 0.8},
            )
        )
    reg.decide(model, ids[0], Decision(Action.BOOTSTRAP, "first"), run_id=None, actor="daemon")
    return ids


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection, standing in for an operator with the sqlite3 shell."""
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[Registry]:
    registry = Registry.open(tmp_path / "state" / "registry.db")
    yield registry
    registry.close()


# --- schema and opening ---------------------------------------------------------------


def test_open_creates_the_schema_in_wal_mode(tmp_path: Path) -> None:
    """A new registry is WAL, stamped with user_version/application_id and sqlite-utils' log."""
    path = tmp_path / "registry.db"
    Registry.open(path).close()
    with raw(path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert c.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        applied = c.execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall()
        assert applied == [(schema.MIGRATION_SET, m.name) for m in schema.MIGRATIONS]
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(schema.TABLES) <= tables
    Registry.open(path).close()  # re-opening applies nothing twice
    with raw(path) as c:
        assert c.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(
            schema.MIGRATIONS
        )


def test_every_domain_value_is_allowed_by_the_schema() -> None:
    """A new Action or verdict in domain.py needs a migration: the CHECK lists must match."""
    assert set(schema.ACTIONS) == {str(a) for a in Action}
    assert set(schema.VERDICTS) == {str(v) for v in Verdict}


def test_light_imports_for_readers_and_for_an_up_to_date_writer(tmp_path: Path) -> None:
    """queries never imports pandas/scipy/sklearn/sqlite_utils; opening a current registry
    with the writer does not import sqlite_utils (hence pandas) either."""
    path = tmp_path / "registry.db"
    with Registry.open(path) as r:
        seed_versions(r, tmp_path, "churn", 1)
    code = (
        "import sys\n"
        "from driftd.registry import queries\n"
        f"queries.status({str(path)!r}); queries.verify({str(path)!r})\n"
        "heavy = [m for m in ('pandas', 'scipy', 'sklearn', 'sqlite_utils') if m in sys.modules]\n"
        "from driftd.registry.store import Registry\n"
        f"Registry.open({str(path)!r}, create=False).close()\n"
        "heavy += [m for m in ('pandas', 'sqlite_utils') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == ""


def test_missing_registry_reads_as_empty(tmp_path: Path) -> None:
    """Before the daemon's first run, reads return nothing; show/resolve/open(create=False) say
    what is missing."""
    path = tmp_path / "none.db"
    assert queries.status(path) == {"daemon": None, "models": []}
    assert queries.history(path) == [] and queries.versions(path) == []
    assert queries.champion(path, "m") is None and queries.last_run(path, "m") is None
    with pytest.raises(NotFoundError):
        queries.show(path, "m-v1")
    with pytest.raises(NotFoundError):
        queries.resolve_version(path, "m", "1")
    with pytest.raises(NotFoundError):
        Registry.open(path, create=False)
    assert not path.exists()
    assert queries.verify(path) == [f"{path}: no registry file"]


def test_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    """Random bytes: RegistryCorruptError from the writer and the readers, file unchanged."""
    path = tmp_path / "registry.db"
    data = os.urandom(8192)
    path.write_bytes(data)
    with pytest.raises(RegistryCorruptError):
        Registry.open(path)
    with pytest.raises(RegistryCorruptError):
        queries.status(path)
    assert queries.verify(path)
    assert path.read_bytes() == data


def test_truncated_registry_is_refused_untouched(tmp_path: Path) -> None:
    """A real registry cut mid-page fails quick_check: RegistryCorruptError, file unchanged."""
    path = tmp_path / "registry.db"
    with Registry.open(path) as r:
        seed_versions(r, tmp_path, "churn", 3)
        run = r.start_run("churn", "schedule", T0)
        for _ in range(30):
            r.record_check(run, "churn", make_report(), breached=True, reference_sha256="r" * 64)
    assert not Path(f"{path}-wal").exists()  # the last close checkpointed everything
    size = path.stat().st_size
    page = 4096
    assert size >= 8 * page
    with path.open("r+b") as fh:
        fh.truncate((size // page // 2) * page + page // 2)
    data = path.read_bytes()
    with pytest.raises(RegistryCorruptError):
        Registry.open(path)
    assert path.read_bytes() == data
    assert any("integrity" in p or "malformed" in p for p in queries.verify(path))
    assert path.read_bytes() == data


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    """A registry written by a newer driftd: SchemaTooNewError everywhere, file unchanged."""
    path = tmp_path / "registry.db"
    Registry.open(path).close()
    with raw(path) as c:
        c.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    c.close()
    data = path.read_bytes()
    for call in (lambda: Registry.open(path), lambda: queries.status(path)):
        with pytest.raises(SchemaTooNewError, match="newer"):
            call()
    with pytest.raises(SchemaTooNewError):
        queries.verify(path)
    assert path.read_bytes() == data


def test_an_unknown_applied_migration_refuses_to_migrate(tmp_path: Path) -> None:
    """A migration name this driftd does not know (a newer driftd applied it) stops the
    migration runner with SchemaTooNewError, inside a rolled-back transaction."""
    from driftd.registry.migrate import migrate

    path = tmp_path / "registry.db"
    Registry.open(path).close()
    c = raw(path)
    c.execute(
        "INSERT INTO _sqlite_migrations(migration_set, name, applied_at) "
        "VALUES ('driftd', '0099_future', 'x')"
    )
    with pytest.raises(SchemaTooNewError, match="0099_future"):
        migrate(c, path)
    assert not c.in_transaction
    c.close()


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    """Pointing driftd at another application's database fails clearly and changes nothing."""
    path = tmp_path / "other.db"
    with raw(path) as c:
        c.execute("CREATE TABLE notes(x)")
    c.close()
    data = path.read_bytes()
    with pytest.raises(RegistryError, match="not a driftd registry"):
        Registry.open(path)
    assert path.read_bytes() == data


# --- runs, checks, trainings ----------------------------------------------------------


def test_run_lifecycle(reg: Registry) -> None:
    """A run starts 'running' with our pid, finishes once; JSON summary stores NaN as null."""
    reg.ensure_model("churn")
    run = reg.start_run("churn", "schedule", T0)
    last = queries.last_run(reg.path, "churn")
    assert last is not None and last["status"] == "running" and last["pid"] == os.getpid()
    assert last["now_at"] == "2025-03-01T12:00:00.000Z" and ISO_Z.match(last["started_at"])
    reg.finish_run(run, "drift", verdict="drift", summary={"share": float("nan"), "n": 2})
    last = queries.last_run(reg.path, "churn")
    assert last is not None and last["summary"] == {"n": 2, "share": None}
    assert ISO_Z.match(last["finished_at"])
    with pytest.raises(RegistryError, match="already finished"):
        reg.finish_run(run, "ok")
    with pytest.raises(RegistryError):
        reg.finish_run(run, "running")
    with pytest.raises(NotFoundError):
        reg.finish_run(9999, "ok")
    with pytest.raises(NotFoundError):
        reg.start_run("nope", "schedule", T0)
    with pytest.raises(RegistryError, match="naive"):
        reg.start_run("churn", "schedule", datetime(2025, 1, 1))


def test_interrupt_stale_runs_spares_live_processes(reg: Registry) -> None:
    """Runs of this process and of dead processes become 'interrupted'; a live one is spared,
    and an interrupted run can still be finished with its real outcome."""
    reg.ensure_model("churn")
    mine = reg.start_run("churn", "schedule", T0)
    starter = (
        "import sys\nfrom datetime import UTC, datetime\n"
        "from driftd.registry.store import Registry\n"
        "r = Registry.open(sys.argv[1])\n"
        "print(r.start_run('churn', 'check', datetime.now(UTC)), flush=True)\n"
        "if sys.argv[2] == 'wait': sys.stdin.readline()\n"
    )
    dead = subprocess.run(
        [sys.executable, "-c", starter, str(reg.path), "exit"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    dead_run = int(dead.stdout)
    live = subprocess.Popen(
        [sys.executable, "-c", starter, str(reg.path), "wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert live.stdout is not None
        live_run = int(live.stdout.readline())
        assert reg.interrupt_stale_runs("driftd restarted") == 2
        states = {r["id"]: r["status"] for r in _runs(reg.path)}
        assert states == {mine: "interrupted", dead_run: "interrupted", live_run: "running"}
    finally:
        live.communicate("\n", timeout=10)
    reg.finish_run(mine, "ok", verdict="ok")
    assert {r["id"]: r["status"] for r in _runs(reg.path)}[mine] == "ok"


def _runs(path: Path) -> list[dict[str, object]]:
    with raw(path) as c:
        c.row_factory = sqlite3.Row
        rows = [dict(r) for r in c.execute("SELECT * FROM runs")]
    c.close()
    return rows


def test_record_check_and_hysteresis_history(reg: Registry) -> None:
    """One check row plus a row per feature and extra; NaN stored as NULL, inf kept; breaches
    come back newest first."""
    reg.ensure_model("churn")
    run = reg.start_run("churn", "schedule", T0)
    for breached in (True, False, True, True):
        check = reg.record_check(
            run, "churn", make_report(breached), breached=breached, reference_sha256="r" * 64
        )
    assert reg.recent_breaches("churn", 3) == [True, True, False]
    assert reg.recent_breaches("churn", 0) == [] and reg.recent_breaches("other", 3) == []
    with raw(reg.path) as c:
        rows = c.execute(
            "SELECT role, feature, statistic, p_value FROM feature_drift WHERE check_id = ? "
            "ORDER BY role, feature",
            (check,),
        ).fetchall()
        report = json.loads(
            c.execute("SELECT report FROM checks WHERE id = ?", (check,)).fetchone()[0]
        )
    assert rows == [
        ("extra", "prediction", 0.2, 0.5),
        ("feature", "age", 0.2, 0.01),
        ("feature", "plan", float("inf"), None),
    ]
    assert report["features"][1]["p_value"] is None and report["features"][1]["statistic"] is None
    last = queries.status(reg.path, now=T0)["models"][0]["last_check"]
    assert (
        last["verdict"] == "drift" and last["drifted"] == ["age"] and last["drifted_share"] == 0.5
    )
    with pytest.raises(RegistryError, match="belongs to model"):
        reg.ensure_model("fraud")
        reg.record_check(run, "fraud", make_report(), breached=True, reference_sha256="r" * 64)


def test_versions_numbering_lineage_and_training_link(reg: Registry, tmp_path: Path) -> None:
    """Versions are numbered per model; the run's training row is linked; show gives lineage."""
    reg.ensure_model("churn")
    run = reg.start_run("churn", "schedule", T0)
    reg.record_training(
        run,
        "churn",
        "ok",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        log_path=str(tmp_path / "x.log"),
    )
    ids = seed_versions(reg, tmp_path, "churn", 2)
    v3 = reg.add_version(
        "churn",
        make_trained(tmp_path),
        run_id=run,
        parent_id=ids[-1],
        reference_sha256=None,
        spec={"window": 86400.0, "when": T0},
        metrics={"roc_auc": float("nan")},
    )
    fraud = seed_versions(reg, tmp_path, "fraud", 1)
    assert [*ids, v3, *fraud] == ["churn-v1", "churn-v2", "churn-v3", "fraud-v1"]
    with pytest.raises(RegistryError, match="belongs to model"):
        reg.add_version(
            "churn",
            make_trained(tmp_path),
            run_id=None,
            parent_id="fraud-v1",
            reference_sha256=None,
            spec={},
            metrics={},
        )
    shown = queries.show(reg.path, "churn-v3")
    assert [v["id"] for v in shown["lineage"]] == ["churn-v2", "churn-v1"]
    assert shown["spec"] == {"when": "2025-03-01T12:00:00.000Z", "window": 86400.0}
    assert shown["metrics"] == {"roc_auc": None} and shown["status"] == "candidate"
    assert shown["code_version"] and shown["environment"]["python"] == "3.11.7"
    assert [t["log_path"] for t in shown["trainings"]] == [str(tmp_path / "x.log")]
    assert queries.show(reg.path, "churn-v2")["children"] == ["churn-v3"]
    assert [v["id"] for v in queries.versions(reg.path, "churn")] == [v3, *reversed(ids)]


def test_last_retrain_times_count_every_outcome(reg: Registry) -> None:
    """Trainings of any outcome count toward the cap; only those since the cut-off, newest
    first; status shows the count of the last 24 h."""
    reg.ensure_model("churn")
    for hours, status in ((30, "ok"), (5, "failed"), (1, "timeout")):
        start = T0 - timedelta(hours=hours)
        reg.record_training(None, "churn", status, started_at=start, finished_at=start)
    times = queries.last_retrain_times(reg.path, "churn", T0 - timedelta(days=1))
    assert times == ["2025-03-01T11:00:00.000Z", "2025-03-01T07:00:00.000Z"]
    assert queries.status(reg.path, now=T0)["models"][0]["retrains_today"] == 2
    with pytest.raises(RegistryError, match="unknown status"):
        reg.record_training(None, "churn", "exploded", started_at=T0, finished_at=T0)


# --- decisions and the champion pointer -------------------------------------------------


def test_decisions_move_the_pointer_and_keep_history(reg: Registry, tmp_path: Path) -> None:
    """bootstrap/promote/rollback move the pointer and close/open history rows; reject and
    inconclusive do not; statuses are derived from pointer and decisions."""
    v1, v2, v3 = seed_versions(reg, tmp_path, "churn", 3)
    run = reg.start_run("churn", "schedule", T0)
    reg.record_evaluation(run, "churn", v1, v2, make_evaluation())
    reg.decide("churn", v2, Decision(Action.PROMOTE, "better"), run_id=run, actor="daemon")
    reg.decide("churn", v3, Decision(Action.REJECT, "worse"), run_id=run, actor="daemon")
    champ = queries.champion(reg.path, "churn")
    assert champ is not None and champ["version_id"] == v2 and champ["artifact_sha256"]
    reg.decide("churn", v1, Decision(Action.ROLLBACK, "oops"), run_id=None, actor="cli:ana")
    champ = queries.champion(reg.path, "churn")
    assert champ is not None and champ["version_id"] == v1
    history = queries.champion_history(reg.path, "churn")
    assert [(h["version_id"], h["action"]) for h in history] == [
        (v1, "rollback"),
        (v2, "promote"),
        (v1, "bootstrap"),
    ]
    assert history[0]["until"] is None and all(h["until"] for h in history[1:])
    assert history[1]["ended_by"] == history[0]["decision_id"]
    statuses = {v["id"]: v["status"] for v in queries.versions(reg.path)}
    assert statuses == {v1: "champion", v2: "retired", v3: "rejected"}
    log = queries.history(reg.path, "churn")
    assert [d["action"] for d in log] == ["rollback", "reject", "promote", "bootstrap"]
    assert log[0]["actor"] == "cli:ana" and log[-1]["prev_hash"] == "0" * 64
    shown = queries.show(reg.path, v2)
    assert [e["candidate_id"] for e in shown["evaluations"]] == [v2]
    assert shown["evaluations"][0]["comparisons"][0]["metric"] == "roc_auc"
    assert len(shown["champion_periods"]) == 1 and shown["champion_periods"][0]["until"]
    assert queries.verify(reg.path) == []


def test_decide_refuses_bad_targets(reg: Registry, tmp_path: Path) -> None:
    """Unknown version: NotFoundError; another model's version, the current champion, or no
    version for a pointer move: RegistryError; nothing is recorded for any of them."""
    seed_versions(reg, tmp_path, "churn", 1)
    seed_versions(reg, tmp_path, "fraud", 1)
    before = len(queries.history(reg.path))
    promote = Decision(Action.MANUAL_PROMOTE, "because")
    with pytest.raises(NotFoundError):
        reg.decide("churn", "churn-v9", promote, run_id=None, actor="cli:x")
    with pytest.raises(RegistryError, match="belongs to model"):
        reg.decide("churn", "fraud-v1", promote, run_id=None, actor="cli:x")
    with pytest.raises(RegistryError, match="already the champion"):
        reg.decide("churn", "churn-v1", promote, run_id=None, actor="cli:x")
    with pytest.raises(RegistryError, match="needs a version"):
        reg.decide("churn", None, promote, run_id=None, actor="cli:x")
    with pytest.raises(NotFoundError):
        reg.decide("nope", None, Decision(Action.GC, "x"), run_id=None, actor="daemon")
    assert len(queries.history(reg.path)) == before


def test_a_failure_inside_decide_rolls_everything_back(reg: Registry, tmp_path: Path) -> None:
    """A statement failing at the last step (pointer update) undoes the decision row and the
    history rows written before it in the same transaction."""
    v1, v2 = seed_versions(reg, tmp_path, "churn", 2)
    # A TEMP trigger lives on this connection only; the file's schema is untouched.
    reg._conn().execute(
        "CREATE TEMP TRIGGER fail BEFORE UPDATE ON main.champions "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    with pytest.raises(RegistryError, match="injected failure"):
        reg.decide("churn", v2, Decision(Action.PROMOTE, "x"), run_id=None, actor="daemon")
    reg._conn().execute("DROP TRIGGER temp.fail")
    champ = queries.champion(reg.path, "churn")
    assert champ is not None and champ["version_id"] == v1
    assert [d["action"] for d in queries.history(reg.path)] == ["bootstrap"]
    assert [h["version_id"] for h in queries.champion_history(reg.path, "churn")] == [v1]
    assert queries.verify(reg.path) == []
    reg.decide("churn", v2, Decision(Action.PROMOTE, "x"), run_id=None, actor="daemon")
    assert queries.verify(reg.path) == []


def test_decisions_are_append_only(reg: Registry, tmp_path: Path) -> None:
    """Triggers refuse UPDATE and DELETE on decisions, even from a plain sqlite3 session."""
    seed_versions(reg, tmp_path, "churn", 1)
    c = raw(reg.path)
    for sql in ("UPDATE decisions SET reason = 'x'", "DELETE FROM decisions"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            c.execute(sql)
    c.close()


def test_delete_version_artifact(reg: Registry, tmp_path: Path) -> None:
    """gc removes a never-champion artifact (recording a 'gc' decision) and refuses current or
    past champions; a collected version cannot be promoted."""
    v1, v2, v3 = seed_versions(reg, tmp_path, "churn", 3)
    reg.decide("churn", v2, Decision(Action.PROMOTE, "x"), run_id=None, actor="daemon")
    for kept in (v1, v2):
        with pytest.raises(RegistryError, match="champion"):
            reg.delete_version_artifact(kept)
    path = Path(queries.show(reg.path, v3)["artifact_path"])
    assert reg.delete_version_artifact(v3) == path and not path.exists()
    assert reg.delete_version_artifact(v3) is None
    assert queries.show(reg.path, v3)["status"] == "deleted"
    assert queries.history(reg.path, limit=1)[0]["action"] == "gc"
    with pytest.raises(RegistryError, match="garbage-collected"):
        reg.decide("churn", v3, Decision(Action.MANUAL_PROMOTE, "x"), run_id=None, actor="cli")
    with pytest.raises(NotFoundError):
        reg.delete_version_artifact("churn-v99")
    assert queries.verify(reg.path) == []


def test_resolve_version_forms(reg: Registry, tmp_path: Path) -> None:
    """'3', 'v3' and 'churn-v3' name the same version; others are NotFoundError."""
    seed_versions(reg, tmp_path, "churn", 3)
    seed_versions(reg, tmp_path, "fraud", 1)
    for text in ("3", "v3", "churn-v3", " churn-v3 "):
        assert queries.resolve_version(reg.path, "churn", text) == "churn-v3"
    for text in ("v9", "fraud-v1", "latest", ""):
        with pytest.raises(NotFoundError):
            queries.resolve_version(reg.path, "churn", text)


# --- status and heartbeat -----------------------------------------------------------------


def test_status_reports_heartbeat_and_models(reg: Registry, tmp_path: Path) -> None:
    """The daemon is alive within 3 heartbeat intervals and not after, nor after a 'stopped'
    beat; per model: champion with age, last decision, last error, last run."""
    seed_versions(reg, tmp_path, "churn", 1)
    run = reg.start_run("churn", "schedule", T0)
    reg.finish_run(run, "failed", error="live.csv: no such file")
    reg.beat(4242, "idle", next_runs={"churn": "2025-03-01T13:00:00+00:00"})
    beat_at = datetime.fromisoformat(queries.status(reg.path)["daemon"]["beat_at"])
    now = beat_at + timedelta(seconds=1)
    data = queries.status(reg.path, now=now)
    daemon = data["daemon"]
    assert daemon["alive"] and daemon["pid"] == 4242 and daemon["state"] == "idle"
    assert daemon["next_runs"] == {"churn": "2025-03-01T13:00:00+00:00"}
    assert not queries.status(reg.path, now=now + timedelta(seconds=15))["daemon"]["alive"]
    (model,) = data["models"]
    assert model["name"] == "churn" and model["champion"]["id"] == "churn-v1"
    assert model["champion"]["age_s"] >= 0
    assert model["last_decision"]["action"] == "bootstrap"
    assert model["last_error"]["error"] == "live.csv: no such file"
    assert model["last_run"]["status"] == "failed" and model["last_check"] is None
    started = daemon["started_at"]
    reg.beat(4242, "stopped")
    data = queries.status(reg.path, now=now)
    assert not data["daemon"]["alive"] and data["daemon"]["started_at"] == started
    reg.beat(5151, "idle", config_error="models.every: bad duration")
    daemon = queries.status(reg.path)["daemon"]
    assert daemon["started_at"] != started or daemon["pid"] == 5151
    assert daemon["config_error"] == "models.every: bad duration"
    json.dumps(queries.status(reg.path))  # plain data all the way down


def test_timestamps_are_iso_utc_with_z(reg: Registry, tmp_path: Path) -> None:
    """Every timestamp column holds fixed-width ISO-8601 UTC text ending in 'Z'."""
    seed_versions(reg, tmp_path, "churn", 2)
    run = reg.start_run("churn", "schedule", T0)
    reg.record_check(run, "churn", make_report(), breached=True, reference_sha256="r" * 64)
    reg.finish_run(run, "drift")
    reg.record_training(run, "churn", "ok", started_at=T0, finished_at=T0)
    reg.decide("churn", "churn-v2", Decision(Action.PROMOTE, "x"), run_id=run, actor="daemon")
    reg.beat(1, "idle")
    columns = {
        "models": ["created_at"],
        "runs": ["started_at", "finished_at", "now_at"],
        "checks": ["checked_at"],
        "versions": ["created_at"],
        "trainings": ["started_at", "finished_at"],
        "decisions": ["created_at"],
        "champions": ["since"],
        "champion_history": ["since"],
        "heartbeat": ["started_at", "beat_at"],
    }
    with raw(reg.path) as c:
        for table, cols in columns.items():
            for col in cols:
                values = [r[0] for r in c.execute(f"SELECT {col} FROM {table}")]
                assert values and all(ISO_Z.match(v) for v in values), (table, col, values)


def test_unstorable_json_names_the_field(reg: Registry) -> None:
    """A value JSON cannot hold raises RegistryError naming the column and key."""
    reg.ensure_model("churn")
    run = reg.start_run("churn", "schedule", T0)
    with pytest.raises(RegistryError, match=r"runs\.summary\.bad"):
        reg.finish_run(run, "ok", summary={"bad": object()})


# --- verify -------------------------------------------------------------------------------


def test_verify_detects_a_tampered_decision(reg: Registry, tmp_path: Path) -> None:
    """Rewriting a decision (after dropping the trigger) breaks its hash; deleting one breaks
    the next row's link; verify names the rows."""
    _, v2, v3 = seed_versions(reg, tmp_path, "churn", 3)
    reg.decide("churn", v2, Decision(Action.REJECT, "worse"), run_id=None, actor="daemon")
    reg.decide("churn", v3, Decision(Action.REJECT, "worse"), run_id=None, actor="daemon")
    assert queries.verify(reg.path) == []
    c = raw(reg.path)
    c.execute("DROP TRIGGER decisions_no_update")
    c.execute("UPDATE decisions SET reason = 'better' WHERE id = 2")
    problems = queries.verify(reg.path)
    assert "decisions: row 2: hash mismatch (the row was altered)" in problems
    assert any("decisions_no_update is missing" in p for p in problems)
    c.execute("DROP TRIGGER decisions_no_delete")
    c.execute("PRAGMA foreign_keys = OFF")
    c.execute("DELETE FROM decisions WHERE id = 2")
    c.close()
    problems = queries.verify(reg.path)
    assert any(p.startswith("decisions: row 3: prev_hash") for p in problems)


def test_verify_detects_artifact_damage(reg: Registry, tmp_path: Path) -> None:
    """A flipped byte in the champion's artifact and a missing candidate artifact are reported."""
    v1, v2 = seed_versions(reg, tmp_path, "churn", 2)
    champion = Path(queries.show(reg.path, v1)["artifact_path"])
    data = bytearray(champion.read_bytes())
    data[10] ^= 0xFF
    champion.write_bytes(bytes(data))
    Path(queries.show(reg.path, v2)["artifact_path"]).unlink()
    problems = queries.verify(reg.path)
    assert len(problems) == 2
    assert "churn-v1" in problems[0] and "does not match" in problems[0]
    assert "churn-v2" in problems[1] and problems[1].endswith("is missing")
    assert queries.verify(reg.path, check_artifacts=False) == []


def test_verify_detects_a_pointer_out_of_step(reg: Registry, tmp_path: Path) -> None:
    """A champion pointer edited by hand no longer matches history and decisions."""
    seed_versions(reg, tmp_path, "churn", 2)
    c = raw(reg.path)
    c.execute("UPDATE champions SET version_id = 'churn-v2'")
    c.close()
    problems = queries.verify(reg.path)
    assert any("open champion_history row says churn-v1" in p for p in problems)
    assert any("did not promote it" in p for p in problems)


def test_verify_reports_runs_left_running_for_a_day(reg: Registry) -> None:
    """A run 'running' for over a day is a problem; a current one is not."""
    reg.ensure_model("churn")
    reg.start_run("churn", "schedule", T0)
    assert queries.verify(reg.path) == []
    later = datetime.now(UTC) + timedelta(days=2)
    (problem,) = queries.verify(reg.path, now=later)
    assert "has been 'running'" in problem


# --- file modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
@pytest.mark.parametrize("group_readable", [False, True])
def test_file_and_directory_modes(tmp_path: Path, umask: int, group_readable: bool) -> None:
    """Registry, -wal and -shm are 0600 (0640 group-readable) and new directories 0700
    (0750), whatever the umask."""
    path = tmp_path / "a" / "b" / "registry.db"
    old = os.umask(umask)
    try:
        with Registry.open(path, group_readable=group_readable) as r:
            r.ensure_model("churn")
            modes = {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in (
                    path,
                    Path(f"{path}-wal"),
                    Path(f"{path}-shm"),
                    path.parent,
                    path.parent.parent,
                )
            }
    finally:
        os.umask(old)
    f, d = (0o640, 0o750) if group_readable else (0o600, 0o700)
    assert modes == {"registry.db": f, "registry.db-wal": f, "registry.db-shm": f, "b": d, "a": d}


def test_reopening_applies_the_configured_mode(tmp_path: Path) -> None:
    """Turning group readability on or off in the config takes effect at the next open."""
    path = tmp_path / "registry.db"
    Registry.open(path).close()
    Registry.open(path, group_readable=True).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    Registry.open(path, group_readable=False).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _interpreter_for_nobody(gid: int) -> str:
    """A Python >= 3.11 that user nobody may execute (a venv under /root is not one)."""
    for python in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        try:
            subprocess.run(
                [python, "-c", "import sys; assert sys.version_info >= (3, 11)"],
                check=True,
                capture_output=True,
                user=65534,
                group=gid,
                extra_groups=[],
            )
        except (OSError, subprocess.CalledProcessError):
            continue
        return python
    pytest.skip("no Python interpreter executable by user nobody")


def _readable_copy_of_driftd(lib: Path) -> Path:
    """The driftd under test, copied into ``lib`` with modes anyone may read.

    The checkout (and a venv inside it) may sit where user nobody cannot enter: a home
    directory, a ``mktemp -d``. ``queries`` needs only the standard library, so the copy is all
    the child needs.
    """
    source = Path(queries.__file__).resolve().parents[1]
    shutil.copytree(source, lib / "driftd", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [lib, *lib.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return lib


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_a_group_member_can_read_status(tmp_path: Path) -> None:
    """With group_readable, a user of the registry's group (not its owner, no write access to
    the directory) runs queries.status, with and without the daemon holding the file open;
    wherever the checkout lives (its code is copied where that user can read it)."""
    top = Path(tempfile.mkdtemp(prefix="driftd-group-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        gid = 65534  # nogroup
        path = top / "state" / "registry.db"
        reg = Registry.open(path, group_readable=True)
        seed_versions(reg, tmp_path, "churn", 1)
        os.chown(path.parent, 0, gid)
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            os.chown(name, 0, gid)
        code = (
            "import sys\nfrom driftd.registry import queries\n"
            "print(queries.status(sys.argv[1])['models'][0]['champion']['id'])\n"
        )
        lib = _readable_copy_of_driftd(top / "lib")
        python = _interpreter_for_nobody(gid)

        def read_as_nobody() -> str:
            out = subprocess.run(
                [python, "-c", code, str(path)],
                check=False,
                capture_output=True,
                text=True,
                cwd=top,
                user=65534,
                group=gid,
                extra_groups=[],
                env={**os.environ, "PYTHONPATH": str(lib), "PYTHONDONTWRITEBYTECODE": "1"},
            )
            assert out.returncode == 0, out.stderr
            return out.stdout.strip()

        assert read_as_nobody() == "churn-v1"  # daemon running: -wal and -shm exist
        reg.close()
        assert not Path(f"{path}-wal").exists()
        assert read_as_nobody() == "churn-v1"  # daemon stopped: the immutable fallback
    finally:
        shutil.rmtree(top, ignore_errors=True)


# --- threads ------------------------------------------------------------------------------


def test_one_registry_shared_by_threads(reg: Registry) -> None:
    """Worker threads share one Registry (a connection each) without errors; close() from the
    main thread closes them all, and later use raises RegistryError."""
    reg.ensure_model("churn")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(15):
                run = reg.start_run("churn", "schedule", T0)
                reg.finish_run(run, "ok", verdict="ok")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(_runs(reg.path)) == 60
    reg.close()
    with pytest.raises(RegistryError, match="closed"):
        reg.ensure_model("churn")


# --- the README's registry section --------------------------------------------------------

README = REPO / "README.md"


def _doc() -> str:
    """The README's "## The registry" section, up to the next top-level section."""
    text = README.read_text(encoding="utf-8")
    return text.split("\n## The registry\n", 1)[1].split("\n## ", 1)[0]


def _doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _doc(), re.S)


def _seeded(tmp_path: Path) -> Path:
    path = tmp_path / "registry.db"
    with Registry.open(path) as r:
        ids = seed_versions(r, tmp_path, "churn", 3)
        run = r.start_run("churn", "schedule", T0)
        r.record_check(run, "churn", make_report(), breached=True, reference_sha256="r" * 64)
        r.record_training(run, "churn", "ok", started_at=T0, finished_at=T0)
        r.record_evaluation(run, "churn", ids[0], ids[1], make_evaluation())
        r.decide("churn", ids[1], Decision(Action.PROMOTE, "better"), run_id=run, actor="daemon")
        r.finish_run(run, "drift", verdict="drift", summary={"decision": "promote"})
        r.beat(os.getpid(), "idle", next_runs={"churn": "2025-03-01T13:00:00Z"})
    return path


def test_every_column_is_documented(tmp_path: Path) -> None:
    """Each table and view has a `#### \\`name\\`` section listing every column in backticks."""
    path = _seeded(tmp_path)
    text = _doc()
    with raw(path) as c:
        names = [
            r[0]
            for r in c.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%'"
            )
        ]
        columns = {n: [r[1] for r in c.execute(f"PRAGMA table_info({n})")] for n in names}
    c.close()
    missing = []
    for name, cols in columns.items():
        head = f"#### `{name}`"
        assert head in text, f"README.md's registry section has no {head}"
        section = text.split(head, 1)[1].split("\n#### ", 1)[0].split("\n### ", 1)[0]
        missing += [f"{name}.{col}" for col in cols if f"| `{col}` |" not in section]
    assert missing == []


def test_documented_queries_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQL example in the README's registry section runs on a real registry, read-only,
    and the documented hash-chain check passes."""
    path = _seeded(tmp_path)
    queries_sql = _doc_blocks("sql")
    assert len(queries_sql) >= 8
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    for sql in queries_sql:
        c.execute(sql).fetchall()
    c.close()
    (snippet,) = _doc_blocks("python")
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
