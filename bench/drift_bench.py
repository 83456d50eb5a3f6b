"""Speed and memory of driftd's drift detection against per-column scipy, on 1M x 25 columns.

Run: ``.venv/bin/python bench/drift_bench.py [--rows N] [--repeat K] [--strings]``. Prints CPU
and wall time for driftd cold (summarize + detect) and warm (detect with the cached summary), the
same for a baseline of per-column ``scipy.stats.ks_2samp`` + ``chi2_contingency``, peak extra
memory of each, and how far driftd's KS statistics are from the exact ones. Each timing is the
median of K runs, the three kinds taken in turn, so a shared machine's slow spells hit all three.
Data are seeded: 20 numeric columns (normal, lognormal, bimodal, integer-valued; 5 each) and 5
categorical columns (3, 10, 50, 200 and 1000 levels), half of them shifted in the live frame.
Categoricals are pandas ``category`` columns, as driftd's Parquet reader delivers them;
``--strings`` repeats the run with pandas strings (what a CSV gives), where hashing a million
strings per column is the floor for driftd and baseline alike.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd import detect
from driftd.config import DriftConfig

CARDINALITIES = (3, 10, 50, 200, 1000)


def make_frames(rows: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Reference and live frames; returns the names of the shifted columns too."""
    rng = np.random.default_rng(seed)
    ref: dict[str, Any] = {}
    live: dict[str, Any] = {}
    shifted: list[str] = []
    for i in range(20):
        family = ("normal", "lognormal", "bimodal", "integer")[i % 4]
        name = f"{family}_{i}"
        shift = 0.25 if i % 2 == 0 else 0.0  # half the numeric columns move by 0.25 SD
        if shift:
            shifted.append(name)
        ref[name] = _numeric(rng, family, rows, 0.0)
        live[name] = _numeric(rng, family, rows, shift)
    for j, k in enumerate(CARDINALITIES):
        name = f"cat_{k}"
        levels = np.array([f"level_{i:04d}" for i in range(k)], dtype=object)
        weights = 1.0 / np.arange(1, k + 1) ** 0.8
        p = weights / weights.sum()
        q = p
        if j % 2 == 0:  # cat_3, cat_50, cat_1000 change: a fifth of the rows follow reversed shares
            shifted.append(name)
            q = 0.8 * p + 0.2 * p[::-1]
        ref[name] = pd.Series(levels[rng.choice(k, size=rows, p=p)], dtype="str")
        live[name] = pd.Series(levels[rng.choice(k, size=rows, p=q)], dtype="str")
    return pd.DataFrame(ref), pd.DataFrame(live), shifted


def _numeric(rng: np.random.Generator, family: str, n: int, shift: float) -> np.ndarray:
    if family == "normal":
        return rng.normal(10.0 + shift, 1.0, size=n)
    if family == "lognormal":
        sd = float(np.sqrt((np.e - 1) * np.e))  # SD of lognormal(0, 1)
        return rng.lognormal(0.0, 1.0, size=n) + shift * sd
    if family == "bimodal":
        x = np.where(rng.random(n) < 0.5, rng.normal(-2, 1, n), rng.normal(2, 1, n))
        return x + shift * float(np.sqrt(5.0))
    return rng.poisson(20.0 + shift * np.sqrt(20.0), size=n).astype(np.float64)


def baseline(ref: pd.DataFrame, live: pd.DataFrame) -> dict[str, float]:
    """Per-column scipy: ks_2samp for numbers, chi2_contingency on the 2 x K table for strings."""
    out: dict[str, float] = {}
    for name in ref.columns:
        if pd.api.types.is_numeric_dtype(ref[name]):
            res = sps.ks_2samp(ref[name].to_numpy(), live[name].to_numpy())
            out[name] = float(res.statistic)
        else:
            table = pd.concat([ref[name].value_counts(), live[name].value_counts()], axis=1).fillna(
                0
            )
            out[name] = float(sps.chi2_contingency(table.to_numpy().T).pvalue)
    return out


def _median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """Median CPU and median wall time (each on its own)."""
    return float(np.median([p[0] for p in pairs])), float(np.median([p[1] for p in pairs]))


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(fn: Callable[[], Any]) -> tuple[float, float]:
    """(tracemalloc peak, sampled RSS peak - RSS before), in MiB."""
    gc.collect()
    before = _rss()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    watcher = threading.Thread(target=sample)
    watcher.start()
    tracemalloc.start()
    try:
        fn()
        _, traced = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        done.set()
        watcher.join()
    return traced / 2**20, (peak[0] - before) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median quoted)")
    parser.add_argument(
        "--strings",
        action="store_true",
        help="also time categorical columns as pandas strings (as a CSV reader gives them)",
    )
    args = parser.parse_args()
    ref, live, shifted = make_frames(args.rows)
    variants = [("categoricals as pandas category (driftd's Parquet reader)", _as_category)]
    if args.strings:
        variants.append(("categoricals as pandas str (CSV)", lambda frame: frame))
    for title, convert in variants:
        print(f"\n== {title}")
        run(convert(ref), convert(live), shifted, args.rows, args.repeat)


