"""Soak test: ``driftd run`` for at least N cycles on an accelerated schedule; does it leak?

Run: ``.venv/bin/python bench/soak.py [--cycles 1000] [--sample 5] [--dir DIR]``. Starts the real
``driftd run`` (a child process) on small seeded data with three models checked every second:

- ``steady``: LogisticRegression, retrained when drift persists or the champion is 30 s old
  (``max_age``), at most every 15 s (``cooldown``), so every path runs over and over: check,
  train in a child, evaluate against the champion, decide, record;
- ``drifting``: the same with ``max_age = "45s"``;
- ``broken``: a training command that always fails; with no champion yet, it is tried again at
  every check (the failure path: a child process, a failed training, a failed run, each second).

Every ``--sample`` seconds it reads the daemon's RSS (``VmRSS``) and thread count from
``/proc/PID/status`` and its open file descriptors from ``/proc/PID/fd``, and prints a row. At
the end (SIGTERM, which must exit 0) it compares the samples after warm-up (the first
``--warmup`` share of the cycles, 10 % by default) with warm-up: RSS must stay within
``--rss-tolerance`` (5 %) of the warm-up peak, and the last tenth of the samples may not sit more
than that above the first tenth after warm-up. Threads and the fixed fds (stdio, the lock
file) may not rise above their warm-up maximum by more than what starts on demand (3 threads,
1 fd). Registry fds (SQLite connections) and work fds (a data file being read, a running
training's log, a starting child's pipe and /dev/null) come and go with the work in flight,
so each sample is held to a bound instead: two per thread plus
two per model (+1 for the shared ``-shm``), and six per model (+1 for stdin). Exit 1 if any of
that fails, 2 if the daemon died or the run timed out.

The many-models profile, ``--models 200 --every 1m --minutes 22``, runs that many copies of a
small model (LogisticRegression, retrained only on drift) instead of the three above, stops after
``--minutes``, and also judges the schedule after warm-up (every model's second run, its first
check against its bootstrap model, finished, and the start-up backlog run), which must last
10 minutes or more: each model's runs one ``--every`` apart with
none missing or doubled (a gap over 1.5 periods, or under half of one), no run interrupted, no
check the scheduler dropped as missed, none merged into a waiting run (``job.merged``: the
workers fell behind), no ``cycle.unrecorded`` or ``database is locked`` line, no heartbeat
skipped, missed or deferred, and RSS under ``--rss-limit`` MiB (400) as well as flat.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd import synth

MODELS = (
    # name, how it trains, [models.policy] lines
    ("steady", 'estimator = "sklearn.linear_model.LogisticRegression"', 'max_age = "30s"'),
    ("drifting", 'estimator = "sklearn.linear_model.LogisticRegression"', 'max_age = "45s"'),
    ("broken", 'command = ["{false}", "{{model}}"]', ""),
)


@dataclass(frozen=True, slots=True)
class Sample:
    elapsed: float
    cycles: int
    trainings: int
    rss_kib: int
    fds: int  # all open file descriptors, the sum of the three kinds below
    registry_fds: int  # the registry file and its -wal and -shm (SQLite connections)
    work_fds: int  # in flight: data being read, a training's log, Popen's pipe and /dev/null
    fixed_fds: int  # everything else: stdout and stderr, the lock file, sockets
    threads: int


def many(count: int) -> tuple[tuple[str, str, str], ...]:
    """``count`` small models, retrained only when drift persists (the many-models profile)."""
    way = 'estimator = "sklearn.linear_model.LogisticRegression"'
    return tuple((f"m{i:03d}", way, "") for i in range(count))


def config_text(every: str, models: tuple[tuple[str, str, str], ...] = MODELS) -> str:
    parts = ['registry = "state/registry.db"\nartifacts = "state/artifacts"\nlog_level = "info"\n']
    false = shutil.which("false") or "/bin/false"
    for name, way, policy in models:
        parts.append(f"""
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

[models.training]
{way.format(false=false)}
window = "1d"
timeout = "2m"

[models.promotion]
min_holdout = 50
bootstrap = 200

