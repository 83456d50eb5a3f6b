"""``driftd demo``: the whole loop on generated data, in about a minute.

It writes the repository's ``config.toml`` (shipped as ``demo_config.toml``) and ten days of
seeded data into a directory, then replays one check per day through the daemon's own code path:
the first check trains and promotes a model, quiet days follow, the drift that starts four days
before the end is detected, a candidate is retrained and compared with the champion, and the
decision is recorded. It ends with ``driftd status``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from driftd import config, daemon, evaluate, log, render, stats, synth, trainer

DEMO_NOW = datetime(2026, 1, 11, tzinfo=UTC)


def run(directory: Path | None, fast: bool = False) -> int:
    workdir = directory or Path(tempfile.mkdtemp(prefix="driftd-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workdir / "state", ignore_errors=True)
    config_path = workdir / "config.toml"
    config_path.write_text(
        resources.files("driftd").joinpath("demo_config.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    synth.write_demo_data(workdir / "data", DEMO_NOW)
    drift_at = synth.demo_drift_at(DEMO_NOW)
    print(f"driftd demo in {workdir}")
    print(f"data: 10 days of live rows; drift injected at {drift_at:%Y-%m-%d %H:%M}Z\n")
    log.setup("warning")
    checks = config.NameChecks(trainer.check_estimator, evaluate.check_scorer, stats.test_problem)
    cfg = config.load(config_path, checks)
    days = range(9, -1, -1) if not fast else (9, 8, 3, 2)
    for ago in days:
        now = DEMO_NOW - timedelta(days=ago)
        for result in daemon.check_once(cfg, None, now):
            print(f"== check at {now:%Y-%m-%d %H:%M}Z")
            print(render.result_text(render.result_dict(result)))
    print("\n== driftd status")
    sys.stdout.flush()
    # The real command in its own process, as an operator would run it.
    subprocess.run(
        [sys.executable, "-m", "driftd.cli", "status", "--config", str(config_path)], check=False
    )
    print(f"\nexplore: driftd history --config {config_path}")
    return 0