def _as_category(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet stores strings dictionary-encoded and driftd reads them so (see sources)."""
    cats = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.astype(dict.fromkeys(cats, "category"))


def run(ref: pd.DataFrame, live: pd.DataFrame, shifted: list[str], rows: int, repeat: int) -> None:
    kinds = detect.infer_kinds(ref)
    cfg = DriftConfig()
    size = (ref.memory_usage(deep=True).sum() + live.memory_usage(deep=True).sum()) / 2**20
    print(
        f"data: {rows:,} reference + {rows:,} live rows x {ref.shape[1]} columns "
        f"({size:,.0f} MiB in memory), {os.cpu_count()} CPUs; shifted: {len(shifted)} columns"
    )
    # The cycle passes the reference's data sha256 as the fingerprint; so does the bench.
    fingerprint = "bench"
    detect.detect(detect.summarize(ref.head(1000), kinds), live.head(1000), cfg)  # warm imports
    binned = detect.binnable(cfg)

    def cold_summary() -> detect.ReferenceSummary:
        return detect.summarize(ref, kinds, fingerprint, binned=binned)

    runs: dict[str, list[tuple[float, float]]] = {
        "summarize": [],
        "cold": [],
        "warm": [],
        "base": [],
    }
    for _ in range(repeat):
        summary, s_cpu, s_wall = timed(cold_summary)
        check = functools.partial(detect.detect, summary, live, cfg)
        report, d_cpu, d_wall = timed(check)
        runs["summarize"].append((s_cpu, s_wall))
        runs["cold"].append((s_cpu + d_cpu, s_wall + d_wall))
        runs["warm"].append(timed(check)[1:])
        exact, b_cpu, b_wall = timed(lambda: baseline(ref, live))
        runs["base"].append((b_cpu, b_wall))
    (s_cpu, s_wall), (cold_cpu, cold_wall), (w_cpu, w_wall), (b_cpu, b_wall) = (
        _median(runs[key]) for key in ("summarize", "cold", "warm", "base")
    )

    cold_mem = peak_memory(lambda: detect.detect(cold_summary(), live, cfg))
    warm_mem = peak_memory(lambda: detect.detect(summary, live, cfg))
    base_mem = peak_memory(lambda: baseline(ref, live))

    rows = [
        ("driftd cold (summarize + detect)", cold_cpu, cold_wall, cold_mem),
        ("driftd warm (detect, cached summary)", w_cpu, w_wall, warm_mem),
        ("baseline scipy per column", b_cpu, b_wall, base_mem),
    ]
    print(f"\nmedian of {repeat} run(s) each")
    print(f"{'':38} {'CPU s':>7} {'wall s':>7} {'traced MiB':>11} {'RSS+ MiB':>9}")
    for label, cpu, wall, (traced, rss) in rows:
        print(f"{label:38} {cpu:7.2f} {wall:7.2f} {traced:11.0f} {rss:9.0f}")
    print(f"  of which summarize: {s_cpu:.2f} s CPU, {s_wall:.2f} s wall")
    print(
        f"\nspeed-up (CPU): cold {b_cpu / cold_cpu:.1f}x, warm {b_cpu / w_cpu:.1f}x; "
        f"(wall): cold {b_wall / cold_wall:.1f}x, warm {b_wall / w_wall:.1f}x"
    )
    print(
        f"extra memory / data size: cold {max(cold_mem) / size:.2f}, "
        f"warm {max(warm_mem) / size:.2f}"
    )
    numeric = [f for f in report.features if f.kind == "numeric"]
    err = max(abs((f.statistic or 0.0) - exact[f.feature]) for f in numeric)
    print(f"max |KS statistic - exact ks_2samp| over {len(numeric)} numeric columns: {err:.2e}")
    caught = sorted(report.drifted)
    missed = sorted(set(shifted) - set(caught))
    false = sorted(set(caught) - set(shifted))
    print(f"verdict: {report.verdict}; {report.reason}")
    print(
        f"shifted columns flagged: {len(set(caught) & set(shifted))}/{len(shifted)}; "
        f"missed: {missed or 'none'}; false alarms: {false or 'none'}"
    )


if __name__ == "__main__":
    main()
