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

``--dependence`` runs the cells with autocorrelated rows instead (AR(1) with rho 0.5 and 0.9,
numeric and 5-level categorical cut from the same process, and daily data with a weekly cycle):
the per-feature false-alarm rate of the test with driftd's effective-sample-size correction
(the default) and without it (``dependence = false``), each of which should stay within
alpha + 0.02.

``--power`` runs the dataset-verdict cell of issue 10: 2,000 reference and 2,000 live rows of
25 features (20 numeric, 5 categorical with 10 levels), 13 of them shifted by amounts driftd
calls material (mean +0.1 SD, SD x1.1, 5 % of category mass moved), and the same with nothing
shifted; it prints how often each dataset rule fires: the combined decision (default), the
older share rule, and "any feature significant after Bonferroni".

``--paired`` runs the champion-versus-candidate cells: two equally good models (each the truth
plus its own error series) on a holdout of 7 or 14 days, rows in time order, whose errors are
AR(1) across rows (rho 0.99 or 0.999 per row, i.e. correlated within a day) or share a day
effect. It prints how often the paired bootstrap's 95 % interval excludes 0 (nominal 5 %) and
how often the candidate "wins" (lower bound above 0, nominal 2.5 %), resampling rows one by one
and resampling whole days (driftd's default when the holdout has timestamps).
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

from driftd import detect, evaluate
from driftd.config import DriftConfig, PromotionConfig
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


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """A stationary AR(1) series with unit variance."""
    noise = rng.normal(size=n) * np.sqrt(1 - rho**2)
    x = np.empty(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = rho * x[i - 1] + noise[i]
    return x


def dependent(rng: np.random.Generator, process: str, kind: str, n: int) -> np.ndarray:
    """One feature of ``n`` rows in time order from ``process``; categorical ones are the same
    latent series cut at its quintiles."""
    if process.startswith("ar"):
        latent, sd = ar1(rng, n, float(process[2:])), 1.0
    else:  # weekly: a weekday profile plus independent noise, starting on a random weekday
        day = rng.integers(7) + np.arange(n)
        latent, sd = np.sin(2 * np.pi * day / 7) + rng.normal(size=n), np.sqrt(1.5)
    if kind == "numeric":
        return latent
    # Fixed cut points (the process's quintiles if it were normal), the same for both samples.
    return np.searchsorted(sps.norm.ppf([0.2, 0.4, 0.6, 0.8]) * sd, latent)


DEPENDENCE_CELLS = (
    ("ar0.5", "numeric", 2_000, 60),
    ("ar0.9", "numeric", 2_000, 60),
    ("ar0.5", "numeric", 2_000, 500),
    ("ar0.5", "numeric", 2_000, 2_000),
    ("ar0.9", "numeric", 2_000, 500),
    ("ar0.9", "numeric", 2_000, 2_000),
    ("ar0.5", "cat5", 2_000, 2_000),
    ("ar0.9", "cat5", 2_000, 2_000),
    ("weekly", "numeric", 730, 56),
    ("weekly", "numeric", 730, 60),
    ("weekly", "cat5", 730, 60),
)


def run_dependence_cell(
    process: str, kind: str, n_ref: int, n_live: int, *, reps: int, features: int, seed: int
) -> dict[str, Any]:
    """Per-feature false alarms under autocorrelated rows, corrected and uncorrected."""
    rng = np.random.default_rng(seed)
    fk = FeatureKind.NUMERIC if kind == "numeric" else FeatureKind.CATEGORICAL
    kinds = {f"f{i}": fk for i in range(features)}
    corrected, plain = DriftConfig(alpha=ALPHA), DriftConfig(alpha=ALPHA, dependence=False)
    hits = {"corrected": 0, "plain": 0}
    start = time.process_time()
    for rep in range(reps):
        ref = pd.DataFrame({k: dependent(rng, process, kind, n_ref) for k in kinds})
        live = pd.DataFrame({k: dependent(rng, process, kind, n_live) for k in kinds})
        summary = detect.summarize(ref, kinds)
        for name, cfg in (("corrected", corrected), ("plain", plain)):
            report = detect.detect(summary, live, cfg, seed=rep)
            hits[name] += sum(f.p_value is not None and f.p_value <= ALPHA for f in report.features)
    return {
        "process": process,
        "kind": kind,
        "n_ref": n_ref,
        "n_live": n_live,
        "features": reps * features,
        **hits,
        "cpu": time.process_time() - start,
    }


def shifted_frame(rng: np.random.Generator, n: int, shifted: bool) -> pd.DataFrame:
    """Issue 10's power cell: 20 numeric and 5 categorical features; with ``shifted``, 13 move."""
    cols: dict[str, Any] = {}
    for i in range(20):
        mean = 0.1 if shifted and i < 5 else 0.0
        sd = 1.1 if shifted and 5 <= i < 10 else 1.0
        cols[f"x{i}"] = rng.normal(mean, sd, size=n)
    base = shares(10)
    moved = base.copy()
    moved[0] -= 0.05  # 5 % of the mass moves from the commonest level to the rarest
    moved[-1] += 0.05
    for i in range(5):
        p = moved if shifted and i < 3 else base
        cols[f"c{i}"] = pd.Categorical(rng.choice(10, size=n, p=p), categories=range(10))
    return pd.DataFrame(cols)


def run_power_cell(shifted: bool, *, reps: int, seed: int) -> dict[str, Any]:
    """How often each dataset rule fires on 2,000 vs 2,000 rows, shifted or not."""
    rng = np.random.default_rng(seed)
    combined, share = DriftConfig(alpha=ALPHA), DriftConfig(alpha=ALPHA, decision="share")
    fired = {"combined": 0, "share": 0, "bonferroni_any": 0}
    start = time.process_time()
    for rep in range(reps):
        ref, live = shifted_frame(rng, 2_000, False), shifted_frame(rng, 2_000, shifted)
        kinds = detect.infer_kinds(ref)
        summary = detect.summarize(ref, kinds)
        report = detect.detect(summary, live, combined, seed=rep)
        fired["combined"] += report.verdict is Verdict.DRIFT
        fired["share"] += detect.detect(summary, live, share, seed=rep).verdict is Verdict.DRIFT
        p = [f.p_value for f in report.features if f.p_value is not None]
        fired["bonferroni_any"] += min(p) * len(p) <= ALPHA
    return {"shifted": shifted, "reps": reps, **fired, "cpu": time.process_time() - start}


class Column:
    """A model that predicts one column of X: the paired cells' equally good models."""

    def __init__(self, column: str, classifier: bool) -> None:
        self.column = column
        if classifier:
            self.classes_ = np.array([0, 1])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        values = x[self.column].to_numpy()
        return (values > 0).astype(int) if hasattr(self, "classes_") else values

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-x[self.column].to_numpy()))
        return np.column_stack([1 - p, p])


