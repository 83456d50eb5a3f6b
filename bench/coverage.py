"""What ``data.min_coverage`` sees: the coverage of complete and of half-filled live windows.

Run: ``.venv/bin/python bench/coverage.py [--reps 1000]``.

Two tables, both through :func:`driftd.sources.coverage` (the rule the cycle applies):

* complete windows of randomly timed events (a Poisson stream at 20 to 5,000 rows per window):
  the smallest and the 1st percentile of the coverage measured over ``--reps`` windows; a
  default below these never marks a complete window ``insufficient_data``;
* an hourly source (100 rows an hour, an hour-of-day feature and a noise feature) checked on a
  one-day window with its last ``m`` hours not yet arrived (a daily batch read mid-day): the
  coverage, and the dataset verdict and hour-of-day effect that driftd's detection gives with
  today's default settings and with fixed thresholds and no dependence correction (the
  settings of issue 10's replays). The hole reads as drift long before it reads as
  insufficient coverage: the rule is for windows clearly incomplete, not a cure for small lags.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from driftd import detect
from driftd.config import DriftConfig
from driftd.sources import coverage

START = datetime(2026, 1, 1, tzinfo=UTC)


def poisson(reps: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    print("complete windows of randomly timed events")
    print(f"{'rows/window':>12} {'window':>7} {'min':>6} {'p1':>6} {'median':>7}")
    for per_day, days in ((20, 1), (50, 1), (500, 1), (24, 7), (5000, 1)):
        shares = []
        for _ in range(reps):
            n = rng.poisson(per_day * days)
            offsets = np.sort(rng.uniform(0, days * 86400, n))
            times = pd.Series(pd.Timestamp(START) + pd.to_timedelta(offsets, unit="s"))
            share = coverage(times, START, START + timedelta(days=days)).share
            if share is not None:
                shares.append(share)
        a = np.array(shares)
        print(
            f"{per_day * days:>12} {days:>6}d {a.min():>6.3f} {np.quantile(a, 0.01):>6.3f} "
            f"{np.median(a):>7.3f}"
        )


def hourly(seed: int = 1) -> None:
    rng = np.random.default_rng(seed)

    def frame(hours: int, start: datetime) -> pd.DataFrame:
        ts = pd.date_range(start, periods=hours, freq="h", tz="UTC").repeat(100)
        return pd.DataFrame(
            {"ts": ts, "hour": ts.hour.astype(float), "x": rng.normal(size=len(ts))}
        )

    reference = frame(28 * 24, START)
    kinds = detect.infer_kinds(reference[["hour", "x"]], ())
    configs = {
        "default": DriftConfig(),
        "fixed": DriftConfig(dependence=False, baseline="fixed"),
    }
    day = START + timedelta(days=31)
    print("\nhourly rows, one-day window, the last m hours missing")
    print(
        f"{'m':>3} {'coverage':>9} "
        + " ".join(f"{k + ' verdict':>16} {'effect':>7}" for k in configs)
    )
    for missing in (0, 1, 2, 3, 4, 6, 12):
        live = frame(24 - missing, day + timedelta(hours=1))
        share = coverage(live["ts"], day, day + timedelta(days=1)).share
        cells = []
        for cfg in configs.values():
            report = detect.compare_frames(
                reference[["hour", "x"]], live[["hour", "x"]], kinds, cfg
            )
            hour = next(f for f in report.features if f.feature == "hour")
            cells.append(f"{report.verdict!s:>16} {hour.effect or 0:>7.3f}")
        print(f"{missing:>3} {share or 0:>9.3f} " + " ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    poisson(args.reps)
    hourly()


if __name__ == "__main__":
    main()
