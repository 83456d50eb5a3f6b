"""Crash safety: kill -9 of a real ``driftd run`` at seeded moments, and the start-up sweep.

The campaigns (``tests/faultkit.py``) restart the daemon after every kill and check, once its
start-up sweep has run: ``PRAGMA integrity_check``; one champion per model with its artifact's
sha256 and its data snapshot; ``CHAMPION.json`` agreeing with the registry; ``driftd verify`` (the
decision hash chain, foreign keys, pointer and history); no run left 'running'; no temp file and no
unreferenced version directory left (and the orphans reported); no training process outliving the
daemon; no traceback. The unit tests pin the orphan rule (:mod:`driftd.trainer.orphans`) on real
directories. ``bench/faults.py`` runs the same campaign with hundreds of kills.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from driftd.trainer import find_orphans, list_version_dirs, sweep_temp_files
from driftd.trainer.orphans import VersionDir
from tests import faultkit


def _assert_clean(report: faultkit.Report) -> None:
    assert not report.violations, "\n".join(report.lines())
    assert report.decisions.get("promote", 0) >= 1, "\n".join(report.lines())


@pytest.mark.slow  # ~80 s: a daemon restarted four times (`.ci/run` runs the slow tests too)
def test_kill9_in_training_and_promotion_leaves_a_consistent_registry(tmp_path: Path) -> None:
    """Four kills aimed at the training child, the artifact write, the evaluation before the
    promotion commit, and the commit of the version row: after each restart every invariant
    holds, and the daemon still promotes at the end."""
    ws = faultkit.make_workspace(tmp_path)
    report = faultkit.campaign(
        ws,
        kills=4,
        seed=11,
        targets=("training", "promotion", "artifact", "commit"),
        rotate=True,
    )
    _assert_clean(report)
    assert report.kills == 4
    assert report.training_kills >= 2, report.lines()
    assert report.promotion_kills >= 1, report.lines()
    assert report.training_kills + report.promotion_kills >= 3, report.lines()
    assert report.temp_seen and not report.temp_survived  # crashes left temp files; all swept
    assert report.orphans_seen and not report.orphans_survived


@pytest.mark.slow
def test_kill9_campaign_with_random_targets(tmp_path: Path) -> None:
    """Forty kills at seeded random moments and targets (start-up, mid-cycle, around the
    promotion commit, `driftd check` killed too): no invariant is ever violated."""
    ws = faultkit.make_workspace(tmp_path)
    report = faultkit.campaign(ws, kills=40, seed=5)
    _assert_clean(report)
    assert report.training_kills >= 5 and report.promotion_kills >= 5, report.lines()


@pytest.mark.slow
def test_kill9_with_a_real_training_child(tmp_path: Path) -> None:
    """The same invariants with the real estimator child (pandas, scikit-learn, skops)."""
    ws = faultkit.make_workspace(tmp_path, training="estimator")
    report = faultkit.campaign(
        ws, kills=6, seed=3, targets=("training", "promotion", "timed"), rotate=True
    )
    _assert_clean(report)
    assert report.training_kills >= 2, report.lines()


@pytest.mark.slow
def test_startup_sweep_leaves_a_concurrent_check_alone(tmp_path: Path) -> None:
    """A daemon starting while `driftd check` trains keeps the check's work directory and
    version directory (reported as an orphan, kept); the check then records its version."""
    ws = faultkit.make_workspace(tmp_path, every="1h", hold=True)
    check = subprocess.Popen(
        [*faultkit.driftd_argv(), "check", "--json", "--config", str(ws.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=faultkit.child_env(),
    )
    daemon: faultkit.Daemon | None = None
    try:
        work = _wait_for_work_dir(ws, check)
        daemon = faultkit.Daemon(ws, 0)
        assert daemon.wait_for(faultkit.SWEEP_LINE, 120), daemon.text()
        assert work.is_dir(), "the sweep removed a live training's work directory"
        assert "startup.orphans count=1 removed=0 kept=1" in daemon.text()
        ws.release.touch()
        out, err = check.communicate(timeout=120)
    finally:
        ws.release.touch()
        if check.poll() is None:
            check.kill()
        if daemon is not None:
            assert daemon.stop() == 0
    result = json.loads(out)[0]
    assert result["decision"] == "bootstrap", err
    assert "Traceback" not in err
    verify = subprocess.run(
        [*faultkit.driftd_argv(), "verify", "--config", str(ws.config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout


def _wait_for_work_dir(ws: faultkit.Workspace, proc: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for d in faultkit.version_dirs(ws):
            work = [d / n for n in os.listdir(d) if n.startswith(".tmp-train-")]
            if work:
                return work[0]
        time.sleep(0.02)
    raise AssertionError("the check never started training")


# --- the orphan rule --------------------------------------------------------------------------


def _vd(name: str, mtime: float, model: str = "churn") -> VersionDir:
    return VersionDir(Path("/art") / model / name, model, mtime)


def test_orphans_are_the_unreferenced_directories() -> None:
    """Referenced directories are never orphans, whatever their age or their model's state."""
    dirs = [_vd("aaaaaaaaaaaa", 0.0), _vd("bbbbbbbbbbbb", 0.0), _vd("cccccccccccc", 0.0, "fraud")]
    referenced = {"/art/churn/aaaaaaaaaaaa", "/art/fraud/cccccccccccc/"}
    orphans, removable = find_orphans(dirs, referenced, (), now=1e9, min_age=60)
    assert [d.path.name for d in orphans] == ["bbbbbbbbbbbb"]
    assert removable == orphans


