"""The HTML report at its documented bound: size and load time in headless Chromium.

A registry with one model, ``--features`` features (70 % numbers, 30 % categories with more
levels than the report keeps) and ``--checks`` checks is written through driftd's own write path
(``Registry.record_check`` with the summaries :func:`driftd.report.summarize.summarize` makes
of real frames), so it holds exactly what that many daemon cycles would; no cycle is run, which
would take minutes and add nothing to what is measured. Then ``driftd.publish.build`` writes
the report and Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) opens it from
disk: the time from navigation to the ``load`` event with every feature's SVG in the DOM.

    python bench/report_bench.py [--features 100] [--checks 50] [--rows 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from driftd.domain import DriftReport, FeatureDrift, FeatureKind, FeatureState, Verdict
from driftd.publish import build
from driftd.registry.store import Registry
from driftd.report import write_atomic
from driftd.report.summarize import summarize

CHROMIUM = Path("/usr/bin/chromium")
START = datetime(2026, 1, 1, tzinfo=UTC)


def frames(
    n_features: int, rows: int, shift: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, FeatureKind]]:
    """Reference and live frames; the live side moved by ``shift`` reference SDs."""
    rng = np.random.default_rng(seed)
    n_cat = int(n_features * 0.3)
    kinds: dict[str, FeatureKind] = {}
    ref: dict[str, object] = {}
    live: dict[str, object] = {}
    for i in range(n_features):
        name = f"feature_{i:03d}"
        if i < n_cat:
            kinds[name] = FeatureKind.CATEGORICAL
            levels = np.array([f"level_{j}" for j in range(50)])
            p = np.linspace(2.0, 0.1, 50)
            ref[name] = rng.choice(levels, rows, p=p / p.sum())
            q = np.roll(p, int(shift * 3))
            live[name] = rng.choice(levels, rows, p=q / q.sum())
        else:
            kinds[name] = FeatureKind.NUMERIC
            ref[name] = rng.lognormal(0.0, 0.5 + i % 5 / 10, rows)
            live[name] = rng.lognormal(shift * 0.3, 0.5 + i % 5 / 10, rows)
    return pd.DataFrame(ref), pd.DataFrame(live), kinds


def feature_rows(kinds: dict[str, FeatureKind], step: int, rng: np.random.Generator) -> tuple:
    rows = []
    for name, kind in kinds.items():
        effect = float(abs(rng.normal(0.03 + 0.002 * step, 0.02)))
        p = float(rng.uniform(0, 1))
        rows.append(
            FeatureDrift(
                feature=name,
                kind=kind,
                state=FeatureState.DRIFT if effect > 0.1 and p < 0.05 else FeatureState.OK,
                test="ks" if kind is FeatureKind.NUMERIC else "chi2",
                statistic=effect,
                p_value=p,
                p_adjusted=min(1.0, p * 3),
                effect_name="wasserstein" if kind is FeatureKind.NUMERIC else "jensen_shannon",
                effect=effect,
                threshold=0.1,
                n_ref=1000,
                n_live=1000,
                missing_ref=0.0,
                missing_live=0.01,
                detail="synthetic row for the report benchmark",
            )
        )
    return tuple(rows)


def build_registry(
    path: Path,
    n_features: int = 100,
    n_checks: int = 50,
    rows: int = 5000,
    seed: int = 0,
    distinct: int | None = None,
) -> str:
    """A registry with one model ``bench`` and ``n_checks`` checks; returns the model name.

    ``distinct`` (default: every check) is how many checks get their own data; the others reuse
    those summaries in turn, which have the same size (a test's shortcut, not the bench's).
    """
    rng = np.random.default_rng(seed)
    distinct = n_checks if distinct is None else max(1, min(distinct, n_checks))
    data = []
    for step in range(distinct):
        ref, live, kinds = frames(n_features, rows, shift=step / distinct, seed=seed + step)
        data.append((kinds, summarize(ref, live, kinds)))
    registry = Registry.open(path)
    try:
        registry.ensure_model("bench")
        for step in range(n_checks):
            kinds, summaries = data[step % distinct]
            features = feature_rows(kinds, step, rng)
            drifted = tuple(f.feature for f in features if f.state is FeatureState.DRIFT)
            share = len(drifted) / len(features)
            report = DriftReport(
                verdict=Verdict.DRIFT if share >= 0.25 else Verdict.OK,
                features=features,
                drifted_share=share,
                share_threshold=0.25,
                correction="bh",
                alpha=0.05,
                n_ref=rows,
                n_live=rows,
                reason=f"{len(drifted)} of {len(features)} features drifted",
            )
            now = START + timedelta(days=step)
            run_id = registry.start_run("bench", "check", now)
            registry.record_check(
                run_id,
                "bench",
                report,
                breached=report.verdict is Verdict.DRIFT,
                reference_sha256="0" * 64,
                summaries=summaries,
            )
            registry.finish_run(run_id, str(report.verdict), verdict=str(report.verdict))
    finally:
        registry.close()
    return "bench"


def load_seconds(html: Path, n_plots: int, runs: int = 5) -> list[float]:
    """Seconds from navigation to the load event with ``n_plots`` distribution SVGs present,
    one fresh page per run; raises on any console or page error."""
    from playwright.sync_api import sync_playwright

    out: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        errors: list[str] = []
        try:
            for _ in range(runs):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                start = time.perf_counter()
                page.goto(html.resolve().as_uri(), wait_until="load")
                page.wait_for_function(
                    f"document.querySelectorAll('figure.dist svg').length === {n_plots}"
                )
                out.append(time.perf_counter() - start)
                if errors:
                    raise RuntimeError(f"browser errors: {errors}")
                page.close()
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--checks", type=int, default=50)
    parser.add_argument("--rows", type=int, default=5000, help="rows per side of each check")
    parser.add_argument("--runs", type=int, default=5, help="page loads to time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "registry.db"
        start = time.perf_counter()
        model = build_registry(db, args.features, args.checks, args.rows)
        written = time.perf_counter() - start
        start = time.perf_counter()
        html = build(db, [model])
        built = time.perf_counter() - start
        out = Path(tmp) / "report.html"
        write_atomic(out, html)
        size = out.stat().st_size
        print(f"registry: {args.features} features x {args.checks} checks in {written:.1f} s")
        print(f"report: {size:,} bytes ({size / 2**20:.2f} MiB), built in {built:.2f} s")
        if not CHROMIUM.exists():
            print("load: skipped (no /usr/bin/chromium)")
            return 0
        times = load_seconds(out, args.features, args.runs)
        print(
            f"load in Chromium (navigation to load event, all SVGs present), {args.runs} runs: "
            f"median {statistics.median(times):.3f} s, max {max(times):.3f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
