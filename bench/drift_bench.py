"""Speed of driftd's drift detection against per-column scipy, from 1k to 1M rows x 25 columns.

Run: ``.venv/bin/python bench/drift_bench.py [--sizes 1k,10k,100k,1M] [--repeat K] [--memory]``.
For each size, with the categoricals as pandas ``category`` columns (what driftd's Parquet
reader delivers), as pandas' ``str`` columns (Arrow-backed: what a CSV gives on pandas 3 with
pyarrow) and as plain Python strings in ``object`` columns (a CSV on pandas 2, a frame built
from Python lists), it
prints the CPU time of driftd cold (summarize the reference + detect), driftd warm (detect with
the cached reference summary, as the daemon runs) and a baseline of per-column
``scipy.stats.ks_2samp`` + ``chi2_contingency``, each the median of K runs taken in turn, and the
ratios; then issue 14's floors as PASS/FAIL lines (at least as fast as scipy at 1k and 10k;
at 1M with object strings >= 10x cold and >= 20x warm). From 1M rows it also prints the
*ceiling* of the object-string ratios: the baseline over the CPU of only the steps no count-based
detector can skip, each done by the cheapest call numpy, pandas or pyarrow offers (counting each
string column, and one ``np.bincount`` of each numeric column's bucket numbers), everything
else taken as free. ``--memory`` adds peak RSS.
Data are seeded: 20 numeric columns (normal, lognormal, bimodal, integer-valued; 5 each) and 5
categorical columns (3, 10, 50, 200 and 1000 levels), 13 of the 25 shifted in the live frame.
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
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
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd import detect
from driftd.config import DriftConfig
from driftd.detect.summary import _chunked_factorize
from driftd.stats.binned import TAILS
from driftd.stats.buckets import Buckets

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


SIZES = "1k,10k,100k,1M"
VARIANTS = ("category", "str", "object")


def parse_size(text: str) -> int:
    """``"1k"`` -> 1000, ``"1M"`` -> 1000000, ``"2500"`` -> 2500."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help=f"rows per side (default {SIZES})")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median quoted)")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    print(
        f"{ref_columns()} columns (20 numeric, 5 categorical with {CARDINALITIES} levels), "
        f"{os.cpu_count()} CPUs; CPU seconds, median of {args.repeat}; ratio = scipy / driftd"
    )
    header = (
        f"{'rows':>9} {'categoricals':12} {'cold':>8} {'warm':>8} {'scipy':>8} "
        f"{'cold x':>7} {'warm x':>7}  check"
    )
    print(header)
    results: dict[tuple[int, str], tuple[float, float, float]] = {}
    ceilings: dict[int, tuple[float, float]] = {}
    for rows in sizes:
        ref, live, shifted = make_frames(rows)
        for variant in VARIANTS:
            as_variant = {"category": _as_category, "str": _as_str, "object": _as_object}[variant]
            r, lv = as_variant(ref), as_variant(live)
            cold, warm, base, note = run(r, lv, shifted, args.repeat, args.memory)
            results[rows, variant] = (cold, warm, base)
            print(
                f"{rows:>9,} {variant:12} {cold:8.3f} {warm:8.3f} {base:8.3f} "
                f"{base / cold:7.1f} {base / warm:7.1f}  {note}",
                flush=True,
            )
            if variant == "object" and rows >= CEILING_ROWS:
                strings, numbers = floor_costs(r, lv, args.repeat)
                ceilings[rows] = (base / sum(strings + numbers), base / (strings[1] + numbers[1]))
                print(
                    f"{'':>9} ceiling: cold {ceilings[rows][0]:.1f}x, warm {ceilings[rows][1]:.1f}x"
                    f" (CPU s per side, reference / live: strings {strings[0]:.3f} / "
                    f"{strings[1]:.3f}, numbers {numbers[0]:.3f} / {numbers[1]:.3f})",
                    flush=True,
                )
    print()
    for line in floors(results, ceilings):
        print(line)


def ref_columns() -> int:
    return 20 + len(CARDINALITIES)


CEILING_ROWS = 1_000_000


