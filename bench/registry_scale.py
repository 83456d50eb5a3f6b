"""How `driftd status` and `driftd verify` scale with the registry's history.

Run: ``.venv/bin/python bench/registry_scale.py [--models 200] [--runs 100000,1000000]``.
For each size it builds a registry through driftd's own migrations, then fills it in bulk with
SQL (``--models`` models, the runs spread evenly, one check per run, one model that fails now
and then), and times, in child processes, ``driftd status --json`` and ``driftd verify --json``
(median of ``--repeat`` runs each), the same two in this process through the library (the
registry's share of the time), and ``driftd --version`` (the interpreter and import cost every
command pays). Goals (issue 14): status at most 0.3 s at 1,000,000 runs,
verify at most 2 s at 100,000 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd.registry import queries
from driftd.registry.store import Registry
from driftd.registry.verify import examine

_T0 = 1_700_000_000  # seconds since 1970: where the bulk history starts


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def build(path: Path, models: int, runs: int) -> None:
    """A registry of ``runs`` finished runs over ``models`` models, written in bulk."""
    Registry.open(path).close()  # schema and migrations exactly as driftd makes them
    names = [f"m{i:03d}" for i in range(models)]
    with closing(sqlite3.connect(path)) as c:
        c.execute("PRAGMA synchronous = OFF")
        c.executemany(
            "INSERT INTO models (name, created_at) VALUES (?, ?)", [(n, _iso(_T0)) for n in names]
        )

        def run_rows() -> object:
            for i in range(runs):
                model = names[i % models]
                at = _iso(_T0 + 60 * (i // models))
                failed = model == names[0] and i % 1000 == 0
                yield (
                    i + 1,
                    model,
                    at,
                    at,
                    "failed" if failed else "ok",
                    "schedule",
                    at,
                    None if failed else "ok",
                    "reading data/live.csv: no such file" if failed else None,
                    1,
                    "bench",
                )

        c.executemany(
            "INSERT INTO runs (id, model, started_at, finished_at, status, trigger, now_at, "
            "verdict, error, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows(),  # type: ignore[arg-type]
        )
        c.execute(
            "INSERT INTO checks (run_id, model, checked_at, verdict, reason, drifted, "
            "drifted_share, breached, n_ref, n_live, reference_sha256, report) "
            "SELECT id, model, started_at, 'ok', 'no drift', '[]', 0.0, 0, 1000, 1000, "
            "'0', '{}' FROM runs WHERE status = 'ok'"
        )
        c.commit()


def config_text(registry: Path, artifacts: Path) -> str:
    """The repository's example config pointed at this registry (verify needs a valid one)."""
    text = (Path(__file__).resolve().parents[1] / "config.toml").read_text(encoding="utf-8")
    swap = {"registry =": f'registry = "{registry}"', "artifacts =": f'artifacts = "{artifacts}"'}
    lines = [next((v for k, v in swap.items() if ln.startswith(k)), ln) for ln in text.splitlines()]
    return "\n".join(lines) + "\n"


def in_process(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(argv: list[str], repeat: int) -> tuple[float, int]:
    """(median wall seconds, exit code of the last run) of a command."""
    times, rc = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        rc = subprocess.run(argv, capture_output=True, check=False).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    exe = [sys.executable, "-m", "driftd.cli"]
    env_note = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{args.models} models; OMP_NUM_THREADS={env_note}; median of {args.repeat} runs")
    start_s, _ = timed([*exe, "--version"], args.repeat)
    print(f"driftd --version (start-up alone): {start_s:.3f} s")
    heads = ("runs", "build_s", "status_s", "verify_s", "status_lib", "verify_lib", "size_mib")
    print(" ".join(f"{h:>10}" for h in heads))
    for size in (int(s) for s in args.runs.split(",")):
        with tempfile.TemporaryDirectory(prefix="driftd-scale-") as tmp:
            path = Path(tmp) / "registry.db"
            start = time.perf_counter()
            build(path, args.models, size)
            built = time.perf_counter() - start
            cfg = Path(tmp) / "config.toml"
            cfg.write_text(config_text(path, Path(tmp) / "artifacts"), encoding="utf-8")
            status_s, rc1 = timed([*exe, "status", "--json", "--config", str(cfg)], args.repeat)
            verify_s, rc2 = timed([*exe, "verify", "--json", "--config", str(cfg)], args.repeat)
            out = subprocess.run(
                [*exe, "status", "--json", "--config", str(cfg)], capture_output=True, check=False
            )
            listed = len(json.loads(out.stdout or b"{}").get("models", []))
            mib = path.stat().st_size / 2**20
            status_lib = in_process(partial(queries.status, path), args.repeat)
            verify_lib = in_process(partial(examine, path, check_artifacts=False), args.repeat)
            cells = (built, status_s, verify_s, status_lib, verify_lib, mib)
            print(
                f"{size:>10} " + " ".join(f"{c:>10.3f}" for c in cells),
                f"  (status exit {rc1}, {listed} models; verify exit {rc2})",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
