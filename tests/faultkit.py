"""Fault injection for driftd: kill -9 a real ``driftd run`` at chosen moments, check invariants.

Shared by ``tests/test_faults.py`` (short seeded campaigns) and ``bench/faults.py`` (hundreds of
kills). A campaign starts the real executable on a temporary registry whose model retrains and
promotes on every cycle (``every = "1s"``, ``max_age = "1s"``, ``min_improvement = -1``), kills
it with SIGKILL at a seeded moment, reads what the crash left (the phase the kill landed in,
temp files, unreferenced version directories, surviving processes), restarts it, waits for the
start-up sweep, and checks every invariant listed in :func:`check_after_sweep`.

Training is by default a *command* that copies a model fitted once in this process, slowly
(``train_delay`` seconds of "fitting", then the file in four flushed chunks), so a cycle costs
about a second instead of the several seconds the scientific stack takes to import in a fresh
training child; ``training="estimator"`` uses a real LogisticRegression child instead.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftd import synth

MODEL = "churn"
TRAINING_PHASES = frozenset({"train-setup", "training", "artifact-write"})
PROMOTION_PHASES = frozenset({"evaluate", "commit", "decided"})
TARGETS = ("timed", "training", "artifact", "promotion", "commit", "decided", "startup", "check")
SWEEP_LINE = "startup.sweep"
_POLL = 0.003
REAP_GRACE = 0.5  # the kernel delivers PDEATHSIG as the parent exits

FAKE_TRAIN = """\
import os, sys, time
out, src, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
if delay < 0:  # held: wait until the test creates the release file
    while not os.path.exists(sys.argv[4]):
        time.sleep(0.02)
    delay = 0.1