def test_orphans_of_a_busy_model_wait_for_min_age() -> None:
    """While a run of the model is 'running' (a concurrent check may be writing), an orphan is
    removed only once untouched for min_age; other models' orphans go at once."""
    young, old = _vd("aaaaaaaaaaaa", 950.0), _vd("bbbbbbbbbbbb", 900.0)
    other = _vd("cccccccccccc", 999.0, "fraud")
    orphans, removable = find_orphans(
        [young, old, other], set(), {"churn"}, now=1000.0, min_age=100.0
    )
    assert len(orphans) == 3
    assert [d.path.name for d in removable] == ["bbbbbbbbbbbb", "cccccccccccc"]


def test_orphans_under_a_moved_artifact_root_are_only_reported() -> None:
    """When the registry keeps a model's versions in another directory (the root was moved,
    copied, or is spelled through a symlink), its unreferenced directories here may be the only
    copies: reported, never removed. Models with no version at all are not affected."""
    moved = _vd("aaaaaaaaaaaa", 0.0)
    fresh = _vd("bbbbbbbbbbbb", 0.0, "fraud")
    referenced = {"/old/root/churn/aaaaaaaaaaaa", "/old/root/churn/cccccccccccc"}
    orphans, removable = find_orphans([moved, fresh], referenced, (), now=1e9, min_age=60)
    assert orphans == [moved, fresh]
    assert removable == [fresh]


def test_list_version_dirs_only_sees_directories_named_like_versions(tmp_path: Path) -> None:
    """logs/, .tmp-* directories, files, symlinks and other names are never candidates; the
    mtime is the newest below the directory (a file written later counts)."""
    model = tmp_path / "churn"
    keep = model / "0123456789ab"
    (keep / "sub").mkdir(parents=True)
    (model / "logs").mkdir()
    (model / ".tmp-train-x").mkdir()
    (model / "notes").mkdir()
    (model / "ABCDEF012345").mkdir()  # upper case: not ours
    (model / "fedcba987654").write_text("a file, not a directory")
    (model / "111111111111").symlink_to(keep)
    (keep / "sub" / "data.parquet").write_bytes(b"x")
    os.utime(keep / "sub" / "data.parquet", (5000, 5000))
    os.utime(keep / "sub", (1000, 1000))
    os.utime(keep, (1000, 1000))
    found = list_version_dirs(tmp_path, ["churn", "missing"])
    assert [(d.path, d.model, d.mtime) for d in found] == [(keep, "churn", 5000.0)]


def test_sweep_temp_files_skips_busy_directories(tmp_path: Path) -> None:
    """Temp files under a skipped directory (a model mid-cycle elsewhere) survive the sweep."""
    for model in ("churn", "fraud"):
        (tmp_path / model / "0123456789ab" / ".tmp-train-x").mkdir(parents=True)
        (tmp_path / model / "0123456789ab" / ".tmp-abc.skops").write_bytes(b"x")
    removed = sweep_temp_files(tmp_path, skip=[tmp_path / "churn"])
    assert {p.relative_to(tmp_path).parts[0] for p in removed} == {"fraud"}
    assert (tmp_path / "churn" / "0123456789ab" / ".tmp-train-x").is_dir()
    assert not (tmp_path / "fraud" / "0123456789ab" / ".tmp-train-x").exists()


def test_sweep_temp_files_spares_entries_newer_than_before(tmp_path: Path) -> None:
    """`before` spares temp entries written since (a writer that started after the caller
    looked at the registry); older ones go."""
    old_file = tmp_path / "churn" / "0123456789ab" / ".tmp-old.skops"
    old_dir = tmp_path / "churn" / "0123456789ab" / ".tmp-train-old"
    new_file = tmp_path / "churn" / "ba9876543210" / ".tmp-new.parquet"
    old_dir.mkdir(parents=True)
    new_file.parent.mkdir(parents=True)
    old_file.write_bytes(b"x")
    new_file.write_bytes(b"x")
    for path in (old_file, old_dir):
        os.utime(path, (1000, 1000))
    removed = sweep_temp_files(tmp_path, before=time.time() - 60)
    assert sorted(removed) == sorted([old_file, old_dir])
    assert new_file.exists()
