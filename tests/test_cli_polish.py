"""The command line where a new user stumbled (issue 12, item 5), and the commands that notify
(item 3): real ``driftd`` processes on real files and registries, a real bash (and zsh when
installed) for completion, a real pseudo-terminal for ``check``'s progress.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_registry import seed_versions

from driftd import cli, synth
from driftd.registry.store import Registry

ENV = {k: v for k, v in os.environ.items() if k != "DRIFTD_CONFIG"}


def _driftd() -> list[str]:
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def _run(*args: str, cwd: Path | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_driftd(), *args],
        check=False,
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=120,
        **kw,
    )


def _sink(tmp_path: Path, name: str = "events.jsonl", code: int = 0) -> list[str]:
    """argv of a real command that appends its stdin (one event) to ``name``, exiting ``code``."""
    script = tmp_path / f"sink{code}.py"
    script.write_text(
        "import sys\n"
        f"open({str(tmp_path / name)!r}, 'ab').write(sys.stdin.buffer.read() + b'\\n')\n"
        f"sys.exit({code})\n",
        encoding="utf-8",
    )
    return [sys.executable, str(script)]


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


CONFIG = """
registry = "state/registry.db"
{notify}
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
hysteresis_k = 1
hysteresis_n = 1
[models.training]
params = {{ max_iter = 1000 }}
window = "1d"
[models.promotion]
min_holdout = 100
bootstrap = 200
[models.policy]
cooldown = "1h"
performance_drop = false
"""


def _config(tmp_path: Path, *targets: list[str]) -> Path:
    notify = "".join(f"[[notify]]\ncommand = {json.dumps(t)}\nretries = 0\n" for t in targets)
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(notify=notify), encoding="utf-8")
    return path


# --- completion -------------------------------------------------------------------------------


def _bash_complete(script: Path, *words: str) -> list[str]:
    """What bash's completion function offers for ``words`` (the last is being typed)."""
    line = " ".join(f"'{w}'" for w in words)
    code = (
        f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _driftd; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_bash_completion_is_generated_from_the_parser(tmp_path: Path) -> None:
    """Sourced in a real bash, the script registers ``_driftd`` for driftd and completes
    commands (a command added in commands/ included), options, an option's choices and a
    positional's choices."""
    done = _run("completion", "bash")
    assert done.returncode == 0, done.stderr
    script = tmp_path / "driftd.bash"
    script.write_text(done.stdout, encoding="utf-8")
    registered = subprocess.run(
        ["bash", "-c", f"source {script} && complete -p driftd"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert registered.stdout.strip() == "complete -o default -F _driftd driftd"
    assert _bash_complete(script, "driftd", "hist") == ["history"]
    assert "completion" in _bash_complete(script, "driftd", "")
    assert _bash_complete(script, "driftd", "check", "--log-level", "w") == ["warning"]
    assert set(_bash_complete(script, "driftd", "drift", "--k")) == {"--keep"}
    assert _bash_complete(script, "driftd", "completion", "") == ["bash", "zsh"]
    assert "--json" in _bash_complete(script, "driftd", "promote", "--")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_loads_under_compinit(tmp_path: Path) -> None:
    """The zsh script parses (``zsh -n``) and, sourced after compinit, binds ``_driftd``."""
    done = _run("completion", "zsh")
    script = tmp_path / "_driftd"
    script.write_text(done.stdout, encoding="utf-8")
    subprocess.run(["zsh", "-n", str(script)], check=True)
    code = (
        f"autoload -U compinit && compinit -u -d {tmp_path}/dump && source {script} && "
        "print -r -- $_comps[driftd]"
    )
    bound = subprocess.run(["zsh", "-c", code], capture_output=True, text=True, check=True)
    assert bound.stdout.strip() == "_driftd"


# --- config, validate, history ----------------------------------------------------------------


def test_missing_config_says_how_to_point_at_one(tmp_path: Path) -> None:
    """No config file: one line naming the path, ``--config`` and ``$DRIFTD_CONFIG``; exit 78."""
    done = _run("status", "--config", str(tmp_path / "absent.toml"))
    assert done.returncode == 78
    (line,) = done.stderr.splitlines()
    assert (
        "absent.toml: file not found; point at a config with --config FILE or $DRIFTD_CONFIG"
        in (line)
    )


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``validate --json`` (in this process: the same ``main`` the executable runs): ok with
    the model names; a broken file exits 78 with every problem in the JSON, none on stderr."""
    good = _config(tmp_path)
    assert cli.main(["validate", "--json", str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "path": str(good), "ok": True, "problems": [], "models": ["churn"]
    }  # fmt: skip
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('window = "1d"\ncategorical', "categorical"))
    assert cli.main(["validate", "--json", str(bad)]) == 78
    done = capsys.readouterr()
    assert done.err == ""
    data = json.loads(done.out)
    assert data["ok"] is False and any("data.window" in p for p in data["problems"])


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """A registry with churn-v1 (champion) and churn-v2, and a config pointing at it."""
    (tmp_path / "state").mkdir()
    reg = Registry.open(tmp_path / "state" / "registry.db")
    try:
        seed_versions(reg, tmp_path, "churn", 2)
    finally:
        reg.close()
    return tmp_path


def test_history_of_an_unknown_model_is_an_error(seeded: Path) -> None:
    """``history --model chrun``: exit 2 and one line with a did-you-mean, not an empty table;
    a known model lists its decisions with the run column."""
    config = _config(seeded)
    done = _run("history", "--config", str(config), "--model", "chrun")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "driftd: --model: no model named 'chrun'; did you mean 'churn'? (known: churn)"
    ]
    done = _run("history", "--config", str(config), "--model", "churn")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].split()[:6] == [
        "id",
        "at",
        "model",
        "action",
        "version_id",
        "run",
    ]


def test_promote_and_rollback_json_notify_and_status_shows_a_failed_delivery(
    seeded: Path,
) -> None:
    """``promote --json`` and ``rollback --json`` print the decision (with its id) and deliver
    ``promote`` / ``rollback`` events to a command; a second target that exits 1 is recorded as
    a failed delivery, which ``status`` shows, while the decision stands (exit 0)."""
    config = _config(seeded, _sink(seeded), _sink(seeded, "failing.jsonl", code=1))
    done = _run(
        "promote", "churn", "v2", "--reason", "ticket 12", "--json", "--config", str(config)
    )
    assert done.returncode == 0, done.stderr
    promoted = json.loads(done.stdout)
    assert {k: promoted[k] for k in ("model", "version", "action", "reason")} == {
        "model": "churn", "version": "churn-v2", "action": "manual_promote", "reason": "ticket 12"
    }  # fmt: skip
    assert "notification.failed" in done.stderr and "exit status 1" in done.stderr
    done = _run("rollback", "churn", "--reason", "bad promotion", "--json", "--config", str(config))
    assert done.returncode == 0, done.stderr
    rolled = json.loads(done.stdout)
    assert (rolled["version"], rolled["action"]) == ("churn-v1", "rollback")
    got = _events(seeded / "events.jsonl")
    assert [(e["event"], e["version"], e["action"], e["decision_id"]) for e in got] == [
        ("promote", "churn-v2", "manual_promote", promoted["decision_id"]),
        ("rollback", "churn-v1", "rollback", rolled["decision_id"]),
    ]
    with sqlite3.connect(seeded / "state" / "registry.db") as c:
        rows = c.execute("SELECT event, ok, attempts FROM deliveries ORDER BY id").fetchall()
    assert sorted(rows) == [
        ("promote", 0, 1),
        ("promote", 1, 1),
        ("rollback", 0, 1),
        ("rollback", 1, 1),
    ]
    status = _run("status", "--config", str(config))
    line = next(x for x in status.stdout.splitlines() if x.startswith("notify"))
    assert "last failed delivery: rollback churn to command:" in line
    assert line.endswith("after 1 attempt(s): exit status 1")
    text = _run("promote", "churn", "v2", "--reason", "again", "--config", str(config)).stdout
    assert text.strip() == "churn: champion is now churn-v2"


# --- check: progress on a terminal, a failure notified ------------------------------------------


def _check_with_stderr_on_a_tty(config: Path) -> tuple[int, str]:
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [*_driftd(), "check", "--config", str(config), "--now", "2026-01-11T00:00:00Z"],
        stdout=subprocess.PIPE,
        stderr=child,
        env=ENV,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.communicate(timeout=120)
    os.close(main)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def test_check_progress_only_on_a_terminal_and_failure_notifies(tmp_path: Path) -> None:
    """A check whose reference file is missing fails (exit 1); with stderr on a terminal it
    shows ``driftd: [ 0.0s] checking churn``, into a pipe it does not; each run delivers a
    ``failure`` event naming the missing file to the command."""
    config = _config(tmp_path, _sink(tmp_path))
    code, tty_err = _check_with_stderr_on_a_tty(config)
    assert code == 1
    assert "s] checking churn" in tty_err
    done = _run("check", "--config", str(config), "--now", "2026-01-11T00:00:00Z")
    assert done.returncode == 1
    assert "checking churn" not in done.stderr
    got = _events(tmp_path / "events.jsonl")
    assert [e["event"] for e in got] == ["failure", "failure"]
    assert all(
        "reference.csv" in e["reason"] and e["at"] == "2026-01-11T00:00:00.000Z" for e in got
    )
    assert got[0]["run_id"] == 1 and got[1]["run_id"] == 2
    status = _run("status", "--config", str(config)).stdout
    assert "  last run       2 failed (check), data clock 2026-01-11T00:00:00.000Z" in status


@pytest.mark.slow
def test_check_with_drift_notifies_a_command(tmp_path: Path) -> None:
    """End to end: a real ``driftd check --now`` on a drifted window runs drift, retrain and
    the first model's promotion, and the command hears them in that order, with the run id and
    the decision id the registry holds, on the data clock."""
    now = datetime(2026, 1, 11, tzinfo=UTC)
    synth.write_demo_data(tmp_path / "data", now, rows_per_day=400, reference_rows=1500)
    config = _config(tmp_path, _sink(tmp_path))
    done = _run("check", "--config", str(config), "--now", now.isoformat())
    assert done.returncode == 1, done.stderr  # drift found
    got = _events(tmp_path / "events.jsonl")
    assert [e["event"] for e in got] == ["drift", "retrain", "promote"]
    with sqlite3.connect(tmp_path / "state" / "registry.db") as c:
        decision_id, version = c.execute("SELECT id, version_id FROM decisions").fetchone()
        delivered = c.execute("SELECT count(*) FROM deliveries WHERE ok = 1").fetchone()[0]
    assert got[2]["decision_id"] == decision_id and got[2]["version"] == version
    assert all(e["run_id"] == 1 and e["at"] == "2026-01-11T00:00:00.000Z" for e in got)
    assert delivered == 3


# --- drift ------------------------------------------------------------------------------------


def test_drift_without_config_leaves_out_timestamps_and_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``driftd drift`` (in this process) without a config leaves out the timestamp and the id
    column, says so on stderr, and shows the ``detail`` column; ``--keep ts`` puts the
    timestamp back, and it does not read ok (text times: one distinct value per row)."""
    ref = synth.make_stream(datetime(2026, 1, 1, tzinfo=UTC), 1, pd.Timedelta(days=1), 600,
                            datetime(2027, 1, 1, tzinfo=UTC), seed=1)  # fmt: skip
    live = synth.make_stream(datetime(2026, 1, 2, tzinfo=UTC), 1, pd.Timedelta(days=1), 600,
                             datetime(2027, 1, 1, tzinfo=UTC), seed=2)  # fmt: skip
    for frame, offset in ((ref, 0), (live, 600)):
        frame.insert(0, "customer_id", range(offset, offset + len(frame)))
    ref.to_csv(tmp_path / "ref.csv", index=False)
    live.to_csv(tmp_path / "live.csv", index=False)
    files = [str(tmp_path / "ref.csv"), str(tmp_path / "live.csv"), "--exclude", "label"]
    assert cli.main(["drift", *files]) in (0, 1)
    done = capsys.readouterr()
    assert "left out customer_id (named like an identifier), ts (holds timestamps)" in done.err
    header = done.out.splitlines()[0].split()
    assert header[-1] == "detail"
    table = done.out.split("\n\n")[0].splitlines()[2:]
    features = [line.split()[0] for line in table]
    assert "ts" not in features and "customer_id" not in features
    cli.main(["drift", *files, "--keep", "ts", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["left_out"] == {"customer_id": "named like an identifier"}
    by_name = {f["feature"]: f for f in data["features"]}
    assert by_name["ts"]["state"] != "ok" and by_name["ts"]["detail"]


def test_daemon_notifies_a_failed_cycle_and_its_clean_stop(tmp_path: Path) -> None:
    """A real ``driftd run`` whose model's reference is missing: the failed cycle reaches the
    command as ``failure`` from the daemon's background delivery thread; SIGTERM then stops
    it cleanly (exit 0) and ``daemon_stop`` is delivered before it exits."""
    config = _config(tmp_path, _sink(tmp_path))
    proc = subprocess.Popen(
        [*_driftd(), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 60
        while not _events(tmp_path / "events.jsonl") and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    got = _events(tmp_path / "events.jsonl")
    assert [e["event"] for e in got] == ["failure", "daemon_stop"], err
    assert got[0]["model"] == "churn" and "reference.csv" in got[0]["reason"]
    assert got[1]["model"] is None and got[1]["reason"].startswith("stopped by a signal")
