"""Start-up cost of driftd's commands, against ``python -c "import pandas, sklearn"`` in one run.

Run: ``.venv/bin/python bench/startup.py [--repeat 7] [--dir DIR]``.

It writes the demo's data and config to a scratch directory (``--dir``, default a temporary
one), records one check so the registry has a champion and history, then times, in turn and
``--repeat`` times each (median quoted, wall clock, each a fresh process):

* ``python -c "import pandas, sklearn"``: the floor every command that touches data pays;
* ``driftd check``: from the process start to its first progress line ("checking churn"),
  read from a pseudo-terminal (progress is shown only to a terminal); the child is then
  stopped, so the cycle's own work is not counted;
* the light commands ``status``, ``history``, ``versions``, ``show``, ``verify``,
  ``champion``, ``promote`` and ``rollback``, to their exit, and which of pandas, scipy,
  scikit-learn, numpy and pyarrow each one imported (none should).

Issue 14's floors are printed as PASS/FAIL lines: ``check`` reaches its first step within 1.5x
the import floor; the light commands import none of pandas, scipy or scikit-learn and finish
well under a second.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HEAVY = ("pandas", "scipy", "sklearn", "numpy", "pyarrow")
FORBIDDEN = ("pandas", "scipy", "sklearn")
CHECK_AT = "2026-01-08T00:00:00Z"  # a day of the demo's data
FIRST_STEP = b"driftd: ["
PROBE = (
    "import sys\n"
    "from driftd import cli\n"
    "rc = cli.main(sys.argv[1:])\n"
    f"print('HEAVY', *sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def prepare(workdir: Path) -> Path:
    """The demo's data and config in ``workdir``, with one check recorded; the config path."""
    from importlib import resources

    from driftd import demo, synth

    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workdir / "state", ignore_errors=True)
    config = workdir / "config.toml"
    text = resources.files("driftd").joinpath("demo_config.toml").read_text(encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    synth.write_demo_data(workdir / "data", demo.DEMO_NOW)
    done = subprocess.run(
        [sys.executable, "-m", "driftd", "check", "--config", str(config), "--now", CHECK_AT],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 1):  # 1: drift found, which is fine here
        raise RuntimeError(f"the first check failed: {done.stderr.strip()}")
    return config


def time_imports() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pandas, sklearn"], check=True)
    return time.perf_counter() - start


def time_first_step(config: Path) -> float:
    """Seconds from starting ``driftd check`` to its first progress line on a terminal."""
    master, slave = pty.openpty()
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "driftd", "check", "--config", str(config), "--now", CHECK_AT],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    try:
        while FIRST_STEP not in seen:
            ready, _, _ = select.select([master], [], [], 60.0)
            if not ready:
                raise RuntimeError("driftd check printed no progress within 60 s")
            chunk = os.read(master, 4096)
            if not chunk:
                raise RuntimeError(f"driftd check exited before its first step: {seen!r}")
            seen += chunk
        return time.perf_counter() - start
    finally:
        child.terminate()
        child.wait()
        os.close(master)


def light_commands(config: Path) -> dict[str, list[str]]:
    """argv (after ``driftd``) of each light command, against the prepared registry."""
    c = ["--config", str(config)]
    return {
        "status": ["status", *c],
        "history": ["history", "--model", "churn", *c],
        "versions": ["versions", "--model", "churn", *c],
        "show": ["show", "churn-v1", *c],
        "verify": ["verify", *c],
        "champion": ["champion", "churn", *c],
        # promote to the version that already is champion, and roll back with nothing before
        # it: both go through the command's whole path and refuse or no-op without changing
        # the registry, so every repetition sees the same state.
        "promote": ["promote", "churn", "churn-v1", "--reason", "bench", *c],
        "rollback": ["rollback", "churn", "--reason", "bench", *c],
    }


def time_light(argv: list[str]) -> tuple[float, list[str]]:
    """Wall seconds to exit, and the heavy modules the command imported."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("HEAVY")]
    if not line:
        raise RuntimeError(f"driftd {' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed, line[-1].split()[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per timing (median quoted)")
    parser.add_argument("--dir", help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="driftd-startup-"))
    config = prepare(workdir)
    commands = light_commands(config)
    floor: list[float] = []
    first: list[float] = []
    light: dict[str, list[float]] = {name: [] for name in commands}
    imported: dict[str, list[str]] = {}
    for _ in range(args.repeat):  # in turn, so a busy spell hits every kind alike
        floor.append(time_imports())
        first.append(time_first_step(config))
        for name, argv in commands.items():
            elapsed, imported[name] = time_light(argv)
            light[name].append(elapsed)
    base, check = float(np.median(floor)), float(np.median(first))
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; median of {args.repeat}, wall s")
    label = 'python -c "import pandas, sklearn"'
    print(f"{label:40} {base:7.3f}")
    print(f"{'driftd check to its first step':40} {check:7.3f}  {check / base:5.2f}x imports")
    for name, times in light.items():
        med = float(np.median(times))
        heavy = ", ".join(imported[name]) or "none"
        print(f"{'driftd ' + name:40} {med:7.3f}  {med / base:5.2f}x imports; imported: {heavy}")
    print()
    verdict = "PASS" if check <= 1.5 * base else "FAIL"
    print(f"{verdict} check reaches its first step in {check / base:.2f}x the imports (<= 1.5x)")
    for name, times in light.items():
        bad = [m for m in imported[name] if m in FORBIDDEN]
        ok = not bad and float(np.median(times)) < 1.0
        print(f"{'PASS' if ok else 'FAIL'} {name}: {', '.join(bad) or 'no heavy import'}")


if __name__ == "__main__":
    main()