PAIRED_CELLS = (  # process, days, rows a day, scorer
    ("iid", 7, 200, "neg_mean_squared_error"),
    ("ar0.99", 7, 200, "neg_mean_squared_error"),
    ("ar0.999", 14, 100, "neg_mean_squared_error"),
    ("day", 7, 200, "neg_mean_squared_error"),
    ("day", 7, 200, "roc_auc"),
    ("ar0.99", 14, 100, "roc_auc"),
)


def paired_errors(rng: np.random.Generator, process: str, days: int, per_day: int) -> np.ndarray:
    n = days * per_day
    if process == "iid":
        return np.asarray(rng.normal(size=n))
    if process == "day":  # half the variance shared by the day's rows
        shared = np.repeat(rng.normal(size=days), per_day)
        return np.asarray((shared + rng.normal(size=n)) / np.sqrt(2))
    return ar1(rng, n, float(process[2:]))


def run_paired_cell(
    process: str, days: int, per_day: int, scorer: str, *, reps: int, seed: int
) -> dict[str, Any]:
    """How often each bootstrap's interval excludes 0 when both models are equally good."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    start_day = np.datetime64("2024-01-01T06:00", "ns")
    minutes = (np.arange(n) % per_day) * (16 * 60 // per_day)
    times = start_day + np.repeat(np.arange(days), per_day) * np.timedelta64(1, "D")
    times = times + minutes * np.timedelta64(1, "m")
    cfg = PromotionConfig(scorer=scorer, bootstrap=400, guardrails={})
    classifier = scorer == "roc_auc"
    champion, candidate = Column("a", classifier), Column("b", classifier)
    out = {"rows_excl": 0, "rows_win": 0, "days_excl": 0, "days_win": 0}
    begun = time.process_time()
    for rep in range(reps):
        truth = rng.normal(size=n)
        x = pd.DataFrame(
            {
                "a": truth + paired_errors(rng, process, days, per_day),
                "b": truth + paired_errors(rng, process, days, per_day),
            }
        )
        y = (truth > 0).astype(int) if classifier else truth
        for label, stamps in (("rows", None), ("days", times)):
            row = evaluate.compare(champion, candidate, x, y, cfg, seed=rep, timestamps=stamps)
            primary = row.primary
            assert primary is not None
            out[f"{label}_excl"] += int(primary.ci_low > 0 or primary.ci_high < 0)
            out[f"{label}_win"] += int(primary.ci_low > 0)
    cell = {"process": process, "days": days, "per_day": per_day, "scorer": scorer}
    return {**cell, "reps": reps, **out, "cpu": time.process_time() - begun}


def paired_main(args: argparse.Namespace) -> None:
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [
            pool.submit(run_paired_cell, *cell, reps=args.reps, seed=4000 + i)
            for i, cell in enumerate(PAIRED_CELLS)
        ]
        results = [f.result() for f in futures]
    print(
        "champion vs candidate, equally good; 95 % paired bootstrap (400 resamples); "
        f"{args.reps} holdouts per cell; excl. 0 nominal 0.05, false win nominal 0.025\n"
    )
    print(
        f"{'errors':8} {'days':>4} {'rows/day':>8} {'metric':>22} "
        f"{'rows: excl':>10} {'win':>6} {'days: excl':>10} {'win':>6}"
    )
    for r in results:
        n = r["reps"]
        print(
            f"{r['process']:8} {r['days']:>4} {r['per_day']:>8} {r['scorer']:>22} "
            f"{r['rows_excl'] / n:>10.3f} {r['rows_win'] / n:>6.3f} "
            f"{r['days_excl'] / n:>10.3f} {r['days_win'] / n:>6.3f}"
        )
    print(f"CPU {sum(r['cpu'] for r in results):.0f} s")


def dependence_main(args: argparse.Namespace) -> None:
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [
            pool.submit(
                run_dependence_cell, *cell, reps=args.reps, features=args.features, seed=2000 + i
            )
            for i, cell in enumerate(DEPENDENCE_CELLS)
        ]
        results = [f.result() for f in futures]
    print(
        f"autocorrelated rows, no drift; per-feature FA at alpha {ALPHA}; "
        f"{args.reps} repetitions x {args.features} features per cell\n"
    )
    print(f"{'process':8} {'data':8} {'n_ref':>6} {'n_live':>6} {'corrected':>10} {'plain':>8}")
    for r in results:
        n = r["features"]
        print(
            f"{r['process']:8} {r['kind']:8} {r['n_ref']:>6,} {r['n_live']:>6,} "
            f"{r['corrected'] / n:>10.3f} {r['plain'] / n:>8.3f}"
        )
    print(f"CPU {sum(r['cpu'] for r in results):.0f} s")


def power_main(args: argparse.Namespace) -> None:
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [
            pool.submit(run_power_cell, shifted, reps=args.reps, seed=3000 + shifted)
            for shifted in (False, True)
        ]
        results = [f.result() for f in futures]
    print(
        "2,000 vs 2,000 rows, 25 features (20 numeric, 5 categorical); shifted: 13 features "
        f"(mean +0.1 SD x5, SD x1.1 x5, 5 % category mass x3); {args.reps} repetitions\n"
    )
    print(f"{'data':10} {'combined':>9} {'share':>7} {'Bonferroni any':>15}")
    for r in results:
        n = r["reps"]
        label = "13 of 25" if r["shifted"] else "no drift"
        print(
            f"{label:10} {r['combined'] / n:>9.3f} {r['share'] / n:>7.3f} "
            f"{r['bonferroni_any'] / n:>15.3f}"
        )
    print(f"CPU {sum(r['cpu'] for r in results):.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description="false-alarm rates without drift")
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dependence", action="store_true", help="autocorrelated-rows cells")
    parser.add_argument("--power", action="store_true", help="the dataset-verdict power cell")
    parser.add_argument("--paired", action="store_true", help="champion-vs-candidate cells")
    args = parser.parse_args()
    if args.paired:
        paired_main(args)
        return
    if args.dependence:
        dependence_main(args)
        return
    if args.power:
        power_main(args)
        return
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
