"""One clock: what driftd decides happens at the run's logical time (``driftd check --now``).

Replays here are real ``driftd check --now`` processes (or the cycle API) on :mod:`driftd.synth`'s
demo stream, months before the wall clock, on real registry files. The migration test builds a
registry exactly as schema ``0001_initial`` left it and opens it with today's driftd.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from driftd import synth
from driftd.domain import Action, Decision, Verdict
from driftd.registry import codec, queries, schema, writes
from driftd.registry.store import Registry
from driftd.registry.verify import verify

NOW = datetime(2026, 1, 11, tzinfo=UTC)  # the demo stream ends here; drift from NOW - 4d

CONFIG = """
registry = "state/registry.db"

[[models]]
name = "churn"
every = "1d"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
categorical = ["plan", "region"]

[models.drift]
prediction_drift = false
hysteresis_k = 2
hysteresis_n = 3

[models.training]
params = {{ max_iter = 1000 }}
window = "1d"

[models.promotion]
min_holdout = 100
bootstrap = 200

[models.policy]
cooldown = "1h"
performance_drop = false
{policy}
"""


def _driftd() -> list[str]:
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def _setup(tmp: Path, policy: str = "") -> Path:
    synth.write_demo_data(tmp / "data", NOW, rows_per_day=400, reference_rows=1500)
    path = tmp / "config.toml"
    path.write_text(CONFIG.format(policy=policy), encoding="utf-8")
    return path


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_driftd(), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _check(config: Path, days_ago: int) -> dict[str, Any]:
    proc = _cli(config, "check", "--now", (NOW - timedelta(days=days_ago)).isoformat(), "--json")
    assert proc.returncode in (0, 1), proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)[0]
    return result


def _at(days_ago: int) -> str:
    return codec.utc_iso(NOW - timedelta(days=days_ago))


def test_max_age_fires_in_a_replay_and_status_history_show_logical_times(tmp_path: Path) -> None:
    """A replay months before the wall clock: the champion's `since` is the bootstrap run's
    `--now`, `max_age = "3d"` fires three replayed days later (not before), and `status` /
    `history` print the replay's times, with the wall-clock write time as "recorded at"."""
    config = _setup(tmp_path, 'max_age = "3d"')
    registry = tmp_path / "state" / "registry.db"
    assert _check(config, 9)["decision"] == "bootstrap"
    champion = queries.champion(registry, "churn")
    assert champion is not None and champion["since"] == _at(9)
    for days_ago in (8, 7):  # one and two days old: no retrain
        quiet = _check(config, days_ago)
        assert quiet["decision"] is None and "max_age" not in (quiet["retrain_reason"] or ""), quiet
    aged = _check(config, 6)
    assert aged["retrain_reason"].startswith("champion is 3.0d old (max_age 3.0d)"), aged
    assert aged["decision"] is not None

    status = json.loads(_cli(config, "status", "--json").stdout)["models"][0]
    assert status["as_of"] == _at(6)
    assert status["last_check"]["at"] == _at(6)
    assert status["last_decision"]["at"] == _at(6)
    wall_day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert status["last_check"]["recorded_at"].startswith(wall_day)
    since = status["champion"]["since"]
    assert since in (_at(9), _at(6))  # the bootstrap champion, or the candidate promoted at 6
    assert (
        status["champion"]["age_s"]
        == (NOW - timedelta(days=6) - codec.parse_iso(since)).total_seconds()
    )
    assert status["retrains_today"] >= 1  # the max_age training, counted on the replay's clock

    text = _cli(config, "status").stdout
    assert f"last check     {_at(6)}" in text
    assert f"(recorded at {wall_day}" in text
    history = _cli(config, "history").stdout.splitlines()
    assert history[0].split()[:2] == ["id", "at"] and history[0].rstrip().endswith("recorded at")
    bootstrap = next(line for line in history if " bootstrap " in line)
    assert _at(9) in bootstrap and wall_day in bootstrap
    rows = json.loads(_cli(config, "history", "--json").stdout)
    assert [r["at"] for r in rows][-1] == _at(9)
    assert all(r["recorded_at"] == r["created_at"] for r in rows)