def floor_costs(
    ref: pd.DataFrame, live: pd.DataFrame, repeat: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """CPU seconds, per side (reference, live), of the two steps a count-based detector cannot
    skip, each by the cheapest library call for it (median of ``repeat`` per call, the least
    per column): counting the values of every string column (pd.factorize of the whole
    column, driftd's chunked factorize, or pyarrow's conversion plus value_counts) and one
    np.bincount of every numeric column's bucket numbers (computed before the clock starts)."""

    def cpu(fn: Callable[[], Any]) -> float:
        return float(np.median([timed(fn)[1] for _ in range(repeat)]))

    def strings(frame: pd.DataFrame) -> float:
        total = 0.0
        for name in frame.columns:
            if frame[name].dtype != object:
                continue
            values = frame[name].to_numpy()
            calls: list[Callable[[], Any]] = [
                functools.partial(pd.factorize, values, use_na_sentinel=True),
                functools.partial(_chunked_factorize, values),
                functools.partial(_arrow_counts, values),
            ]
            total += min(cpu(call) for call in calls)
        return total

    def numbers(frame: pd.DataFrame) -> float:
        total = 0.0
        for name in frame.columns:
            if frame[name].dtype == object:
                continue
            values = frame[name].to_numpy(dtype=np.float64)
            buckets = Buckets.place(ref[name].to_numpy(dtype=np.float64), TAILS[0])
            assert buckets is not None
            index = buckets.index(values)
            total += cpu(functools.partial(np.bincount, index, minlength=buckets.m + 2))
        return total

    return (strings(ref), strings(live)), (numbers(ref), numbers(live))


def _arrow_counts(values: np.ndarray) -> Any:
    return pc.value_counts(pa.array(values, type=pa.string()))


def floors(
    results: dict[tuple[int, str], tuple[float, float, float]],
    ceilings: dict[int, tuple[float, float]],
) -> list[str]:
    """Issue 14's floors, each PASS or FAIL, for the sizes that were run; a 1M object-string
    floor above its measured ceiling says so."""
    out = []
    for (rows, variant), (cold, warm, base) in results.items():
        if rows <= 10_000:
            for label, t in (("cold", cold), ("warm", warm)):
                verdict = "PASS" if base / t >= 1.0 else "FAIL"
                out.append(f"{verdict} {rows:,} {variant} {label}: {base / t:.2f}x scipy (>= 1)")
        if rows >= 1_000_000 and variant == "object":
            cold_cap, warm_cap = ceilings.get(rows, (math.inf, math.inf))
            out.append(
                f"{'PASS' if base / cold >= 10 else 'FAIL'} {rows:,} object cold: "
                f"{base / cold:.1f}x scipy (>= 10){_beyond(10, cold_cap)}"
            )
            out.append(
                f"{'PASS' if base / warm >= 20 else 'FAIL'} {rows:,} object warm (cached "
                f"summary): {base / warm:.1f}x scipy (>= 20){_beyond(20, warm_cap)}"
            )
    return out


def _beyond(floor: float, ceiling: float) -> str:
    if ceiling >= floor:
        return ""
    return f"; above the ceiling of {ceiling:.1f}x with numpy, pandas and pyarrow"


def _as_category(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet stores strings dictionary-encoded and driftd reads them so (see sources)."""
    cats = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.astype(dict.fromkeys(cats, "category"))


def _as_str(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas' string dtype: Arrow-backed where pyarrow is installed (driftd depends on it)."""
    cats = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.astype(dict.fromkeys(cats, "str"))


def _as_object(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain Python strings in an object column, as a CSV reader without pyarrow gives them."""
    cats = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.astype(dict.fromkeys(cats, object))


def run(
    ref: pd.DataFrame, live: pd.DataFrame, shifted: list[str], repeat: int, memory: bool
) -> tuple[float, float, float, str]:
    """Median CPU seconds of driftd cold (summarize + detect), driftd warm (detect with the
    cached reference summary) and per-column scipy, taken in turn so a slow spell hits all
    three; and a note on the result (KS agreement with scipy, columns caught)."""
    kinds = detect.infer_kinds(ref)
    cfg = DriftConfig()
    binned = detect.binnable(cfg)
    detect.detect(detect.summarize(ref.head(1000), kinds), live.head(1000), cfg)  # warm imports

    def cold_summary() -> detect.ReferenceSummary:
        # The cycle passes the reference's data sha256 as the fingerprint; so does the bench.
        return detect.summarize(ref, kinds, "bench", binned=binned)

    runs: dict[str, list[float]] = {"cold": [], "warm": [], "base": []}
    for _ in range(repeat):
        summary, s_cpu, _ = timed(cold_summary)
        check = functools.partial(detect.detect, summary, live, cfg)
        report, d_cpu, _ = timed(check)
        runs["cold"].append(s_cpu + d_cpu)
        runs["warm"].append(timed(check)[1])
        exact, b_cpu, _ = timed(lambda: baseline(ref, live))
        runs["base"].append(b_cpu)
    cold, warm, base = (float(np.median(runs[k])) for k in ("cold", "warm", "base"))
    numeric = [f for f in report.features if f.kind == "numeric"]
    err = max(abs((f.statistic or 0.0) - exact[f.feature]) for f in numeric)
    caught = set(report.drifted)
    note = (
        f"KS stat err {err:.0e}; caught {len(caught & set(shifted))}/{len(shifted)}, "
        f"false {len(caught - set(shifted))}"
    )
    if memory:
        size = (ref.memory_usage(deep=True).sum() + live.memory_usage(deep=True).sum()) / 2**20
        cold_mem = peak_memory(lambda: detect.detect(cold_summary(), live, cfg))
        warm_mem = peak_memory(lambda: detect.detect(summary, live, cfg))
        base_mem = peak_memory(lambda: baseline(ref, live))
        note += (
            f"; RSS+ MiB cold {cold_mem[1]:.0f}, warm {warm_mem[1]:.0f}, scipy {base_mem[1]:.0f}"
            f" (data {size:.0f})"
        )
    return cold, warm, base, note


if __name__ == "__main__":
    main()
