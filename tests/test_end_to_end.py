"""The real `driftd` executable on a temporary registry: the whole loop and the daemon's signals."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd import synth

NOW = datetime(2026, 1, 11, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]


def _driftd() -> list[str]:
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def _setup(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    synth.write_demo_data(tmp_path / "data", NOW)
    return tmp_path / "config.toml"


def _run(config: Path, *args: str, check_rc: int | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*_driftd(), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr + proc.stdout
    return proc


def _check(config: Path, days_ago: int) -> dict[str, object]:
    now = (NOW - timedelta(days=days_ago)).isoformat()
    proc = _run(config, "check", "--now", now, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)[0]
    return result


def test_quiet_then_drift_retrains_and_promotes(tmp_path: Path) -> None:
    """No drift: no retrain. The first drifted window also drops the champion's realised
    roc_auc on labelled rows (on by default): retrain at once, promote; status/history agree."""
    config = _setup(tmp_path)
    first = _check(config, 9)
    assert first["decision"] == "bootstrap"
    quiet = _check(config, 8)
    assert quiet["status"] == "ok" and quiet["decision"] is None
    drifted = _check(config, 3)
    assert drifted["status"] == "drift"
    assert drifted["decision"] == "promote", drifted
    evaluation = drifted["evaluation"]
    assert isinstance(evaluation, dict)
    primary = evaluation["comparisons"][0]
    assert primary["ci_low"] > 0
    # Breaches measured against the old champion's data do not carry over to the new one.
    assert _check(config, 2)["decision"] is None

    status = json.loads(_run(config, "status", "--json", check_rc=0).stdout)
    model = status["models"][0]
    assert model["champion"]["id"] == drifted["version_id"]
    assert model["last_decision"]["action"] == "promote"
    history = json.loads(_run(config, "history", "--json", check_rc=0).stdout)
    assert [h["action"] for h in history] == ["promote", "bootstrap"]
    assert _run(config, "verify").returncode == 0


def test_worse_candidate_is_rejected(tmp_path: Path) -> None:
    """A constant-predictor candidate cannot beat the champion: rejected, champion stays."""
    config = _setup(tmp_path)
    assert _check(config, 9)["decision"] == "bootstrap"
    text = config.read_text()
    text = text.replace(
        'estimator = "sklearn.linear_model.LogisticRegression"\n'
        "params = { C = 1.0, max_iter = 1000 }",
        'estimator = "sklearn.dummy.DummyClassifier"\nparams = { strategy = "prior" }',
    )
    config.write_text(text)
    result = _check(config, 3)  # the drifted window drops realised roc_auc: retrain at once
    assert result["decision"] == "reject", result
    # One training that promoted nothing: the next waits two live windows (policy.backoff).
    waiting = _check(config, 2)
    assert waiting["decision"] is None
    assert "backing off: the last 1 training promoted nothing" in str(waiting["retrain_reason"])
    status = json.loads(_run(config, "status", "--json", check_rc=0).stdout)
    assert status["models"][0]["champion"]["id"].endswith("-v1")
    history = json.loads(_run(config, "history", "--json", check_rc=0).stdout)
    assert history[0]["action"] == "reject" and history[0]["reason"]


def test_invalid_config_exits_78_listing_every_problem(tmp_path: Path) -> None:
    """`driftd validate` reports every problem, one per line, and exits 78."""
    config = _setup(tmp_path, {"alpha = 0.05": "alpha = 1.5", 'window = "1d"': 'window = "-1d"'})
    proc = _run(config, "validate")
    assert proc.returncode == 78
    assert "models[0].drift.alpha: must be in (0, 1) (got 1.5)" in proc.stderr
    assert "models[0].data.window" in proc.stderr


def test_sigterm_stops_the_daemon_cleanly(tmp_path: Path) -> None:
    """SIGTERM during the first cycle: exit 0, no run left 'running', a second daemon refused."""
    config = _setup(tmp_path)
    proc = subprocess.Popen(
        [*_driftd(), "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    registry = tmp_path / "state" / "registry.db"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if registry.exists():
                with sqlite3.connect(registry) as c:
                    try:
                        if c.execute("SELECT count(*) FROM runs").fetchone()[0]:
                            break
                    except sqlite3.OperationalError:
                        pass
            time.sleep(0.2)
        second = _run(config, "run")
        assert second.returncode == 75, second.stderr
        assert "another driftd" in second.stderr
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, proc.stderr.read() if proc.stderr else ""
    with sqlite3.connect(registry) as c:
        running = c.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
    assert running == 0


@pytest.mark.slow  # ~40 s: ten days replayed (`.ci/run` runs the slow tests too)
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """`driftd demo --fast` trains, detects drift, promotes, and ends with status output."""
    proc = subprocess.run(
        [*_driftd(), "demo", "--fast", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "bootstrap" in proc.stdout and "promote" in proc.stdout
    # churn-v2 won on the holdout; churn-v3 is its refit on training + holdout (promotion.refit).
    assert "champion       churn-v3" in proc.stdout