def test_first_check_after_bootstrap_counts_toward_k_of_n(tmp_path: Path) -> None:
    """The bootstrap check, against `data.reference`, and the next, against the first model's
    snapshot of the same rows, name the same reference: with K = 2 of N = 3 the second
    breaching check retrains (it used to start counting afresh and wait for a third)."""
    config = _setup(tmp_path)
    registry = tmp_path / "state" / "registry.db"
    first = _check(config, 3)  # a drifted window, and no champion yet
    assert first["decision"] == "bootstrap" and first["verdict"] == str(Verdict.DRIFT), first
    second = _check(config, 2)
    assert second["verdict"] == str(Verdict.DRIFT), second
    assert second["retrain_reason"].startswith("drift in 2 of the last 2 checks (>= 2)"), second
    assert second["decision"] is not None
    with sqlite3.connect(f"file:{registry}?mode=ro", uri=True) as c:
        shas = [r[0] for r in c.execute("SELECT reference_sha256 FROM checks ORDER BY id")]
        bootstrap_data = c.execute(
            "SELECT data_sha256 FROM versions WHERE id = 'churn-v1'"
        ).fetchone()[0]
    c.close()
    assert shas == [bootstrap_data, bootstrap_data]


def test_decision_without_run_happens_when_recorded(tmp_path: Path) -> None:
    """A CLI decision (no run) opens its champion period at its wall time; a run's decision at
    the run's `now`, and the period it ends closes at that logical time."""
    with Registry.open(tmp_path / "r.db") as reg:
        _seed(reg._conn(), wall="2026-06-01T00:00:00.000Z", as_0001=False)
        ended = (
            reg._conn()
            .execute("SELECT since, until FROM champion_history WHERE version_id = 'm-v1'")
            .fetchone()
        )
        assert tuple(ended) == ("2025-03-01T00:00:00.000Z", "2025-03-02T00:00:00.000Z")
    before = datetime.now(UTC)
    with Registry.open(tmp_path / "r.db") as reg:
        reg.decide("m", "m-v1", Decision(Action.ROLLBACK, "back"), run_id=None, actor="cli:t")
    champion = queries.champion(tmp_path / "r.db", "m")
    assert champion is not None
    assert before <= codec.parse_iso(champion["since"]) <= datetime.now(UTC)


# --- migration from 0001 ----------------------------------------------------------------------


def _registry_0001(path: Path) -> None:
    """An empty registry exactly as driftd with only ``0001_initial`` created it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrations = Migrations(schema.MIGRATION_SET)

    @migrations(name="0001_initial")
    def initial(db: Database) -> None:
        db.executescript(schema.MIGRATIONS[0].sql)

    migrations.apply(Database(conn))
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def _seed(c: sqlite3.Connection, *, wall: str, as_0001: bool) -> None:
    """Two runs on a 2025 replay clock (written at ``wall``), each making a version champion,
    the second ending the first's period; a third run deleted (its id must not come back).
    ``as_0001``: the pointer moves as 0001-era driftd moved it, at the write's wall time;
    else through today's ``writes.decide``."""
    c.row_factory = sqlite3.Row
    c.execute("BEGIN IMMEDIATE")
    writes.insert(c, "models", {"name": "m", "created_at": wall})
    for n in (1, 2, 3):
        run = {"model": "m", "started_at": wall, "finished_at": wall, "status": "drift"}
        run |= {"trigger": "check", "now_at": f"2025-03-0{n}T00:00:00.000Z", "verdict": "drift"}
        writes.insert(c, "runs", {**run, "pid": 1, "host": "h"})
        check = {"run_id": n, "model": "m", "checked_at": wall, "verdict": "drift", "reason": "x"}
        check |= {"drifted": "[]", "breached": 1, "n_ref": 10, "n_live": 10, "report": "{}"}
        writes.insert(c, "checks", {**check, "reference_sha256": "r" * 64})
        if n == 3:
            break
        version = {"id": f"m-v{n}", "model": "m", "number": n, "created_at": wall, "run_id": n}
        version |= {"artifact_path": f"/nowhere/m-v{n}.skops", "artifact_sha256": "a" * 64}
        version |= {"artifact_size": 1, "estimator": "e", "params": "{}", "spec": "{}"}
        version |= {"features": "[]", "data_sha256": "d" * 64, "data_rows": 1}
        version |= {"code_version": "0", "environment": "{}", "metrics": "{}"}
        writes.insert(c, "versions", version)
        action = Action.BOOTSTRAP if n == 1 else Action.PROMOTE
        if not as_0001:
            writes.decide(
                c, "m", f"m-v{n}", Decision(action, "r"), run_id=n, actor="daemon", payload=None
            )
            continue
        decision_id, _ = writes.append_decision(
            c,
            model="m",
            version_id=f"m-v{n}",
            run_id=n,
            action=str(action),
            reason="r",
            actor="daemon",
            payload={"artifact_sha256": "a" * 64},
        )
        writes.move_pointer(c, "m", f"m-v{n}", decision_id, wall)
    c.execute("DELETE FROM checks WHERE run_id = 3")
    c.execute("DELETE FROM runs WHERE id = 3")
    c.execute("COMMIT")


