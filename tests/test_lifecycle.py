"""The lifecycle commands on a registry built by real cycles: `driftd show`, `gc`, `reproduce`.

One registry per module (two real trainings, with `group` set when the test user has a usable
group): churn-v1 is the bootstrapped champion, churn-v2 a candidate rejected because
`min_improvement` is out of reach. The commands run as real `driftd` processes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from driftd import cli, config, daemon, log, reproduce, retention, synth
from driftd.errors import DataError
from driftd.registry import queries
from tests.test_permissions import usable_group

NOW = datetime(2026, 1, 11, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Built:
    config: Path
    root: Path
    gid: int | None


def _group() -> tuple[str, int] | tuple[None, None]:
    try:
        return usable_group()
    except pytest.skip.Exception:
        return None, None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("lifecycle")
    name, gid = _group()
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    for old, new in (
        ("min_improvement = 0.0", "min_improvement = 0.5"),
        ("bootstrap = 1000", "bootstrap = 200"),
        ("hysteresis_k = 2", "hysteresis_k = 1"),
        ('# group = "driftd-ops"', f'group = "{name}"' if name else "# no group"),
    ):
        assert old in text
        text = text.replace(old, new)
    path = root / "config.toml"
    path.write_text(text, encoding="utf-8")
    synth.write_demo_data(root / "data", NOW)
    cfg = config.load(path)
    log.setup("warning")
    outcomes = []
    for days_ago in (9, 2):
        (result,) = daemon.check_once(cfg, None, NOW - timedelta(days=days_ago))
        outcomes.append((result.version_id, result.decision.action if result.decision else None))
    assert outcomes == [("churn-v1", "bootstrap"), ("churn-v2", "reject")]
    return Built(path, root, gid)


def _driftd(built: Built, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    argv = [exe] if exe else [sys.executable, "-m", "driftd.cli"]
    return subprocess.run(
        [*argv, *args, "--config", str(built.config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_version_records_its_lineage(built: Built) -> None:
    """Rows and time range of the training data, the reference, the holdout's window, rows and
    sha256, the package versions; no code hash for the estimator way."""
    registry = config.load(built.config).registry
    for vid in ("churn-v1", "churn-v2"):
        v = queries.show(registry, vid)
        assert v["data_rows"] > 0 and v["data_time_min"] < v["data_time_max"]
        assert v["reference_sha256"] and len(v["data_sha256"]) == 64
        holdout = v["spec"]["holdout"]
        assert holdout["rows"] > 0 and len(holdout["sha256"]) == 64
        assert datetime.fromisoformat(holdout["end"]) == datetime.fromisoformat(v["spec"]["now"])
        assert v["spec"]["way"] == "estimator" and v["spec"]["code"] is None
        assert {"python", "driftd", "numpy", "scipy", "pandas", "sklearn", "skops"} <= set(
            v["environment"]
        )
    v2 = queries.show(registry, "churn-v2")
    # Trained on the labelled day before the holdout, which ends at the run's clock.
    end = datetime.fromisoformat(v2["data_time_max"])
    assert end <= datetime.fromisoformat(v2["spec"]["holdout"]["start"])


def test_show_prints_a_readable_lineage(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    """`driftd show` text: labelled sections and the evaluation as an aligned table; --json
    keeps every field."""
    proc = _driftd(built, "show", "churn-v2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("churn-v2  (model churn, version 2)  status: ")
    for section in ("identity", "data", "training", "environment", "artifact", "holdout"):
        assert section in lines
    assert any(line.strip().startswith("time range") for line in lines)
    head = next(i for i, line in enumerate(lines) if line.strip().startswith("metric  "))
    header, rule, row = lines[head], lines[head + 1], lines[head + 2]
    for column in ("champion", "candidate", "difference", "interval", "p-value", "pass/fail"):
        assert column in header
    # Aligned: every column starts where its header starts.
    starts = [i for i in range(len(rule)) if rule[i] == "-" and (i == 0 or rule[i - 1] == " ")]
    assert row.strip().startswith("roc_auc")
    assert all(row[s - 1] == " " for s in starts[1:])
    assert cli.main(["show", "churn-v2", "--json", "--config", str(built.config)]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert {"spec", "environment", "evaluations", "decisions", "lineage"} <= set(as_json)


def test_gc_dry_run_changes_nothing_then_gc_removes_with_decisions(built: Built) -> None:
    """--dry-run lists churn-v2 (rejected) and touches nothing; the real run removes its
    directory with a 'gc' decision and keeps the champion; verify stays clean; the collected
    version can neither be promoted nor reproduced. With the default keep (5) nothing goes."""
    registry = config.load(built.config).registry
    v2_dir = Path(queries.show(registry, "churn-v2")["artifact_path"]).parent
    history = len(queries.history(registry))
    dry = _driftd(built, "gc", "--keep", "0", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] is True
    assert [(r["kind"], r["version_id"]) for r in plan["removed"]] == [("version", "churn-v2")]
    assert plan["removed"][0]["bytes"] > 0
    assert plan["kept"] == [{"version_id": "churn-v1", "reason": "current champion"}]
    assert v2_dir.is_dir() and len(queries.history(registry)) == history
    default = retention.plan(config.load(built.config))  # keep_versions = 5: all stay
    assert default.removals == () and len(default.kept) == 2
    done = _driftd(built, "gc", "--keep", "0")
    assert done.returncode == 0, done.stderr
    assert "churn-v2" in done.stdout and "removed 1 item(s)" in done.stdout
    assert not v2_dir.exists()
    last = queries.history(registry, limit=1)[0]
    assert (last["action"], last["version_id"]) == ("gc", "churn-v2")
    assert last["actor"].startswith("cli")
    verify = _driftd(built, "verify")
    assert verify.returncode == 0, verify.stdout
    promote = _driftd(built, "promote", "churn", "churn-v2", "--reason", "x")
    assert promote.returncode == 2 and "garbage-collected" in promote.stderr
    with pytest.raises(DataError) as info:
        reproduce.reproduce(config.load(built.config), "churn-v2")
    assert str(info.value).startswith(f"{v2_dir / 'data.parquet'}: training data of churn-v2")
    assert "is missing (its artifact was garbage-collected)" in str(info.value)


def test_reproduce_retrains_a_version_and_matches(built: Built) -> None:
    """`driftd reproduce churn-v1`: retrained from its data snapshot in a child, scored on the
    rebuilt holdout, the recorded metric matches exactly; exit 0. Nothing is registered."""
    registry = config.load(built.config).registry
    versions = len(queries.versions(registry))
    proc = _driftd(built, "reproduce", "churn-v1", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = json.loads(proc.stdout)
    assert out["matches"] is True and out["scored_on"] == "holdout"
    assert out["rows_scored"] == queries.show(registry, "churn-v1")["spec"]["holdout"]["rows"]
    assert [m["metric"] for m in out["metrics"]] == ["roc_auc"]
    assert all(m["difference"] == 0 for m in out["metrics"])
    assert out["max_output_difference"] == 0
    assert "environment" not in out["differences"]
    assert len(queries.versions(registry)) == versions


def test_reproduce_refuses_altered_training_data(built: Built) -> None:
    """A data snapshot that no longer matches its recorded sha256 is refused, naming the file,
    before any training."""
    cfg = config.load(built.config)
    data = Path(queries.show(cfg.registry, "churn-v1")["artifact_path"]).parent / "data.parquet"
    original = data.read_bytes()
    frame = pd.read_parquet(data)
    frame.loc[0, "age"] = frame.loc[0, "age"] + 1
    try:
        frame.to_parquet(data, index=False)
        with pytest.raises(DataError) as info:
            reproduce.reproduce(cfg, "churn-v1")
    finally:
        data.write_bytes(original)
    assert str(info.value).startswith(f"{data}: training data no longer matches")


def test_everything_written_has_the_configured_modes(built: Built) -> None:
    """Registry, artifacts, data snapshots and logs: files 0640 and directories 2750 in the
    configured group (0600 / 0700 when the test user has no usable group)."""
    state = built.root / "state"
    want_file, want_dir = (0o640, 0o2750) if built.gid is not None else (0o600, 0o700)
    seen = 0
    for here, dirs, files in os.walk(state):
        for name in dirs:
            p = Path(here) / name
            assert stat.S_IMODE(p.stat().st_mode) == want_dir, p
        for name in files:
            p = Path(here) / name
            assert stat.S_IMODE(p.stat().st_mode) == want_file, p
            if built.gid is not None:
                assert p.stat().st_gid == built.gid, p
            seen += 1
    assert seen >= 7  # registry, -wal, -shm, the champion's artifact and data, two logs
