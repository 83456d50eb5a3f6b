"""Start-up of the command line: the light commands load no data library, and
``driftd check --from/--to/--every`` replays many logical times in one process with the same
records as one ``--now`` run per step.

Every command here runs as a real ``driftd`` child process against a real registry built from
the demo's data by real checks (training included).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from driftd import cli, demo, synth

FORBIDDEN = ("pandas", "scipy", "sklearn")
# The command's own entry point, then the modules it left loaded, on stderr's last line.
PROBE = (
    "import sys\n"
    "from driftd import cli\n"
    "rc = cli.main(sys.argv[1:])\n"
    "print('LOADED', *sorted(m.split('.')[0] for m in sys.modules), file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def _day(days_ago: int) -> str:
    return f"{demo.DEMO_NOW - timedelta(days=days_ago):%Y-%m-%dT%H:%M:%SZ}"


def _demo_dir(root: Path) -> Path:
    """The demo's config and data in ``root`` (no registry yet); the config path."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.toml"
    text = resources.files("driftd").joinpath("demo_config.toml").read_text(encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    synth.write_demo_data(root / "data", demo.DEMO_NOW)
    return config


def _driftd(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftd", *argv], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo registry with a champion (churn-v1) and two recorded checks; the config path."""
    config = _demo_dir(tmp_path_factory.mktemp("startup"))
    done = _driftd("check", "--config", str(config), "--from", _day(9), "--to", _day(8))
    assert done.returncode in (0, 1), done.stderr
    return config


LIGHT = {
    "status": ["status"],
    "history": ["history", "--model", "churn"],
    "versions": ["versions", "--model", "churn"],
    "show": ["show", "churn-v1"],
    "verify": ["verify"],
    "champion": ["champion", "churn"],
    "promote": ["promote", "churn", "churn-v1", "--reason", "already champion"],
    "rollback": ["rollback", "churn", "--reason", "nothing before it"],
}


@pytest.mark.parametrize("name", list(LIGHT))
def test_light_commands_import_no_data_library(registry: Path, name: str) -> None:
    """status, history, versions, show, verify, champion, promote and rollback, each in a real
    child process on a registry with a champion, leave none of pandas, scipy or scikit-learn
    in ``sys.modules``: a new module-level import on their path fails here."""
    argv = [*LIGHT[name], "--config", str(registry)]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=False
    )
    loaded = done.stderr.strip().splitlines()[-1].split()
    assert loaded[0] == "LOADED", done.stderr
    assert name != "status" or done.returncode == 0, done.stderr
    assert [m for m in FORBIDDEN if m in loaded[1:]] == []


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The probe can fail: the same light command with an `import pandas` slipped in before
    it is reported as loading pandas, and without it is not."""
    argv = ["status", "--config", str(tmp_path / "absent.toml")]
    lines = {}
    heavy = PROBE.replace("rc = ", "import pandas\nrc = ")
    for label, probe in (("plain", PROBE), ("heavy", heavy)):
        done = subprocess.run(
            [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=False
        )
        lines[label] = done.stderr.strip().splitlines()[-1].split()
    assert lines["plain"][0] == lines["heavy"][0] == "LOADED"
    assert "pandas" not in lines["plain"] and "pandas" in lines["heavy"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--to", "2026-01-02"], "--to and --every need --from"),
        (["--from", "2026-01-02"], "--from needs --to"),
        (["--from", "2026-01-03", "--to", "2026-01-02"], "is before --from"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--every", "1x"], "--every: must be"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--now", "2026-01-01"], "exclusive"),
        (["--from", "2000-01-01", "--to", "2026-01-02", "--every", "1h"], "at most 100,000"),
    ],
)
def test_bad_ranges_are_one_line_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A malformed --from/--to/--every is refused before the config is read, exit 2, with one
    line naming the option."""
    rc = cli.main(["check", "--config", str(tmp_path / "absent.toml"), *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1


def _rows(config: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What a check records, without ids and wall-clock times."""
    db = sqlite3.connect(config.parent / "state" / "registry.db")
    try:
        queries = {
            "runs": "SELECT model, status, trigger, now_at, verdict, error FROM runs ORDER BY id",
            "checks": (
                "SELECT c.model, r.now_at, c.verdict, c.reason, c.drifted, c.breached, c.n_ref,"
                " c.n_live, c.reference_sha256 FROM checks c JOIN runs r ON r.id = c.run_id"
                " ORDER BY c.id"
            ),
            "features": (
                "SELECT r.now_at, f.role, f.feature, f.state, f.test, round(f.statistic, 12),"
                " round(f.p_value, 12), round(f.effect, 12) FROM feature_drift f"
                " JOIN checks c ON c.id = f.check_id JOIN runs r ON r.id = c.run_id"
                " ORDER BY r.now_at, f.role, f.feature"
            ),
            "decisions": "SELECT model, version_id, action, reason FROM decisions ORDER BY id",
            "versions": "SELECT id, data_rows, parent_id, data_sha256 FROM versions ORDER BY id",
        }
        return {name: db.execute(sql).fetchall() for name, sql in queries.items()}
    finally:
        db.close()


@pytest.mark.slow
def test_a_range_records_what_one_now_per_step_records(tmp_path: Path) -> None:
    """Five daily steps across the demo's drift (two quiet days, then drift that retrains and
    decides) in one `--from/--to/--every 1d` process leave the same runs, checks, feature
    results, versions and decisions as five `--now` processes, one per step."""
    days = [6, 5, 4, 3, 2]
    ranged = _demo_dir(tmp_path / "range")
    stepped = tmp_path / "steps" / "config.toml"
    shutil.copytree(ranged.parent, stepped.parent)
    one = _driftd(
        "check", "--config", str(ranged), "--json",
        "--from", _day(days[0]), "--to", _day(days[-1]), "--every", "1d",
    )  # fmt: skip
    assert one.returncode in (0, 1), one.stderr
    outputs = []
    for ago in days:
        done = _driftd("check", "--config", str(stepped), "--json", "--now", _day(ago))
        assert done.returncode in (0, 1), done.stderr
        outputs += json.loads(done.stdout)
    ranged_rows, stepped_rows = _rows(ranged), _rows(stepped)
    assert [r[3] for r in ranged_rows["runs"]] == [r[3] for r in stepped_rows["runs"]]
    assert len(ranged_rows["runs"]) == 5
    assert any(d[2] not in ("bootstrap",) for d in ranged_rows["decisions"][1:]), ranged_rows
    assert ranged_rows == stepped_rows
    ranged_out = json.loads(one.stdout)
    assert [r["now"] for r in ranged_out] == [_day(d) for d in days]
    # What the command reports per step: status, verdict, policy and decision, word for word.
    keys = ("model", "status", "verdict", "drift_reason", "retrain_reason", "version_id")
    keys += ("decision", "decision_reason", "error")
    for ours, theirs in zip(ranged_out, outputs, strict=True):
        assert {k: ours[k] for k in keys} == {k: theirs[k] for k in keys}
