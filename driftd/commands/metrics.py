"""``driftd metrics``: the Prometheus exposition of the registry's current state.

The same text the daemon's textfile and ``metrics.listen`` endpoint hold, read from the registry
now; for a quick look, or a cron job on a host without the daemon (``--out`` writes atomically).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftd.commands import Add, common


def register(add: Add, as_json: argparse.ArgumentParser) -> None:
    p = add("metrics", cmd_metrics, "print the Prometheus metrics of the registry's state")
    p.add_argument(
        "--out", help="write them to this file atomically (node_exporter's textfile collector)"
    )


def cmd_metrics(args: argparse.Namespace) -> int:
    from driftd import metrics
    from driftd.errors import DriftdError

    cfg = common.load_config(args)
    cap = metrics.settings(cfg).max_features
    if args.out:
        try:
            metrics.write_textfile(Path(args.out), cfg.registry, cap)
        except OSError as exc:
            raise DriftdError(f"{args.out}: cannot write the metrics: {exc.strerror}") from None
        return 0
    sys.stdout.write(metrics.exposition(cfg.registry, cap))
    return 0
