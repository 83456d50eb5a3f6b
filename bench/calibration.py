"""False-alarm rates of driftd's drift checks when nothing drifts, over a grid of sizes.

Run: ``.venv/bin/python bench/calibration.py [--reps 400] [--features 4] [--workers 2]``.

Each repetition draws a fresh reference and a fresh live window from the same distribution
(every feature numeric normal, or categorical with 10 or 1000 Zipf-like levels), runs
``summarize`` + ``detect`` and records:

* dataset FA (default): the share of repetitions whose verdict is DRIFT with the default config
  (significance after Benjamini-Hochberg AND effect >= threshold), the number that must stay
  within alpha + 0.02;
* dataset FA (significance only): the same with both thresholds at 0, so materiality cannot
  hide a miscalibrated test;
* feature FA (raw test): the share of single features whose test alone has p <= alpha.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd import detect
from driftd.config import DriftConfig
from driftd.domain import FeatureKind, Verdict

KINDS = ("numeric", "cat10", "cat1000")
N_REF = (200, 5_000, 100_000)
N_LIVE = (30, 1_000, 100_000)
ALPHA = 0.05


def shares(levels: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, levels + 1) ** 0.8
    return np.asarray(weights / weights.sum())


def draw(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "numeric":
        return np.asarray(rng.normal(size=n))
    levels = 10 if kind == "cat10" else 1000
    return np.asarray(rng.choice(levels, size=n, p=shares(levels)))


def run_cell(
    kind: str, n_ref: int, n_live: int, *, reps: int, features: int, seed: int
) -> dict[str, Any]:
    """False alarms in one cell of the grid; every repetition uses fresh data."""
    rng = np.random.default_rng(seed)
    fk = FeatureKind.NUMERIC if kind == "numeric" else FeatureKind.CATEGORICAL
    kinds = {f"f{i}": fk for i in range(features)}
    cfg = DriftConfig(alpha=ALPHA)
    fa_default = fa_sig = feature_hits = 0
    start = time.process_time()
    for rep in range(reps):
        ref = pd.DataFrame({name: draw(rng, kind, n_ref) for name in kinds})
        live = pd.DataFrame({name: draw(rng, kind, n_live) for name in kinds})
        summary = detect.summarize(ref, kinds, binned=detect.binnable(cfg))  # as the cycle does
        report = detect.detect(summary, live, cfg, seed=rep)
        fa_default += report.verdict is Verdict.DRIFT
        # Significance only: the same report with the effect thresholds at 0.
        significant = sum(
            f.p_adjusted is not None and f.p_adjusted <= ALPHA for f in report.features
        )
        fa_sig += significant / features >= cfg.share
        feature_hits += sum(f.p_value is not None and f.p_value <= ALPHA for f in report.features)
    return {
        "kind": kind,
        "n_ref": n_ref,
        "n_live": n_live,
        "reps": reps,
        "fa_default": fa_default,
        "fa_sig": fa_sig,
        "feature_hits": feature_hits,
        "features": reps * features,
        "cpu": time.process_time() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="false-alarm rates without drift")
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cells = [(k, r, lv) for k in KINDS for r in N_REF for lv in N_LIVE]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [
            pool.submit(run_cell, k, r, lv, reps=args.reps, features=args.features, seed=1000 + i)
            for i, (k, r, lv) in enumerate(cells)
        ]
        results = [f.result() for f in futures]
    bound = sps.binom.ppf(0.999, args.reps, ALPHA + 0.02) / args.reps
    print(
        f"no drift; alpha {ALPHA}, BH across {args.features} features per dataset, share 0.25 "
        f"(one drifted feature = dataset drift); {args.reps} repetitions per cell"
    )
    print(
        f"a cell is flagged '!' when its default dataset FA exceeds {bound:.3f}, the 99.9 % "
        f"binomial bound for a true rate of alpha + 0.02 = {ALPHA + 0.02:.2f}\n"
    )
    head = (
        f"{'data':8} {'n_ref':>7} {'n_live':>7} {'dataset FA':>11} {'dataset FA':>11} "
        f"{'feature FA':>11}"
    )
    print(head)
    print(f"{'':24} {'default':>11} {'sig. only':>11} {'raw test':>11}")
    for r in results:
        fa = r["fa_default"] / r["reps"]
        flag = " !" if fa > bound else ""
        print(
            f"{r['kind']:8} {r['n_ref']:>7,} {r['n_live']:>7,} {fa:>11.3f} "
            f"{r['fa_sig'] / r['reps']:>11.3f} {r['feature_hits'] / r['features']:>11.3f}{flag}"
        )
    total = sum(r["reps"] for r in results)
    pooled = sum(r["fa_default"] for r in results) / total
    pooled_sig = sum(r["fa_sig"] for r in results) / total
    pooled_feat = sum(r["feature_hits"] for r in results) / sum(r["features"] for r in results)
    print(
        f"\npooled over {total:,} datasets: default {pooled:.4f}, significance only "
        f"{pooled_sig:.4f}; raw per-feature test {pooled_feat:.4f}"
    )
    print(f"wall {time.perf_counter() - start:.0f} s, CPU {sum(r['cpu'] for r in results):.0f} s")


if __name__ == "__main__":
    main()
