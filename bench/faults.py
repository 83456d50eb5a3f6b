"""Crash-safety fault injection at scale: kill -9 a real ``driftd run`` hundreds of times.

Run: ``.venv/bin/python bench/faults.py --kills 500 --seed 1`` (5-10 s a kill on two shared
cores: every kill costs a fresh daemon start). The campaign is ``tests/faultkit.py``'s, the one
the test suite runs with a handful of kills: a model that retrains and promotes on every cycle;
each kill at a seeded moment (random time, start-up sweep, training child, artifact write,
evaluation before the promotion commit, the commit of the version row or of the decision, or
a ``driftd check`` killed instead of the daemon); after every restart the invariants of
``faultkit.check_after_sweep``.

Prints the kills per phase (read back from what each kill left), every invariant violation (there
should be none; ``CHAMPION.json`` agreeing with the registry is one of them), the champion pointers
the sweep had to rewrite, the temp files and unreferenced version directories the kills left and
how many survived the start-up sweep, and the decisions recorded. Exit status 1 on any violation.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import faultkit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=500, help="kills to inject (default 500)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill schedule")
    parser.add_argument(
        "--training",
        choices=("command", "estimator"),
        default="command",
        help="a fast fake trainer (default) or the real LogisticRegression child",
    )
    parser.add_argument("--dir", help="work here and keep it (default: a temporary directory)")
    parser.add_argument("--every", type=int, default=25, help="progress line every N kills")
    args = parser.parse_args(argv)

    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="driftd-faults-"))
    started = time.monotonic()
    try:
        ws = faultkit.make_workspace(root / "ws", seed=args.seed, training=args.training)

        def progress(i: int, report: faultkit.Report) -> None:
            if (i + 1) % args.every == 0:
                bad = sum(report.violations.values())
                print(
                    f"[{time.monotonic() - started:6.0f} s] {i + 1} kills, {bad} violations; "
                    f"{faultkit.fmt_counts(report.phases)}",
                    flush=True,
                )

        report = faultkit.campaign(ws, kills=args.kills, seed=args.seed, progress=progress)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"driftd fault injection: --kills {args.kills} --seed {args.seed} "
        f"--training {args.training}"
    )
    for line in report.lines():
        print(line)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
