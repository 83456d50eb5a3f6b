"""`driftd gc`'s rule and its execution on a real registry with real files (no training here;
tests/test_lifecycle.py runs the real command on versions made by real cycles)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftd import config
from driftd.config import Config
from driftd.domain import Action, Decision, TrainedModel
from driftd.errors import DriftdError, RegistryError
from driftd.registry import queries
from driftd.registry.store import Registry
from driftd.retention import Choice, VersionFacts, execute, plan, select

HOUR = 3600.0


def _choices(choices: list[Choice]) -> dict[str, tuple[bool, str]]:
    return {c.version_id: (c.collect, c.reason) for c in choices}


# --- the pure rule ------------------------------------------------------------------------


def test_champions_past_and_present_are_always_kept() -> None:
    """keep=0 still keeps the current champion and every former champion."""
    vs = [
        VersionFacts("m-v1", "m", 1, was_champion=True),
        VersionFacts("m-v2", "m", 2, champion=True, was_champion=True),
        VersionFacts("m-v3", "m", 3, last_action="reject"),
    ]
    got = _choices(select(vs, keep=0))
    assert got == {
        "m-v1": (False, "former champion (kept for rollback)"),
        "m-v2": (False, "current champion"),
        "m-v3": (True, "rejected"),
    }


def test_the_newest_n_versions_are_kept_whatever_their_status() -> None:
    """keep=N protects the N highest version numbers of each model; older ones go."""
    vs = [VersionFacts(f"m-v{i}", "m", i, last_action="reject") for i in range(1, 6)]
    got = _choices(select(vs, keep=2))
    assert [v for v, (collect, _) in got.items() if collect] == ["m-v1", "m-v2", "m-v3"]
    assert got["m-v5"] == (False, "among the 2 newest versions")
    assert all(not c for c, _ in _choices(select(vs, keep=10)).values())


def test_only_the_newest_version_awaiting_approval_is_kept() -> None:
    """Of several versions awaiting approval (or would_promote), the newest stays for a human;
    the older ones are superseded."""
    vs = [
        VersionFacts("m-v1", "m", 1, champion=True, was_champion=True),
        VersionFacts("m-v2", "m", 2, last_action="awaiting_approval"),
        VersionFacts("m-v3", "m", 3, last_action="would_promote"),
        VersionFacts("m-v4", "m", 4, last_action="inconclusive"),
    ]
    got = _choices(select(vs, keep=0))
    assert got["m-v2"] == (True, "awaiting approval, superseded by m-v3")
    assert got["m-v3"] == (False, "newest version awaiting approval")
    assert got["m-v4"] == (True, "inconclusive")


def test_a_version_of_a_running_run_is_kept_and_an_orphaned_one_goes() -> None:
    """No decision yet: kept while its run is running, collected once the run ended without
    deciding (a crash between recording the version and the decision)."""
    vs = [
        VersionFacts("m-v1", "m", 1, run_pending=True),
        VersionFacts("m-v2", "m", 2, run_pending=False),
    ]
    got = _choices(select(vs, keep=0))
    assert got["m-v1"] == (False, "its run is still in progress")
    assert got["m-v2"] == (True, "never decided (its run ended without a decision)")


def test_collected_versions_are_skipped_and_keep_is_per_model() -> None:
    """Already-deleted versions are not listed; a mapping gives each model its own N (others
    get the default 5); a negative N is refused."""
    vs = [VersionFacts("a-v1", "a", 1, deleted=True)]
    vs += [VersionFacts(f"a-v{i}", "a", i, last_action="reject") for i in (2, 3)]
    vs += [VersionFacts(f"b-v{i}", "b", i, last_action="reject") for i in range(1, 7)]
    got = _choices(select(vs, keep={"a": 1}))
    assert "a-v1" not in got
    assert got["a-v2"][0] and not got["a-v3"][0]
    assert [v for v, (c, _) in got.items() if c and v.startswith("b")] == ["b-v1"]
    with pytest.raises(DriftdError, match="keep must be >= 0"):
        select(vs, keep=-1)


# --- on a registry ------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Config, Registry]]:
    cfg = Config(
        registry=tmp_path / "state" / "registry.db",
        artifacts=tmp_path / "state" / "artifacts",
        models=(),
    )
    reg = Registry.open(cfg.registry)
    reg.ensure_model("churn")
    yield cfg, reg
    reg.close()


def _version(cfg: Config, reg: Registry, action: Action | None = None) -> str:
    """A version laid out as a cycle lays it out: artifacts/<model>/<12 hex>/ with the artifact
    and the training-data snapshot; then the decision ``action`` about it, if any."""
    directory = cfg.artifacts / "churn" / uuid.uuid4().hex[:12]
    directory.mkdir(parents=True)
    data = os.urandom(300)
    (directory / "model.skops").write_bytes(data)
    (directory / "data.parquet").write_bytes(b"x" * 1000)
    trained = TrainedModel(
        artifact_path=str(directory / "model.skops"),
        artifact_sha256=hashlib.sha256(data).hexdigest(),
        artifact_size=len(data),
        estimator="sklearn.linear_model.LogisticRegression",
        params={},
        data_sha256="d" * 64,
        n_rows=10,
        time_min=None,
        time_max=None,
        seed=0,
        duration_s=0.1,
        log_path=None,
        features=("x",),
        environment={},
    )
    vid = reg.add_version(
        "churn", trained, run_id=None, parent_id=None, reference_sha256=None, spec={}, metrics={}
    )
    if action is not None:
        reg.decide("churn", vid, Decision(action, str(action)), run_id=None, actor="daemon")
    return vid


def _artifact_dir(cfg: Config, vid: str) -> Path:
    return Path(queries.show(cfg.registry, vid)["artifact_path"]).parent


def test_execute_removes_version_directories_with_a_decision_each(
    env: tuple[Config, Registry],
) -> None:
    """gc removes the collected versions' directories (artifact and data snapshot), writes one
    'gc' decision per version in the same transaction as the mark, and verify stays clean."""
    cfg, reg = env
    v1 = _version(cfg, reg, Action.BOOTSTRAP)
    v2 = _version(cfg, reg, Action.REJECT)
    v3 = _version(cfg, reg, Action.AWAITING_APPROVAL)
    planned = plan(cfg, keep=0)
    assert [(r.kind, r.version_id) for r in planned.removals] == [("version", v2)]
    assert planned.removals[0].bytes == 1300
    assert {c.version_id for c in planned.kept} == {v1, v3}
    done = execute(reg, planned, actor="cli:test")
    assert done.errors == () and len(done.removals) == 1
    assert not _artifact_dir(cfg, v2).exists() and _artifact_dir(cfg, v1).exists()
    gc = queries.history(cfg.registry, limit=1)[0]
    assert (gc["action"], gc["version_id"], gc["actor"]) == ("gc", v2, "cli:test")
    assert gc["payload"]["bytes"] == 1300 and gc["reason"] == "gc: rejected"
    assert queries.show(cfg.registry, v2)["artifact_deleted_at"] is not None
    assert queries.verify(cfg.registry) == []
    assert plan(cfg, keep=0).removals == ()  # nothing left to do: idempotent


def test_the_registry_refuses_to_collect_a_champion_whoever_asks(
    env: tuple[Config, Registry],
) -> None:
    """The rule lives in the registry: deleting a current or former champion's artifact, or
    writing a 'gc' decision about a version by hand, is refused."""
    cfg, reg = env
    v1 = _version(cfg, reg, Action.BOOTSTRAP)
    v2 = _version(cfg, reg, Action.PROMOTE)
    for vid in (v1, v2):
        with pytest.raises(RegistryError, match="is or was champion"):
            reg.delete_version_artifact(vid, remove_dir=True)
        with pytest.raises(RegistryError, match="only through delete_version_artifact"):
            reg.decide("churn", vid, Decision(Action.GC, "x"), run_id=None, actor="cli:x")
        assert (_artifact_dir(cfg, vid) / "data.parquet").exists()


def test_a_promotion_between_plan_and_execute_wins(env: tuple[Config, Registry]) -> None:
    """A version promoted after gc planned to remove it is kept and reported as an error."""
    cfg, reg = env
    _version(cfg, reg, Action.BOOTSTRAP)
    v2 = _version(cfg, reg, Action.AWAITING_APPROVAL)
    _version(cfg, reg, Action.AWAITING_APPROVAL)
    planned = plan(cfg, keep=0)
    assert [r.version_id for r in planned.removals] == [v2]
    reg.decide("churn", v2, Decision(Action.MANUAL_PROMOTE, "ok"), run_id=None, actor="cli:x")
    done = execute(reg, planned, actor="cli:test")
    assert done.removals == () and "is or was champion" in done.errors[0]
    assert (_artifact_dir(cfg, v2) / "model.skops").exists()


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    for here, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.utime(os.path.join(here, name), (then, then))
    os.utime(path, (then, then))


def test_orphans_and_temp_files_go_only_when_old(env: tuple[Config, Registry]) -> None:
    """Unreferenced version directories and .tmp-* leftovers are removed when untouched for an
    hour (one decision per orphan, one per model for temp files); younger ones, a directory an
    operator made, and logs/ stay."""
    cfg, reg = env
    v1 = _version(cfg, reg, Action.BOOTSTRAP)
    base = cfg.artifacts / "churn"
    old_orphan, young_orphan = base / "0123456789ab", base / "ba9876543210"
    for d in (old_orphan, young_orphan, base / "logs", base / "mine"):
        d.mkdir()
        (d / "data.parquet").write_bytes(b"y" * 10)
    old_temp = _artifact_dir(cfg, v1) / ".tmp-abc.skops"
    old_temp.write_bytes(b"z" * 5)
    young_temp = base / ".tmp-train-xyz"
    young_temp.mkdir()
    _age(old_orphan, 2 * HOUR)
    _age(old_temp, 2 * HOUR)
    _age(base / "mine", 2 * HOUR)
    planned = plan(cfg, keep=0)
    assert [(r.kind, Path(r.path)) for r in planned.removals] == [
        ("orphan", old_orphan),
        ("temp", old_temp),
    ]
    before = len(queries.history(cfg.registry))
    done = execute(reg, planned, actor="cli:test")
    assert done.errors == ()
    assert not old_orphan.exists() and not old_temp.exists()
    assert young_orphan.exists() and young_temp.exists() and (base / "mine").exists()
    assert (base / "logs").exists() and (_artifact_dir(cfg, v1) / "model.skops").exists()
    logged = queries.history(cfg.registry)[: len(queries.history(cfg.registry)) - before]
    assert [(d["action"], d["version_id"], d["payload"]["kind"]) for d in logged] == [
        ("gc", None, "temp"),
        ("gc", None, "orphan"),
    ]
    assert queries.verify(cfg.registry) == []


def test_nothing_of_a_model_in_the_middle_of_a_run_is_touched(
    env: tuple[Config, Registry],
) -> None:
    """While a run of the model is 'running' (a training may be in flight), an orphan and a
    temp file two hours old stay when the training timeout is 3h: only twice the longest
    timeout frees them (an hour at least)."""
    cfg, reg = env
    raw = {
        "registry": str(cfg.registry),
        "artifacts": str(cfg.artifacts),
        "models": [
            {
                "name": "churn",
                "every": "1h",
                "data": {
                    "reference": "r.csv",
                    "live": "l.csv",
                    "timestamp": "ts",
                    "target": "y",
                    "window": "1d",
                },
                "training": {"timeout": "3h"},
            }
        ],
    }
    cfg = config.parse(raw)
    _version(cfg, reg, Action.BOOTSTRAP)
    reg.start_run("churn", "check", datetime.now(UTC))
    base = cfg.artifacts / "churn"
    orphan, temp = base / "0123456789ab", base / ".tmp-train-abc"
    for d in (orphan, temp):
        d.mkdir()
        (d / "train.parquet").write_bytes(b"t")
        _age(d, 2 * HOUR)
    assert plan(cfg, keep=0).removals == ()
    _age(orphan, 7 * HOUR)
    assert [r.kind for r in plan(cfg, keep=0).removals] == ["orphan"]


def test_dry_run_plan_changes_nothing(env: tuple[Config, Registry]) -> None:
    """plan() only reads: files, decisions and versions are as before."""
    cfg, reg = env
    _version(cfg, reg, Action.BOOTSTRAP)
    v2 = _version(cfg, reg, Action.REJECT)
    before = (len(queries.history(cfg.registry)), sorted(os.listdir(cfg.artifacts / "churn")))
    assert [r.version_id for r in plan(cfg, keep=0).removals] == [v2]
    after = (len(queries.history(cfg.registry)), sorted(os.listdir(cfg.artifacts / "churn")))
    assert before == after
    assert plan(cfg, keep=0).to_dict(dry_run=True)["dry_run"] is True


def test_a_collected_versions_leftover_directory_goes_next_time(
    env: tuple[Config, Registry],
) -> None:
    """If gc stopped between its commit and the removal (here: the artifact unlinked, the data
    snapshot left), the next gc removes the leftover directory as an orphan."""
    cfg, reg = env
    _version(cfg, reg, Action.BOOTSTRAP)
    v2 = _version(cfg, reg, Action.REJECT)
    leftover = _artifact_dir(cfg, v2)
    reg.delete_version_artifact(v2)  # without remove_dir: data.parquet stays
    assert (leftover / "data.parquet").exists()
    assert plan(cfg, keep=0).removals == ()  # younger than an hour
    _age(leftover, 2 * HOUR)
    assert [(r.kind, Path(r.path)) for r in plan(cfg, keep=0).removals] == [("orphan", leftover)]