def test_migration_from_0001_keeps_data_and_moves_champions_to_the_runs_clock(
    tmp_path: Path,
) -> None:
    """A 0001 registry with runs, checks, versions, a hash-chained decision log and champion
    periods on the wall clock: after opening it with this driftd, every row is still there and
    the chain verifies, the periods sit on the runs' `now_at`, `insufficient_data` is accepted,
    the run-id counter did not go back, and the schema equals a freshly created one."""
    path = tmp_path / "old.db"
    _registry_0001(path)
    wall = "2026-06-01T00:00:00.000Z"
    conn = sqlite3.connect(path, isolation_level=None)
    _seed(conn, wall=wall, as_0001=True)
    assert {r[0] for r in conn.execute("SELECT since FROM champion_history")} == {wall}
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    decisions = [tuple(r) for r in conn.execute("SELECT * FROM decisions ORDER BY id")]
    conn.close()

    with Registry.open(path) as reg:
        run = reg.start_run("m", "check", datetime(2025, 3, 4, tzinfo=UTC))
        reg.finish_run(run, "ok", verdict=str(Verdict.INSUFFICIENT))
    assert run == 4  # run 3 was deleted: AUTOINCREMENT still does not hand its id out again
    assert verify(path, check_artifacts=False) == []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
        after = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        assert after == {
            **counts,
            "runs": counts["runs"] + 1,
            "_sqlite_migrations": len(schema.MIGRATIONS),
        }
        assert [tuple(r) for r in c.execute("SELECT * FROM decisions ORDER BY id")] == decisions
        periods = c.execute(
            "SELECT version_id, since, until FROM champion_history ORDER BY id"
        ).fetchall()
        assert periods == [
            ("m-v1", "2025-03-01T00:00:00.000Z", "2025-03-02T00:00:00.000Z"),
            ("m-v2", "2025-03-02T00:00:00.000Z", None),
        ]
        assert c.execute("SELECT since FROM champions").fetchone()[0] == "2025-03-02T00:00:00.000Z"
        assert c.execute("SELECT verdict FROM runs WHERE id = 4").fetchone()[0] == (
            "insufficient_data"
        )
        assert c.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        migrated = _schema(c)
    c.close()
    fresh = tmp_path / "fresh.db"
    Registry.open(fresh).close()
    with sqlite3.connect(f"file:{fresh}?mode=ro", uri=True) as c:
        assert _schema(c) == migrated
    c.close()


def _schema(c: sqlite3.Connection) -> list[tuple[str, str]]:
    return sorted(
        (str(name), " ".join(str(sql).replace('"', "").split()))
        for name, sql in c.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name <> 'sqlite_sequence'"
        )
    )


def test_a_backfill_before_recorded_trainings_is_not_cooling_down(tmp_path: Path) -> None:
    """Trainings recorded at a later logical time do not count for a check replayed earlier:
    the cool-down and daily cap look at (now - 1 day, now] on the run's clock, so a backfill
    is not blocked by a training "in the future"."""
    path = tmp_path / "registry.db"
    later = datetime(2026, 3, 1, tzinfo=UTC)
    with Registry.open(path) as registry:
        registry.ensure_model("m")
        run = registry.start_run("m", "schedule", later)
        registry.record_training(run, "m", "failed", error="x", started_at=later, finished_at=later)
    earlier = datetime(2025, 3, 1, tzinfo=UTC)
    assert queries.last_retrain_times(path, "m", earlier - timedelta(days=1), earlier) == []
    assert len(queries.last_retrain_times(path, "m", later - timedelta(days=1), later)) == 1
