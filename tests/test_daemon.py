"""`driftd run` as systemd runs it: a real child process, a real notify socket, real signals.

Each test starts the real ``driftd`` executable on a temporary registry with seeded data written
around the real clock, and an ``every = "1s"`` schedule. A bound AF_UNIX datagram socket stands
in for systemd's manager (``NOTIFY_SOCKET``, ``WATCHDOG_USEC``, ``WATCHDOG_PID`` set as systemd
sets them). Training entrypoints that fail on purpose live in ``tests/helpers_daemon.py``; they
append their pids to a file, and ``/proc`` shows whether any of those processes, or anything
else in their session, survived.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from driftd import synth
from driftd.lock import InstanceLock, lock_path
from driftd.registry import queries

REPO = Path(__file__).resolve().parents[1]
PIDS_ENV = "DRIFTD_TEST_PIDS"  # as tests/helpers_daemon.py
_SUN_PATH_MAX = 107  # AF_UNIX path limit; a long TMPDIR makes tmp_path longer than that
T = TypeVar("T")


# --- set-up -------------------------------------------------------------------------------


def _driftd() -> list[str]:
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def _model(
    name: str = "churn",
    *,
    every: str = "1s",
    train: str = "false",
    timeout: str = "5m",
    memory_mb: int | None = None,
    cooldown: str = "1h",
    max_age: str | None = None,
    alpha: str = "0.05",
) -> str:
    """One [[models]] table over the seeded data.

    ``train``: "estimator" (LogisticRegression), "false" (a command that fails at once, the
    cheapest failing training), or the name of an entrypoint in tests/helpers_daemon.py.
    """
    if train == "estimator":
        way = 'estimator = "sklearn.linear_model.LogisticRegression"'
    elif train == "false":
        way = f'command = ["{shutil.which("false")}", "{{model}}"]'
    else:
        way = f'entrypoint = "tests.helpers_daemon:{train}"'
    return f"""
[[models]]
name = "{name}"
every = "{every}"
misfire_grace = "1m"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
categorical = ["plan", "region"]

[models.drift]
alpha = {alpha}

[models.training]
{way}
window = "1d"
timeout = "{timeout}"
{f"memory_mb = {memory_mb}" if memory_mb else ""}

[models.promotion]
min_holdout = 100
bootstrap = 200

[models.policy]
cooldown = "{cooldown}"
max_retrains_per_day = 1000
{f'max_age = "{max_age}"' if max_age else ""}
"""


def _write_config(path: Path, *models: str) -> Path:
    head = 'registry = "state/registry.db"\nartifacts = "state/artifacts"\n'
    path.write_text(head + "".join(models), encoding="utf-8")
    return path


def _setup(tmp_path: Path, *models: str) -> Path:
    """Drifted live data up to now (the last 4 days of 10), a pre-drift reference, a config."""
    synth.write_demo_data(
        tmp_path / "data", datetime.now(UTC), rows_per_day=300, reference_rows=1000
    )
    return _write_config(tmp_path / "config.toml", *models)


# --- a stand-in for systemd's manager, and the daemon -------------------------------------


class Manager:
    """A bound AF_UNIX datagram socket; a thread collects every notification with its time."""

    def __init__(self, directory: Path) -> None:
        self._own_dir: Path | None = None
        path = directory / "notify"
        if len(os.fsencode(path)) > _SUN_PATH_MAX:
            self._own_dir = Path(tempfile.mkdtemp(prefix="driftd-", dir="/tmp"))
            path = self._own_dir / "notify"
        self.path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.1)
        self._messages: list[tuple[float, str]] = []
        self.proc: subprocess.Popen[bytes] | None = None  # the daemon, once started
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._done.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._messages.append((time.monotonic(), data.decode()))

    def messages(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self._messages)

    def texts(self) -> list[str]:
        return [m for _, m in self.messages()]

    def wait_for(
        self, predicate: Callable[[str], bool], timeout: float = 60, after: int = -1
    ) -> tuple[int, str]:
        """The first message after index ``after`` that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (_, text) in enumerate(self.messages()):
                if i > after and predicate(text):
                    return i, text
            if self.proc is not None and self.proc.poll() is not None:
                deadline = min(deadline, time.monotonic() + 0.5)  # the last datagrams
            if time.monotonic() > deadline:
                shown = "\n".join(m for m in self.texts() if m != "WATCHDOG=1")
                raise AssertionError(f"no such notification; received:\n{shown}")
            time.sleep(0.05)

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)
        self._sock.close()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)