[models.policy]
cooldown = "15s"
max_retrains_per_day = 100000
{policy}
""")
    return "".join(parts)


def driftd_argv() -> list[str]:
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def counts(registry: Path) -> tuple[int, int]:
    """(finished runs, trainings) so far; (0, 0) while the daemon is still creating the file."""
    if not registry.exists():
        return 0, 0
    try:
        with closing(sqlite3.connect(f"file:{registry}?mode=ro", uri=True, timeout=10)) as c:
            runs = c.execute("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL").fetchone()
            trainings = c.execute("SELECT count(*) FROM trainings").fetchone()
            return int(runs[0]), int(trainings[0])
    except sqlite3.OperationalError:
        return 0, 0


def probe(pid: int, registry: Path, work: Path) -> tuple[int, list[int], int]:
    """(VmRSS in KiB, [registry, work, fixed] fds, threads) of a live process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    kinds = [0, 0, 0]
    database = {str(registry) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    in_flight = (str(work / "state" / "artifacts") + os.sep, str(work / "data") + os.sep, "pipe:")
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed since the listing
        if target in database:
            kinds[0] += 1
        elif target.startswith(in_flight) or target == os.devnull:
            kinds[1] += 1
        else:
            kinds[2] += 1
    return int(fields["VmRSS"][0]), kinds, int(fields["Threads"][0])


def judge(
    samples: list[Sample], target: int, warmup: float, tolerance: float, models: int = len(MODELS)
) -> list[str]:
    """Print the verdict lines; return the failures."""
    warm = [s for s in samples if s.cycles < warmup * target]
    after = [s for s in samples if s.cycles >= warmup * target]
    if not warm or len(after) < 10:
        return ["too few samples to judge (raise --cycles or lower --sample)"]
    tenth = max(1, len(after) // 10)
    mib = 1024.0
    warm_peak = max(s.rss_kib for s in warm)
    peak = max(s.rss_kib for s in after)
    first = statistics.median(s.rss_kib for s in after[:tenth])
    last = statistics.median(s.rss_kib for s in after[-tenth:])
    failures = []
    print(f"\nwarm-up: {len(warm)} samples (< {warmup * target:.0f} cycles); after: {len(after)}")
    print(
        f"RSS     warm-up peak {warm_peak / mib:.1f} MiB; after warm-up min "
        f"{min(s.rss_kib for s in after) / mib:.1f}, max {peak / mib:.1f} MiB "
        f"({(peak / warm_peak - 1) * 100:+.1f} % vs the warm-up peak)"
    )
    print(
        f"        first tenth after warm-up (median) {first / mib:.1f} MiB, last tenth "
        f"{last / mib:.1f} MiB ({(last / first - 1) * 100:+.1f} %)"
    )
    if peak > warm_peak * (1 + tolerance):
        failures.append(
            f"RSS peak {peak / mib:.1f} MiB exceeds the warm-up peak by > {tolerance:.0%}"
        )
    if last > first * (1 + tolerance):
        failures.append(
            f"RSS grew {(last / first - 1) * 100:.1f} % between the first and last tenth"
        )
    # Threads and the fixed fds may not exceed the warm-up maximum by more than what starts on
    # demand: the scheduler's executors start their threads only when firings overlap (up to 2,
    # and 1 for the heartbeat), and the watchdog's notify socket or a file being replaced is
    # open for a moment and may be caught by a sample. A leak, one per check or per minute,
    # passes any such bound within minutes.
    for name, on_demand in (("threads", 3), ("fixed_fds", 1)):
        w = max(getattr(s, name) for s in warm)
        values = [getattr(s, name) for s in after]
        recent = values[-tenth:]
        print(
            f"{name:<13}warm-up max {w}; after warm-up {min(values)}..{max(values)} "
            f"(on demand up to +{on_demand}); last tenth {min(recent)}..{max(recent)}"
        )
        if max(values) > w + on_demand:
            top = max(values)
            failures.append(f"{name} rose above the warm-up maximum ({top} > {w}+{on_demand})")
    # The others come and go with the work in flight, so they are held to their bounds: one
    # SQLite connection per thread plus a read-only one per running cycle (the database file
    # and its WAL each; one -shm for all); per model, a data file being read, a training's log
    # and temp file, and what Popen opens while it starts the child (a pipe, /dev/null).
    for name, bound in (
        ("registry_fds", lambda s: 2 * (s.threads + models) + 1),
        ("work_fds", lambda s: 6 * models + 1),
    ):
        values = [getattr(s, name) for s in after]
        over = [s for s in after if getattr(s, name) > bound(s)]
        print(
            f"{name:<13}after warm-up {min(values)}..{max(values)} "
            f"(bound {bound(after[-1])}); last tenth {min(values[-tenth:])}..{max(values[-tenth:])}"
        )
        if over:
            failures.append(f"{name} over its bound in {len(over)} samples (e.g. {over[0]})")
    return failures


STEADY_MINUTES = 10.0  # issue 14: 200 models every minute for 10 minutes, nothing lost


def backlog_drained(start: datetime, merged: list[datetime], period: float) -> datetime:
    """When the start-up backlog has run: ``start``, moved to one ``period`` after each merged
    firing that comes before it (a merged firing left a run waiting, which starts within a
    period or the next firing merges too). A merged firing after that is the workers falling
    behind, which the caller counts."""
    end = start
    for at in sorted(merged):
        if at > end:
            break
        end = max(end, at + timedelta(seconds=period))
    return end


def judge_schedule(
    registry: Path,
    log: Path,
    every: str,
    samples: list[Sample],
    rss_limit: float,
    steady: float = STEADY_MINUTES,
) -> list[str]:
    """The many-models verdict: no check lost, doubled or unrecorded; the heartbeat kept.

    Warm-up ends when every model has finished its second run: the first trains the bootstrap
    model (on two cores, 200 training children take minutes, and runs due meanwhile are
    coalesced), the second is the first check against a champion, which does each champion's
    one-off work (its permutation importances, its realised metric on 30 past windows, the
    calibration of its performance estimate) before the caches hold it. Warm-up then lasts
    until the start-up backlog has run (:func:`backlog_drained`): in two runs its last queued
    runs started 20-45 s after the second runs, and showed as 36 merged firings and 3 runs
    12 s apart in one, as 44 runs 22-24 s before the next firing in the other, and nothing in
    the 10-11 minutes after. After it, each model's runs must follow one another one period
    apart, give or take half of one, for at least ``steady`` minutes (a daemon that keeps
    merging firings never ends warm-up, and fails here).
    """
    from driftd.durations import parse_duration

    period = parse_duration(every).total_seconds()
    with closing(sqlite3.connect(f"file:{registry}?mode=ro", uri=True, timeout=30)) as c:
        rows = c.execute(
            "SELECT model, started_at, finished_at, status FROM runs ORDER BY id"
        ).fetchall()
    starts: dict[str, list[datetime]] = {}
    finished_runs: dict[str, list[datetime]] = {}
    unfinished = 0
    for model, started, finished, status in rows:
        starts.setdefault(model, []).append(_at(started))
        if finished:
            finished_runs.setdefault(model, []).append(_at(finished))
        unfinished += status == "interrupted"  # "running" at the end is the run in flight
    if any(len(v) < 2 for v in finished_runs.values()) or len(finished_runs) < len(starts):
        return ["warm-up never ended: a model did not finish two runs"]
    second = max(sorted(v)[1] for v in finished_runs.values())
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    warm = backlog_drained(
        second, [_at(x.split(" ", 1)[0]) for x in text if "job.merged" in x], period
    )
    span = (max(max(v) for v in starts.values()) - warm).total_seconds() / 60
    lost = doubled = 0
    for ts in starts.values():
        after = [t for t in ts if t >= warm]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(after)]
        lost += sum(g > 1.5 * period for g in gaps)
        doubled += sum(g < 0.5 * period for g in gaps)
    lines: dict[str, list[datetime]] = {}
    needles = (
        ("unrecorded", "cycle.unrecorded"),
        ("merged", "job.merged"),
        ("missed checks", 'Run time of job "check'),
        ("locked", "database is locked"),
        ("deferred beats", "heartbeat.deferred"),
        ("skipped beats", 'Execution of job "heartbeat'),
        ("missed beats", 'Run time of job "heartbeat'),
    )
    for line in text:
        for name, needle in needles:
            if needle in line:
                lines.setdefault(name, []).append(_at(line.split(" ", 1)[0]))
    # Log lines carry whole seconds: those stamped with warm-up's last second belong to it.
    late = {k: sum(t > warm for t in v) for k, v in lines.items()}
    peak = max(s.rss_kib for s in samples) / 1024
    settled = [s for s in samples if s.elapsed >= samples[-1].elapsed / 2]
    later = sum(len([t for t in ts if t >= warm]) for ts in starts.values())
    print(
        f"schedule     {len(rows)} runs of {len(starts)} models; warm-up ended "
        f"{warm:%H:%M:%S} (every model's second run finished {second:%H:%M:%S}, the start-up "
        f"backlog drained {warm:%H:%M:%S}); after it: {span:.1f} minutes, {later} runs, "
        f"lost {lost}, doubled {doubled}, interrupted {unfinished}"
    )
    print(
        "log lines    "
        + ", ".join(
            f"{k} {len(lines.get(k, []))} ({late.get(k, 0)} after warm-up)" for k, _ in needles
        )
    )
    low, high = (f(s.rss_kib for s in settled) / 1024 for f in (min, max))
    print(f"RSS          peak {peak:.1f} MiB; second half {low:.1f}..{high:.1f} MiB")
    failures = [f"{k}: {v} after warm-up" for k, v in late.items() if v]
    failures += [f"{k}: {len(lines.get(k, []))}" for k in ("unrecorded", "locked") if lines.get(k)]
    failures += [f"{k}: {v}" for k, v in (("lost", lost), ("doubled", doubled)) if v]
    if span < steady:
        failures.append(f"only {max(span, 0):.1f} minutes after warm-up (< {steady:g})")
    if unfinished:
        failures.append(f"{unfinished} runs interrupted")
    if peak > rss_limit:
        failures.append(f"RSS peak {peak:.1f} MiB over {rss_limit:.0f} MiB")
    return failures


def _at(text: str) -> datetime:
    """An ISO time from the registry or a log line (``+0000`` or ``Z``), aware."""
    text = text.replace("Z", "+00:00")
    if text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000, help="finished runs to wait for")
    parser.add_argument("--every", default="1s", help="each model's schedule")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=0.1, help="share of cycles ignored")
    parser.add_argument("--rss-tolerance", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, help="give up after this many seconds")
    parser.add_argument("--dir", help="work here and keep it (default: a temporary directory)")
    parser.add_argument("--models", type=int, help="the many-models profile: this many models")
    parser.add_argument("--minutes", type=float, help="stop after this long, not at --cycles")
    parser.add_argument("--rss-limit", type=float, default=400.0, help="MiB, many-models profile")
    args = parser.parse_args(argv)
    models = many(args.models) if args.models else MODELS
    if args.minutes:
        args.cycles = 10**9  # the clock decides

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="driftd-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    synth.write_demo_data(
        work / "data",
        datetime.now(UTC),
        rows_per_day=200,
        reference_rows=600,
        # Many models: quiet data, so each trains once (its bootstrap) and then only checks.
        drift_days_ago=0 if args.models else synth.DEMO_DRIFT_DAYS_AGO,
    )
    config = work / "config.toml"
    config.write_text(config_text(args.every, models), encoding="utf-8")
    registry = work / "state" / "registry.db"
    log = work / "daemon.log"
    timeout = args.timeout or (args.minutes * 60 if args.minutes else args.cycles * 2.0 + 300)
    goal = f"{args.minutes} minutes" if args.minutes else f"target {args.cycles} cycles"
    print(f"work dir {work}; {len(models)} models every {args.every}; {goal}")
    heads = ("elapsed_s", "cycles", "trainings", "rss_mib", "fds", "reg/wrk/fix", "threads")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (9, 7, 9, 8, 5, 11, 7), strict=True)))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
    # Stopped from outside (kill, Ctrl-C): unwind, so the finally below stops the daemon too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    samples: list[Sample] = []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*driftd_argv(), "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
        )
    started = time.monotonic()
    problem = ""
    try:
        while True:
            time.sleep(args.sample)
            if proc.poll() is not None:
                problem = f"the daemon exited with {proc.returncode}; see {log}"
                break
            cycles, trainings = counts(registry)
            try:
                rss, kinds, threads = probe(proc.pid, registry, work)
            except (OSError, KeyError):
                continue  # exiting between poll() and the read
            elapsed = time.monotonic() - started
            reg, trn, oth = kinds
            sample = Sample(
                round(elapsed, 1), cycles, trainings, rss, reg + trn + oth, reg, trn, oth, threads
            )
            samples.append(sample)
            fds = "/".join(map(str, kinds))
            print(
                f"{sample.elapsed:>9.1f} {cycles:>7} {trainings:>9} {rss / 1024:>8.1f} "
                f"{sample.fds:>5} {fds:>11} {threads:>7}",
                flush=True,
            )
            if cycles >= args.cycles:
                break
            if elapsed > timeout:
                if not args.minutes:
                    problem = f"timed out after {elapsed:.0f}s with {cycles} cycles"
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
                problem = problem or "the daemon did not stop within 60 s of SIGTERM"
            if rc != 0 and not problem:
                problem = f"the daemon exited with {rc} after SIGTERM; see {log}"
    if problem:
        print(f"\nFAIL: {problem}")
        return 2
    cycles, trainings = counts(registry)
    elapsed = time.monotonic() - started
    print(f"\n{cycles} cycles and {trainings} trainings in {elapsed:.0f} s; clean stop (exit 0)")
    target = cycles if args.minutes else args.cycles
    failures = judge(samples, target, args.warmup, args.rss_tolerance, len(models))
    if args.models:
        failures += judge_schedule(registry, log, args.every, samples, args.rss_limit)
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        print(f"kept {work} (daemon.log, the registry) for a look")
        return 1
    print("PASS: RSS within tolerance, threads and fixed fds flat, the others within bounds")
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