time.sleep(delay)
data = open(src, "rb").read()
step = max(1, len(data) // 4)
with open(out, "wb") as fh:
    for i in range(0, len(data), step):
        fh.write(data[i : i + step])
        fh.flush()
        time.sleep(delay / 8)
"""


def driftd_argv() -> list[str]:
    """The installed ``driftd`` beside this interpreter, else ``python -m driftd.cli``."""
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def child_env() -> dict[str, str]:
    """This environment without systemd's variables (a child must not talk to our manager)."""
    drop = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")
    return {k: v for k, v in os.environ.items() if k not in drop}


@dataclass(frozen=True)
class Workspace:
    """A config, seeded data and an empty state directory under ``root``."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def registry(self) -> Path:
        return self.root / "state" / "registry.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "state" / "artifacts"

    @property
    def model_dir(self) -> Path:
        return self.artifacts / MODEL

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def release(self) -> Path:
        """Created by a test to let a held fake trainer finish."""
        return self.root / "release"


@functools.cache
def prebuilt_model() -> bytes:
    """A skops file of driftd's pipeline around LogisticRegression, fitted on seeded data."""
    import skops.io

    from driftd.config import TrainingConfig
    from driftd.trainer import build_estimator

    frame = synth.make_reference(600, seed=3)
    features = list(synth.FEATURES)
    pipe = build_estimator(TrainingConfig(), features, list(synth.CATEGORICAL))
    pipe.fit(frame[features], frame[synth.TARGET])
    data: bytes = skops.io.dumps(pipe)
    return data


def make_workspace(
    root: Path,
    *,
    seed: int = 7,
    training: str = "command",
    train_delay: float = 0.6,
    every: str = "1s",
    rows_per_day: int = 300,
    hold: bool = False,
) -> Workspace:
    """Write data (drift in the newest days), a fast-cycling config, and the fake trainer.

    ``hold``: the fake trainer waits until :attr:`Workspace.release` exists before it writes.
    """
    ws = Workspace(root)
    root.mkdir(parents=True, exist_ok=True)
    ws.logs.mkdir(exist_ok=True)
    synth.write_demo_data(
        root / "data",
        datetime.now(UTC),
        seed,
        rows_per_day=rows_per_day,
        reference_rows=4 * rows_per_day,
    )
    if training == "command":
        (root / "prebuilt.skops").write_bytes(prebuilt_model())
        (root / "fake_train.py").write_text(FAKE_TRAIN, encoding="utf-8")
        argv = [sys.executable, str(root / "fake_train.py"), "{model}"]
        argv += [str(root / "prebuilt.skops"), str(-1 if hold else train_delay)]
        argv += [str(ws.release)]
        way = "command = [" + ", ".join(f'"{a}"' for a in argv) + "]"
    elif training == "estimator":
        way = 'estimator = "sklearn.linear_model.LogisticRegression"\nparams = { max_iter = 200 }'
    else:
        raise ValueError(f"training must be 'command' or 'estimator' (got {training!r})")
    ws.config.write_text(
        f"""\
registry = "state/registry.db"
artifacts = "state/artifacts"
log_level = "info"

[[models]]
name = "{MODEL}"
every = "{every}"
misfire_grace = "30s"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
categorical = ["plan", "region"]

[models.training]
{way}
window = "2d"
timeout = "2m"

[models.promotion]
scorer = "roc_auc"
min_improvement = -1.0
holdout = "1d"
min_holdout = 50
bootstrap = 100

[models.policy]
cooldown = "1s"
max_retrains_per_day = 1000000
max_age = "1s"
""",
        encoding="utf-8",
    )
    return ws


# --- the daemon -----------------------------------------------------------------------------


class Daemon:
    """One ``driftd run`` (or other ``command``) process, its output in ``logs/``."""

    def __init__(self, ws: Workspace, index: int, command: tuple[str, ...] = ("run",)) -> None:
        self.log = ws.logs / f"{command[0]}-{index:04d}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*driftd_argv(), *command, "--config", str(ws.config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
            )
        self.started = time.monotonic()

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            if self.proc.poll() is not None:
                return needle in self.text()
            time.sleep(0.02)
        return False

    def kill9(self) -> bool:
        """SIGKILL; False when it had already exited by itself."""
        alive = self.proc.poll() is None
        if alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return alive

    def stop(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def processes_under(root: Path) -> list[int]:
    """Pids (not ours) whose command line mentions ``root``: training children, commands."""
    needle = str(root).encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                if needle in fh.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


# --- reading the state a crash left ---------------------------------------------------------


@contextlib.contextmanager
def connect_ro(path: Path) -> Iterator[sqlite3.Connection]:
    """Read-only: a read-write connection that closed last would checkpoint the WAL itself and
    so recover the registry before the daemon does."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def temp_files(ws: Workspace) -> list[Path]:
    """Every ``.tmp-*`` file or directory below the artifact root."""
    found: list[Path] = []
    for here, dirs, files in os.walk(ws.artifacts):
        found += [Path(here) / n for n in (*dirs, *files) if n.startswith(".tmp-")]
        dirs[:] = [d for d in dirs if not d.startswith(".tmp-")]
    return sorted(found)


def version_dirs(ws: Workspace) -> set[Path]:
    from driftd.trainer.orphans import VERSION_DIR

    if not ws.model_dir.is_dir():
        return set()
    return {
        Path(e.path)
        for e in os.scandir(ws.model_dir)
        if VERSION_DIR.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
    }


@dataclass(frozen=True)
class Snapshot:
    """The state right after a kill, before the restart."""

    phase: str
    running: tuple[int, ...]
    max_run: int
    temp: tuple[Path, ...]
    orphans: tuple[Path, ...]


def snapshot(ws: Workspace, swept: bool) -> Snapshot:
    """Classify the kill by what it left: the registry's rows for the open run, then files."""
    temp = tuple(temp_files(ws))
    dirs = version_dirs(ws)
    if not ws.registry.exists():
        return Snapshot("startup", (), 0, temp, tuple(sorted(dirs)))
    with connect_ro(ws.registry) as c:
        try:
            referenced = {
                Path(r[0]).parent for r in c.execute("SELECT artifact_path FROM versions")
            }
            running = tuple(
                int(r[0]) for r in c.execute("SELECT id FROM runs WHERE status = 'running'")
            )
            max_run = int(c.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0])
        except sqlite3.OperationalError:  # killed before the schema was created
            return Snapshot("startup", (), 0, temp, tuple(sorted(dirs)))
        orphans = tuple(sorted(dirs - referenced))
        phase = "startup" if not swept else "idle"
        if running and swept:
            run = max(running)
            phase = _run_phase(c, run, orphans)
    return Snapshot(phase, running, max_run, temp, orphans)