class Daemon:
    """``driftd run`` in a child process, started as systemd starts a Type=notify service."""

    def __init__(
        self, config: Path, manager: Manager | None = None, watchdog_usec: int | None = None
    ) -> None:
        self.config = config
        self.log = config.parent / "daemon.log"
        self.pids_file = config.parent / "pids.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        env[PIDS_ENV] = str(self.pids_file)
        if manager is not None:
            env["NOTIFY_SOCKET"] = manager.path
        argv = [*_driftd(), "run", "--config", str(config)]
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
            # systemd knows the main pid before exec; a shell that execs keeps its pid.
            argv = ["sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"', "sh", *argv]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        if manager is not None:
            manager.proc = self.proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def trainings(self) -> list[list[int]]:
        """Pids recorded by each helper training, in start order: [child, workers...]."""
        if not self.pids_file.exists():
            return []
        lines = self.pids_file.read_text(encoding="utf-8").splitlines()
        return [[int(p) for p in line.split()[1:]] for line in lines if line.strip()]

    def kill_everything(self) -> None:
        """Teardown after a failed test: never leave a daemon or a training group behind."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pids in self.trainings():
            for pid in pids:
                for kill in (os.killpg, os.kill):
                    with suppress(ProcessLookupError, PermissionError):
                        kill(pid, signal.SIGKILL)


@contextmanager
def _running(
    config: Path, manager: Manager | None = None, watchdog_usec: int | None = None
) -> Iterator[Daemon]:
    daemon = Daemon(config, manager, watchdog_usec)
    try:
        yield daemon
    except BaseException:
        sys.stderr.write(daemon.stderr()[-6000:])
        raise
    finally:
        daemon.kill_everything()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Manager]:
    m = Manager(tmp_path)
    try:
        yield m
    finally:
        m.close()


# --- reading the outcome ------------------------------------------------------------------


def _rows(config: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    registry = config.parent / "state" / "registry.db"
    if not registry.exists():
        return []
    with closing(sqlite3.connect(f"file:{registry}?mode=ro", uri=True, timeout=10)) as c:
        c.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in c.execute(sql, params)]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the daemon is still creating the registry
                return []
            raise


def _wait(probe: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def _status(config: Path, *, as_json: bool = True) -> Any:
    proc = subprocess.run(
        [*_driftd(), "status", *(["--json"] if as_json else []), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if as_json else proc.stdout


def _survivors(trainings: list[list[int]]) -> list[str]:
    """Live processes among the recorded pids, or in the session of a recorded training child.

    The child leads its own session, so anything it started (and did not move to a new
    session on purpose) carries its pid as session id, whatever became of its parent.
    """
    pids = {p for t in trainings for p in t}
    leaders = {t[0] for t in trainings if t}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        state, pgrp, session = fields[0], int(fields[2]), int(fields[3])
        if state in ("Z", "X"):
            continue  # dead, waiting to be reaped: holds no resources but its pid
        if int(entry) in pids or pgrp in leaders or session in leaders:
            found.append(stat.strip())
    return found


# --- sd_notify, SIGUSR1, SIGTERM, the stopped heartbeat -----------------------------------


def test_sd_notify_lifecycle_status_lines_watchdog_and_clean_stop(
    tmp_path: Path, manager: Manager
) -> None:
    """READY=1 first; STATUS= says checking/training/idle-until with the failure; WATCHDOG=1 at
    half of WATCHDOG_USEC; SIGUSR1 dumps stacks and the daemon goes on; SIGTERM sends
    STOPPING=1, exits 0, and leaves a "stopped" heartbeat that status reports as such."""
    config = _setup(tmp_path, _model())
    with _running(config, manager, watchdog_usec=1_000_000) as daemon:
        ready_at, ready = manager.wait_for(lambda m: m.startswith("READY=1"))
        assert ready == "READY=1\nSTATUS=monitoring 1 model(s)"
        assert not any(m.startswith("STATUS=") for m in manager.texts()[:ready_at])
        manager.wait_for(lambda m: m == "STATUS=checking churn", after=ready_at)
        manager.wait_for(lambda m: m == "STATUS=training churn", after=ready_at)
        _, idle = manager.wait_for(lambda m: "idle until" in m, after=ready_at)
        match = re.fullmatch(
            r"STATUS=idle until (\d\d):(\d\d):(\d\d)Z \(next check churn\); "
            r"last run churn: failed: training failed: command exited with code 1 \(see the "
            r"training log\); champion unchanged",
            idle,
        )
        assert match, idle
        now = datetime.now(UTC)
        due = now.replace(hour=int(match[1]), minute=int(match[2]), second=int(match[3]))
        lag = (due - now).total_seconds() % 86400  # across midnight as well
        assert lag < 5 or lag > 86400 - 2, (idle, now)

        # WATCHDOG_USEC = 1 s: a ping about every 0.5 s.
        _wait(lambda: manager.texts().count("WATCHDOG=1") >= 6, 10, "six watchdog pings")
        pings = [t for t, m in manager.messages() if m == "WATCHDOG=1"]
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert 0.35 < statistics.median(gaps) < 0.75, gaps
        assert max(gaps) < 1.0, gaps

        daemon.signal(signal.SIGUSR1)
        # The dump is written thread by thread: wait for the main thread's frames themselves.
        _wait(lambda: "most recent call first" in daemon.stderr(), 10, "a stack dump")
        _wait(lambda: "daemon.py" in daemon.stderr(), 10, "the supervising thread in the dump")
        count = manager.texts().count("WATCHDOG=1")
        _wait(lambda: manager.texts().count("WATCHDOG=1") > count + 1, 5, "pings after SIGUSR1")
        assert daemon.proc.poll() is None

        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, daemon.stderr()
        stopping, _ = manager.wait_for(lambda m: m == "STOPPING=1", timeout=5)
        texts = manager.texts()
        assert "WATCHDOG=1" not in texts[stopping:]

    status = _status(config)
    beat = status["daemon"]
    assert (beat["condition"], beat["alive"], beat["pid"]) == ("stopped", False, daemon.pid)
    assert beat["stopped_at"] == beat["beat_at"] and beat["next_runs"] is None
    assert f"daemon    stopped at {beat['stopped_at']}" in _status(config, as_json=False)
    # Every run finished; the stop beat came after the last of them.
    runs = _rows(config, "SELECT status, finished_at FROM runs ORDER BY id")
    assert runs and all(r["status"] != "running" for r in runs)
    assert max(r["finished_at"] for r in runs) <= beat["stopped_at"]


def test_sighup_reload_applies_a_valid_config_and_keeps_the_old_one_otherwise(
    tmp_path: Path, manager: Manager
) -> None:
    """Bad TOML and a bad value are rejected whole (logged, in STATUS=, in status text and
    --json) while the old schedule keeps running; a valid config reschedules, adds and removes
    models and clears the error; a SIGKILLed daemon then shows as died, not stopped."""
    config = _setup(tmp_path, _model())
    with _running(config, manager) as daemon:
        manager.wait_for(lambda m: "last run churn: failed" in m)

        def reload(text: str, expect: str) -> str:
            before = len(manager.texts()) - 1
            config.write_text(text, encoding="utf-8")
            daemon.signal(signal.SIGHUP)
            at, _ = manager.wait_for(lambda m: m.startswith("RELOADING=1"), 30, before)
            _, ready = manager.wait_for(lambda m: m.startswith("READY=1"), 30, at)
            assert expect in ready, ready
            return ready

        good = config.read_text(encoding="utf-8")
        ready = reload(good.replace("[models.drift]", "[models.drift"), "config reload rejected")
        assert "not valid TOML" in ready and str(config) in ready
        churn_runs = len(_rows(config, "SELECT id FROM runs WHERE model = 'churn'"))
        # `driftd status` cannot find the registry in a file that is not TOML; the heartbeat
        # row that it would read holds the daemon's error all the same.
        registry = tmp_path / "state" / "registry.db"
        beat = queries.status(registry)["daemon"]
        assert "not valid TOML" in beat["config_error"]
        assert (beat["condition"], beat["pid"], beat["stopped_at"]) == ("alive", daemon.pid, None)
        assert "config reload rejected, old config kept: " in beat["state"]
        # The old config goes on: runs every second.
        _wait(
            lambda: (
                len(_rows(config, "SELECT id FROM runs WHERE model = 'churn'")) > churn_runs + 1
            ),
            15,
            "runs on the old schedule",
        )

        ready = reload(_write_text(_model(alpha="1.5")), "config reload rejected")
        problem = "models[0].drift.alpha: must be in (0, 1) (got 1.5)"
        assert problem in ready
        # A config that is TOML but invalid still names the registry: status works and says
        # both that the file is invalid and that the daemon rejected it.
        status = _status(config)
        assert problem in status["daemon"]["config_error"]
        assert status["config_file_error"] == problem
        text = _status(config, as_json=False)
        assert f"config reload rejected: {config}: {problem}" in text
        assert f"config    invalid, not loaded: {problem}" in text
        assert f"daemon    alive (pid {daemon.pid}, since " in text
        assert "reload.rejected" in daemon.stderr()
        manager.wait_for(lambda m: m.startswith("STATUS=") and "alpha" in m)

        # Valid: churn every hour from its last run, and a second model.
        reload(
            _write_text(_model(every="1h"), _model("fraud")),
            "STATUS=config reloaded; monitoring 2 model(s)",
        )
        _wait(
            lambda: _rows(config, "SELECT id FROM runs WHERE model = 'fraud' AND finished_at"),
            60,
            "a finished run of the new model",
        )
        status = _status(config)
        assert status["daemon"]["config_error"] is None and status["config_file_error"] is None
        assert "config reload rejected" not in _status(config, as_json=False)
        next_churn = datetime.fromisoformat(status["daemon"]["next_runs"]["churn"])
        assert next_churn > datetime.now(UTC) + timedelta(minutes=50)
        assert "fraud" in status["daemon"]["next_runs"]
        churn_runs = len(_rows(config, "SELECT id FROM runs WHERE model = 'churn'"))

        # Valid: fraud removed.
        reload(_write_text(_model(every="1h")), "STATUS=config reloaded; monitoring 1 model(s)")
        time.sleep(0.5)  # a fraud cycle that had just begun has recorded its run by now
        fraud_runs = len(_rows(config, "SELECT id FROM runs WHERE model = 'fraud'"))
        time.sleep(1.5)  # fraud ran every second
        assert len(_rows(config, "SELECT id FROM runs WHERE model = 'fraud'")) == fraud_runs
        assert len(_rows(config, "SELECT id FROM runs WHERE model = 'churn'")) == churn_runs
        assert list(queries.status(registry)["daemon"]["next_runs"]) == ["churn"]
        manager.wait_for(lambda m: "(next check churn)" in m and "fraud" not in m)
        assert daemon.proc.poll() is None

        daemon.signal(signal.SIGKILL)
        daemon.wait(10)

    # Killed: no stop beat. Ten seconds later (3 heartbeats missed) status says it died.
    registry = tmp_path / "state" / "registry.db"
    with closing(sqlite3.connect(registry)) as c, c:
        c.execute("UPDATE heartbeat SET beat_at = ?", (_iso(datetime.now(UTC) - timedelta(60)),))
    beat = _status(config)["daemon"]
    assert (beat["condition"], beat["alive"], beat["stopped_at"]) == ("died", False, None)
    assert f"daemon    died: last beat {beat['beat_at']}" in _status(config, as_json=False)


def _write_text(*models: str) -> str:
    return 'registry = "state/registry.db"\nartifacts = "state/artifacts"\n' + "".join(models)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- stopping during a training -----------------------------------------------------------


@pytest.mark.parametrize(
    "sig",
    [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)],
    ids=["SIGTERM", "SIGINT"],
)
def test_stop_signal_during_training_kills_the_group_and_records_interrupted(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """A training with four workers (one deaf to SIGTERM) hangs; the stop signal kills the
    whole group, records the run 'interrupted' and the training failed, and exits 0 fast."""
    config = _setup(tmp_path, _model(train="workers_then_hang"))
    with _running(config) as daemon:
        pids = _wait(daemon.trainings, 60, "the training child and its workers")[0]
        assert len(pids) == 5
        started = time.monotonic()
        daemon.signal(sig)
        assert daemon.wait(30) == 0, daemon.stderr()
        elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert _survivors(daemon.trainings()) == []
    runs = _rows(config, "SELECT status, error FROM runs")
    assert runs == [
        {"status": "interrupted", "error": "driftd stopped during training; champion unchanged"}
    ]
    trainings = _rows(config, "SELECT status, error FROM trainings")
    assert trainings == [
        {
            "status": "failed",
            "error": "training stopped: driftd is shutting down; process group killed",
        }
    ]
    assert _status(config)["daemon"]["condition"] == "stopped"


# --- training failures through the daemon -------------------------------------------------

# entrypoint in tests/helpers_daemon.py, training.timeout, training.memory_mb, the error recorded
FAILURES = [
    ("crash", "5m", None, r"training crashed: exit code -9 \(killed: SIGKILL, out of memory\?\)"),
    ("hang", "2s", None, r"training timed out after 2s; process group killed"),
    ("workers_then_hang", "3s", None, r"training timed out after 3s; process group killed"),
    (
        "workers_then_crash",
        "1m",
        None,
        r"training failed: RuntimeError: the worker pool lost a worker",
    ),
    (
        "eat_memory",
        "5m",
        1024,
        r"training failed: MemoryError.*\(training\.memory_mb = 1024 reached\)",
    ),
]


@pytest.mark.slow
def test_failed_trainings_leave_no_process_keep_the_champion_and_the_daemon_running(
    tmp_path: Path, manager: Manager
) -> None:
    """A crash, a hang past training.timeout, workers that outlive a hang or a crash, and a
    memory blow-up under training.memory_mb: each is a failed training and a failed run with
    a one-line error, no process survives, the champion stays, and the next cycle runs."""
    config = _setup(tmp_path, _model(train="estimator"))
    registry = tmp_path / "state" / "registry.db"
    with _running(config, manager) as daemon:
        champion = _wait(lambda: queries.champion(registry, "churn"), 120, "the bootstrap")
        first = _rows(config, "SELECT max(id) AS id FROM trainings")[0]["id"]
        for name, timeout, memory_mb, pattern in FAILURES:
            seen = _rows(config, "SELECT max(id) AS id FROM trainings")[0]["id"]
            config.write_text(
                _write_text(
                    _model(
                        train=name,
                        timeout=timeout,
                        memory_mb=memory_mb,
                        cooldown="1s",
                        max_age="1s",  # retrain at every cycle
                    )
                ),
                encoding="utf-8",
            )
            daemon.signal(signal.SIGHUP)

            def failed(seen: int = seen, pattern: str = pattern) -> list[dict[str, Any]]:
                rows = _rows(config, "SELECT * FROM trainings WHERE id > ? ORDER BY id", (seen,))
                return [r for r in rows if re.fullmatch(pattern, r["error"] or "")]

            training = _wait(failed, 120, f"the {name} training to fail")[0]
            assert training["status"] == "failed", training
            run = _wait(
                lambda r=training["run_id"]: _rows(
                    config, "SELECT * FROM runs WHERE id = ? AND finished_at", (r,)
                ),
                30,
                "the run to finish",
            )[0]
            assert (run["status"], run["error"]) == (
                "failed",
                f"{training['error']}; champion unchanged",
            )
            manager.wait_for(lambda m, e=training["error"]: f"last run churn: failed: {e}" in m)
            # The k-th helper training recorded the k-th pid line; all finished ones are gone.
            done = _rows(config, "SELECT id FROM trainings WHERE id > ? ORDER BY id", (first,))
            assert _survivors(daemon.trainings()[: len(done)]) == [], name
            assert queries.champion(registry, "churn")["version_id"] == champion["version_id"]
            _wait(
                lambda r=run["id"]: _rows(
                    config, "SELECT id FROM runs WHERE id > ? AND finished_at", (r,)
                ),
                60,
                f"a cycle after the {name} failure",
            )
            assert daemon.proc.poll() is None
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert _survivors(daemon.trainings()) == []
    assert queries.champion(registry, "churn")["version_id"] == champion["version_id"]


# --- status while the daemon promotes -----------------------------------------------------

_MOVES = {"bootstrap", "promote", "manual_promote", "rollback"}


def _check_snapshot(snapshot: dict[str, Any]) -> None:
    """One status read is one committed state: the champion pointer and the decision log agree."""
    for model in snapshot["models"]:
        champion, decision = model.get("champion"), model.get("last_decision")
        if champion is None:
            assert decision is None or decision["action"] not in _MOVES, snapshot
            continue
        assert decision is not None, snapshot
        if decision["action"] in _MOVES:
            assert champion["id"] == decision["version_id"], snapshot
            assert champion["since"] == decision["at"], snapshot
        check, run = model.get("last_check"), model.get("last_run")
        if check is not None:
            assert run is not None and run["id"] >= check["run_id"], snapshot


@pytest.mark.slow
def test_status_never_fails_or_shows_half_a_promotion(tmp_path: Path) -> None:
    """`driftd status --json` processes and in-process status reads, polled without pause
    while the daemon bootstraps and then promotes: no error, and every snapshot consistent."""
    config = _setup(tmp_path, _model(train="estimator", cooldown="1s"))
    registry = tmp_path / "state" / "registry.db"
    snapshots: list[dict[str, Any]] = []
    errors: list[str] = []
    stop = threading.Event()

    def in_process() -> None:
        while not stop.is_set():
            try:
                snapshots.append(queries.status(registry))
            except Exception as exc:
                errors.append(repr(exc))
            time.sleep(0.005)

    def processes() -> None:
        while not stop.is_set():
            proc = subprocess.run(
                [*_driftd(), "status", "--json", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if proc.returncode != 0:
                errors.append(proc.stderr)
            else:
                snapshots.append(json.loads(proc.stdout))

    pollers = [threading.Thread(target=f) for f in (in_process, processes)]
    with _running(config) as daemon:
        for t in pollers:
            t.start()
        try:
            _wait(
                lambda: _rows(config, "SELECT id FROM decisions WHERE action = 'promote'"),
                180,
                "a promotion",
            )
            time.sleep(1)
        finally:
            stop.set()
            for t in pollers:
                t.join(60)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert errors == []
    for snapshot in snapshots:
        _check_snapshot(snapshot)
    seen = {(m.get("champion") or {}).get("id") for s in snapshots for m in s["models"]}
    assert {None, "churn-v1"} <= seen and any(v and v != "churn-v1" for v in seen), seen
    assert len(snapshots) > 100


# --- status from the lock file: alive, stalled, starting, died, crash-looping --------------


def _lock_line(config: Path) -> list[str]:
    path = config.parent / "state" / "registry.db.lock"
    return path.read_text(encoding="ascii").split() if path.exists() else []


def _stopped_once_it_holds_the_lock(config: Path) -> Daemon:
    """A `driftd run` frozen (SIGSTOP) the moment it holds the lock: long before its first
    heartbeat, which waits for scipy, scikit-learn, the name checks and the registry."""
    daemon = Daemon(config)
    try:
        _wait(lambda: _lock_line(config)[:1] == [str(daemon.pid)], 60, "the lock taken")
        daemon.signal(signal.SIGSTOP)
    except BaseException:
        daemon.kill_everything()
        raise
    return daemon


def _killed(daemon: Daemon) -> None:
    daemon.signal(signal.SIGKILL)
    assert daemon.wait(10) == -signal.SIGKILL


def test_status_tells_alive_stalled_died_starting_and_crash_looping_at_once(
    tmp_path: Path,
) -> None:
    """Status judges the heartbeat with the lock file: a frozen daemon reads `stalled`; right
    after its kill -9 `died` (its beat still fresh); a start-up holding the lock `starting`,
    killed `died in start-up` (not the predecessor's row); a second one `crash-looping`; a
    good start resets the count and a clean stop reads `stopped` with the lock file empty."""
    config = _setup(tmp_path, _model(every="1h"))
    registry = tmp_path / "state" / "registry.db"
    first = Daemon(config)
    try:
        up = _wait(
            lambda: (d := _status(config)["daemon"]) and d["condition"] == "alive" and d,
            120,
            "a first heartbeat",
        )
        assert (up["condition"], up["pid"], up["lock"]["pid"]) == ("alive", first.pid, first.pid)
        assert up["lock"]["starting"] == 0 and up["start_failures"] == 0
        first.signal(signal.SIGSTOP)
        stalled = _wait(
            lambda: (
                queries.status(registry, heartbeat_interval=0.2)["daemon"]["condition"] == "stalled"
            ),
            30,
            "stalled",
        )
        assert stalled
        _killed(first)
        died = _status(config)["daemon"]
        assert (died["condition"], died["alive"], died["pid"]) == ("died", False, first.pid)
        assert died["age_s"] < 15  # the beat alone would still read "alive"
    finally:
        first.kill_everything()

    for n in (1, 2):
        starting = _stopped_once_it_holds_the_lock(config)
        try:
            now = _status(config)
            text = _status(config, as_json=False)
            _killed(starting)
        finally:
            starting.kill_everything()
        daemon = now["daemon"]
        assert daemon["pid"] == first.pid  # the row is still the predecessor's
        assert (daemon["lock"]["held"], daemon["lock"]["pid"]) == (True, starting.pid)
        assert (daemon["condition"], daemon["start_failures"]) == ("starting", n - 1)
        assert f"starting: pid {starting.pid} took the lock" in text
        after = _status(config)["daemon"]
        assert (after["lock"]["held"], after["start_failures"]) == (False, n)
        text = _status(config, as_json=False)
        if n == 1:
            assert after["condition"] == "died"
            assert f"died in start-up: pid {starting.pid} took the lock" in text, text
        else:
            assert after["condition"] == "crash_looping"
            assert "crash-looping: 2 starts in a row died in start-up" in text, text

    with _running(config) as last:
        up = _wait(lambda: (d := _status(config)["daemon"])["pid"] == last.pid and d, 120, "a beat")
        assert (up["condition"], up["start_failures"], _lock_line(config)) == (
            "alive",
            0,
            [str(last.pid)],
        )
        last.signal(signal.SIGTERM)
        assert last.wait(30) == 0
    stopped = _status(config)["daemon"]
    assert (stopped["condition"], stopped["lock"]["held"], stopped["lock"]["pid"]) == (
        "stopped",
        False,
        None,
    )
    assert _lock_line(config) == []


def test_a_second_daemon_is_refused_before_the_slow_imports(tmp_path: Path) -> None:
    """With the registry's lock held, `driftd run` exits 75 naming the holder without
    importing scipy, scikit-learn or pandas, and before checking the config's estimator
    name (a bad one would be exit 78): the lock comes first, so the refusal is quick."""
    model = _model(every="1h", train="estimator").replace("LogisticRegression", "NoSuch")
    config = _setup(tmp_path, model)
    registry = tmp_path / "state" / "registry.db"
    registry.parent.mkdir()
    with InstanceLock(lock_path(registry)):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "driftd", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
    assert proc.returncode == 75, proc.stderr[-2000:]
    assert f"driftd: another driftd (pid {os.getpid()}) holds" in proc.stderr
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "driftd" in imported
    assert not imported & {"scipy", "sklearn", "pandas"}
    unlocked = subprocess.run(
        [*_driftd(), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unlocked.returncode == 78, unlocked.stderr  # the name is checked once it holds it
    assert "NoSuch" in unlocked.stderr