def _run_phase(c: sqlite3.Connection, run: int, orphans: Iterable[Path]) -> str:
    def has(table: str) -> bool:
        sql = f"SELECT 1 FROM {table} WHERE run_id = ? LIMIT 1"
        return c.execute(sql, (run,)).fetchone() is not None

    if has("decisions"):
        return "decided"
    if has("versions"):
        return "commit"
    if not has("checks"):
        return "check"
    newest = sorted(orphans, key=lambda p: p.stat().st_mtime if p.exists() else 0.0)
    if not newest:
        return "policy"  # after the check, before the version directory exists
    names = os.listdir(newest[-1]) if newest[-1].exists() else []
    if "model.skops" in names:
        return "evaluate"
    if any(n.startswith(".tmp-") and n.endswith(".skops") for n in names):
        return "artifact-write"
    if any(n.startswith(".tmp-train-") for n in names):
        return "training"
    return "train-setup"


# --- invariants -----------------------------------------------------------------------------


def check_after_sweep(ws: Workspace, before: Snapshot, daemon: Daemon) -> list[tuple[str, str]]:
    """``(invariant, detail)`` for every violation once the restarted daemon has swept.

    * ``integrity``: ``PRAGMA integrity_check`` is ok;
    * ``champion-count``: exactly one champion pointer and one open history period per model
      once a champion was ever decided, none before;
    * ``champion-artifact``: the champion's artifact exists with the recorded sha256 and size,
      and its training-data snapshot (the next reference) exists;
    * ``champion-pointer``: ``<artifacts>/<model>/CHAMPION.json`` holds what the registry says
      (a kill between a decision's commit and the file's rename left the old one: the sweep
      rewrote it), or has no file while no champion exists;
    * ``verify``: the real ``driftd verify`` exits 0 (hash chain, foreign keys, pointers, files);
    * ``running-after-sweep``: no run the crash left 'running' is still 'running';
    * ``temp-survived``: no ``.tmp-*`` left by the crash survives the sweep;
    * ``orphan-survived`` / ``orphan-count``: every unreferenced version directory is removed
      and reported (``startup.orphans count=N``);
    * ``traceback``: the daemon's output has no Python traceback.
    """
    problems: list[tuple[str, str]] = []
    with connect_ro(ws.registry) as c:
        integrity = [str(r[0]) for r in c.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            problems.append(("integrity", "; ".join(integrity)[:200]))
            return problems
        problems += _champion_problems(c)
    problems += _pointer_problems(ws)
    with connect_ro(ws.registry) as c:
        still = [
            int(r[0])
            for r in c.execute(
                "SELECT id FROM runs WHERE status = 'running' AND id <= ?", (before.max_run,)
            )
        ]
        if still:
            problems.append(("running-after-sweep", f"runs {still}"))
    verify = subprocess.run(
        [*driftd_argv(), "verify", "--config", str(ws.config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=child_env(),
    )
    if verify.returncode != 0:
        problems.append(("verify", (verify.stdout + verify.stderr).strip()[:300]))
    survived = [p for p in before.temp if p.exists() or p.is_symlink()]
    if survived:
        problems.append(("temp-survived", ", ".join(map(str, survived[:3]))))
    kept = [p for p in before.orphans if p.exists()]
    if kept:
        problems.append(("orphan-survived", ", ".join(map(str, kept[:3]))))
    text = daemon.text()
    reported = _orphans_reported(text)
    if reported != len(before.orphans):
        problems.append(("orphan-count", f"reported {reported}, found {len(before.orphans)}"))
    if "Traceback" in text:
        problems.append(("traceback", daemon.log.name))
    return problems


def _champion_problems(c: sqlite3.Connection) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    decided = c.execute(
        "SELECT 1 FROM decisions WHERE model = ? AND action = 'bootstrap'", (MODEL,)
    ).fetchone()
    pointers = c.execute("SELECT * FROM champions WHERE model = ?", (MODEL,)).fetchall()
    periods = c.execute(
        "SELECT count(*) FROM champion_history WHERE model = ? AND until IS NULL", (MODEL,)
    ).fetchone()[0]
    want = 1 if decided else 0
    if len(pointers) != want or periods != want:
        problems.append(("champion-count", f"{len(pointers)} pointers, {periods} open periods"))
    for ptr in pointers:
        v = c.execute("SELECT * FROM versions WHERE id = ?", (ptr["version_id"],)).fetchone()
        path = Path(v["artifact_path"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(("champion-artifact", f"{path}: {exc.strerror}"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != v["artifact_sha256"] or len(data) != v["artifact_size"]:
            problems.append(("champion-artifact", f"{path}: sha256/size differ"))
        if not (path.parent / "data.parquet").is_file():
            problems.append(("champion-artifact", f"{path.parent}/data.parquet is missing"))
    return problems


def _pointer_problems(ws: Workspace) -> list[tuple[str, str]]:
    """CHAMPION.json against the registry. The restarted daemon may be between a later commit
    and its own pointer write (milliseconds), so a difference must last a second to count."""
    from driftd.champion import pointer

    path = pointer.pointer_path(ws.artifacts, MODEL)
    deadline = time.monotonic() + 1.0
    while True:
        want, have = pointer.expected(ws.registry, MODEL), pointer.read(path)
        if have == want and (want is not None or not path.exists()):
            return []
        if time.monotonic() > deadline:
            shown = (have or {}).get("version")
            return [("champion-pointer", f"file {shown}, registry {(want or {}).get('version')}")]
        time.sleep(0.02)


def _pointers_repaired(text: str) -> int:
    for line in text.splitlines():
        if SWEEP_LINE in line:
            for part in line.split():
                if part.startswith("pointers_repaired="):
                    return int(part.removeprefix("pointers_repaired="))
    return 0


def _orphans_reported(text: str) -> int:
    for line in text.splitlines():
        if "startup.orphans" in line:
            for part in line.split():
                if part.startswith("count="):
                    return int(part.removeprefix("count="))
    return 0


# --- a campaign -----------------------------------------------------------------------------


@dataclass
class Report:
    """What a campaign measured; every count of ``violations`` should be zero."""

    kills: int = 0
    phases: Counter[str] = field(default_factory=Counter)
    targets: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)
    temp_seen: set[Path] = field(default_factory=set)
    temp_survived: set[Path] = field(default_factory=set)
    orphans_seen: set[Path] = field(default_factory=set)
    orphans_survived: set[Path] = field(default_factory=set)
    orphan_lines: int = 0
    pointer_repairs: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def violate(self, key: str, detail: str) -> None:
        self.violations[key] += 1
        if len(self.details) < 20:
            self.details.append(f"kill {self.kills}: {key}: {detail}")

    @property
    def training_kills(self) -> int:
        return sum(n for p, n in self.phases.items() if _bare(p) in TRAINING_PHASES)

    @property
    def promotion_kills(self) -> int:
        return sum(n for p, n in self.phases.items() if _bare(p) in PROMOTION_PHASES)

    def lines(self) -> list[str]:
        out = [f"kills: {self.kills} in {self.seconds:.0f} s"]
        out.append("kills by phase: " + fmt_counts(self.phases))
        out.append(
            f"  training (setup/fit/artifact write): {self.training_kills}; "
            f"promotion (evaluate/commit/decided): {self.promotion_kills}"
        )
        out.append("kills by target: " + fmt_counts(self.targets))
        out.append(
            "invariant violations: " + (fmt_counts(self.violations) if self.violations else "0")
        )
        out += [f"  {d}" for d in self.details]
        out.append(
            f"temp files left by kills: {len(self.temp_seen)}; "
            f"surviving the sweep: {len(self.temp_survived)}"
        )
        out.append(
            f"orphan version dirs left by kills: {len(self.orphans_seen)}; "
            f"surviving the sweep: {len(self.orphans_survived)}; "
            f"startup.orphans lines: {self.orphan_lines}"
        )
        out.append(f"champion pointers rewritten by the sweep: {self.pointer_repairs}")
        out.append("decisions recorded: " + fmt_counts(self.decisions))
        return out


def _bare(phase: str) -> str:
    return phase.removeprefix("check:")


def fmt_counts(counts: Counter[str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"


def campaign(
    ws: Workspace,
    *,
    kills: int,
    seed: int,
    targets: tuple[str, ...] = TARGETS,
    rotate: bool = False,
    budget_s: float | None = None,
    warmup: bool = True,
    progress: Callable[[int, Report], None] | None = None,
) -> Report:
    """Kill and restart ``driftd run`` up to ``kills`` times; stop early past ``budget_s``.

    ``rotate`` takes the targets in turn (a short campaign still covers each); otherwise each
    kill draws one. The campaign ends with a restart, one more decision (the daemon still
    works), SIGTERM (exit 0) and a last ``driftd verify``.
    """
    rng = random.Random(seed)
    report = Report()
    started = time.monotonic()
    before: Snapshot | None = None
    index = 0
    warm: Daemon | None = None
    if warmup:
        # A champion first, so that later kills land in promotions rather than bootstraps; the
        # same daemon is then the first one killed (a start costs seconds of imports).
        warm = Daemon(ws, index)
        index += 1
        if not _wait_decisions(ws, 1, 120):
            report.violate("no-progress", "no bootstrap within 120 s")
    for i in range(kills):
        if budget_s is not None and time.monotonic() - started > budget_s:
            break
        target = targets[i % len(targets)] if rotate else rng.choice(targets)
        known = version_dirs(ws)
        if warm is not None and target not in ("check", "startup"):
            daemon, warm = warm, None
            _wait_target(ws, target, known, rng)
        else:
            if warm is not None:
                if warm.stop() != 0:
                    report.violate("stop-rc", f"{warm.log.name}: exit {warm.proc.returncode}")
                warm = None
            daemon = _start_and_aim(ws, index, target, known, before, rng, report)
            index += 1
        swept = SWEEP_LINE in daemon.text() or target == "check"
        if not daemon.kill9() and target != "check":
            report.violate("daemon-exited", f"{daemon.log.name} rc={daemon.proc.returncode}")
        report.kills += 1
        report.targets[target] += 1
        _reap(ws, report)
        if "Traceback" in daemon.text():
            report.violate("traceback", daemon.log.name)
        before = snapshot(ws, swept)
        report.phases[("check:" if target == "check" else "") + before.phase] += 1
        report.temp_seen.update(before.temp)
        report.orphans_seen.update(before.orphans)
        if progress is not None:
            progress(i, report)
    if warm is not None and warm.stop() != 0:  # no kill happened
        report.violate("stop-rc", f"{warm.log.name}: exit {warm.proc.returncode}")
    _finish(ws, before, Daemon(ws, index), report)
    report.seconds = time.monotonic() - started
    return report


def _start_and_aim(
    ws: Workspace,
    index: int,
    target: str,
    known: set[Path],
    before: Snapshot | None,
    rng: random.Random,
    report: Report,
) -> Daemon:
    """Start the process to kill; once a daemon has swept, check the previous kill's state;
    then wait for the moment ``target`` names."""
    if target == "check":
        # `driftd check` takes no lock and runs no sweep: the next daemon start must clean up
        # after it. Its clock is now, or an hour ago (a replay: the cool-down after the
        # daemon's later trainings usually stops it before it trains).
        back = timedelta(hours=rng.choice((0, 1)))
        replay = (datetime.now(UTC) - back).isoformat()
        daemon = Daemon(ws, index, ("check", "--now", replay))
        _wait_target(ws, rng.choice(("timed", "training", "promotion")), known, rng, 4.0)
        return daemon
    daemon = Daemon(ws, index)
    if target == "startup":
        time.sleep(rng.uniform(0.0, 1.5))
        return daemon
    if not daemon.wait_for(SWEEP_LINE, 60):
        report.violate("no-sweep", daemon.log.name)
    elif before is not None:
        _check(ws, before, daemon, report)
    _wait_target(ws, target, known, rng)
    return daemon


def _check(ws: Workspace, before: Snapshot, daemon: Daemon, report: Report) -> None:
    for key, detail in check_after_sweep(ws, before, daemon):
        report.violate(key, detail)
    report.temp_survived.update(p for p in before.temp if p.exists())
    report.orphans_survived.update(p for p in before.orphans if p.exists())
    report.orphan_lines += "startup.orphans" in daemon.text()
    report.pointer_repairs += _pointers_repaired(daemon.text())


def _wait_target(
    ws: Workspace, target: str, known: set[Path], rng: random.Random, span: float = 2.5
) -> None:
    """Sleep until the moment ``target`` names (or 20 s), plus a seeded random delay.

    ``commit`` fires as soon as the cycle's version row is committed (the kill then lands
    between it and the decision, or between the decision and the run's end); ``decided`` a
    few milliseconds after its decision, so the pointer moves before the kill.
    """
    if target == "timed":
        time.sleep(rng.uniform(0.0, span))
        return
    deadline = time.monotonic() + 20
    if target in ("commit", "decided"):
        table = "versions" if target == "commit" else "decisions"
        base = _count(ws, table)
        while time.monotonic() < deadline and _count(ws, table) <= base:
            time.sleep(_POLL)
        if target == "decided":
            time.sleep(rng.uniform(0.0, 0.02))
        return
    while time.monotonic() < deadline:
        for d in version_dirs(ws) - known:
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            if target == "training" and any(n.startswith(".tmp-train-") for n in names):
                time.sleep(rng.uniform(0.0, 0.3))
                return
            if target == "artifact" and any(
                n.startswith(".tmp-") and n.endswith(".skops") for n in names
            ):
                time.sleep(rng.uniform(0.0, 0.05))
                return
            if target == "promotion" and "model.skops" in names:
                time.sleep(rng.uniform(0.0, 0.1))
                return
        time.sleep(_POLL)


def _reap(ws: Workspace, report: Report) -> None:
    """Training processes must die with the daemon (at once: a command still writing after the
    next start-up sweep would leave a temp file behind it); kill and report any that do not."""
    deadline = time.monotonic() + REAP_GRACE
    left = processes_under(ws.root)
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = processes_under(ws.root)
    # A training child started just before the kill has not yet asked for its PDEATHSIG; it
    # finds its parent gone right after and exits by itself: slow, not a survivor.
    slow = [p for p in left if b"driftd.trainer.child" in _cmdline(p)]
    bad = [_describe(p) for p in left if p not in slow]
    deadline = time.monotonic() + 5
    while slow and time.monotonic() < deadline:
        time.sleep(0.05)
        slow = [p for p in slow if _cmdline(p)]
    bad += [_describe(p) for p in slow]
    left = [p for p in left if _cmdline(p)]
    if bad:
        report.violate("survivor-process", "; ".join(bad))
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _cmdline(pid: int) -> bytes:
    """The process's command line; empty once it is gone (or a zombie)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _describe(pid: int) -> str:
    names = [Path(a.decode(errors="replace")).name for a in _cmdline(pid).split(b"\0") if a]
    return f"pid {pid} ({' '.join(names[:3]) or 'gone'})"


def _finish(ws: Workspace, before: Snapshot | None, daemon: Daemon, report: Report) -> None:
    """Restart once more: the sweep, the invariants, one more decision, then a clean stop."""
    if not daemon.wait_for(SWEEP_LINE, 60):
        report.violate("no-sweep", daemon.log.name)
    elif before is not None:
        _check(ws, before, daemon, report)
    if not _wait_decisions(ws, _decision_count(ws) + 1, 60):
        report.violate("no-progress", "no decision within 60 s of the last restart")
    rc = daemon.stop()
    if rc != 0:
        report.violate("stop-rc", f"{daemon.log.name}: exit {rc}")
    if "Traceback" in daemon.text():
        report.violate("traceback", daemon.log.name)
    with connect_ro(ws.registry) as c:
        running = c.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
        for row in c.execute("SELECT action, count(*) FROM decisions GROUP BY action"):
            report.decisions[str(row[0])] = int(row[1])
    if running:
        report.violate("running-after-stop", f"{running} runs")
    verify = subprocess.run(
        [*driftd_argv(), "verify", "--config", str(ws.config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=child_env(),
    )
    if verify.returncode != 0:
        report.violate("verify", verify.stdout.strip()[:300])


def _wait_decisions(ws: Workspace, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _decision_count(ws) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _decision_count(ws: Workspace) -> int:
    return _count(ws, "decisions")


def _count(ws: Workspace, table: str) -> int:
    if not ws.registry.exists():
        return 0
    with connect_ro(ws.registry) as c:
        try:
            return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
