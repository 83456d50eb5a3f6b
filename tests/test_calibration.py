"""Without drift, driftd alarms at most about alpha of the time, at every size in the grid.

The grid is n_ref in {200, 5k, 100k} x n_live in {30, 1k, 100k} x {numeric, categorical with 10
levels, categorical with 1000 levels}, four features per dataset, fresh seeded data for every
repetition (bench/calibration.py runs the same grid with hundreds of repetitions).

With few repetitions a rate cannot be pinned down, so each assertion is a binomial bound: the
observed count of alarms must not exceed the 99.9 % quantile of Binomial(n, alpha + 0.02). A
correctly calibrated check passes with probability > 0.999; a check that alarms at, say, 15 %
(a goodness-of-fit chi-square alarms at 46-100 % in this grid) fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from driftd import detect
from driftd.config import DriftConfig
from driftd.domain import FeatureKind, Verdict

ALPHA = 0.05
TOLERANCE = 0.02
FEATURES = 4
REPS = 10  # per cell; 270 datasets and 1 080 features over the grid
KINDS = ("numeric", "cat10", "cat1000")
GRID = [(k, r, lv) for k in KINDS for r in (200, 5_000, 100_000) for lv in (30, 1_000, 100_000)]


def _draw(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "numeric":
        return rng.normal(size=n)
    levels = 10 if kind == "cat10" else 1000
    weights = 1.0 / np.arange(1, levels + 1) ** 0.8  # Zipf-like: many rare levels
    return rng.choice(levels, size=n, p=weights / weights.sum())


def _cell(kind: str, n_ref: int, n_live: int, seed: int) -> tuple[int, int, int]:
    """(dataset alarms with defaults, dataset alarms on significance alone, feature alarms of
    the raw test) over REPS no-drift repetitions of one cell."""
    rng = np.random.default_rng(seed)
    fk = FeatureKind.NUMERIC if kind == "numeric" else FeatureKind.CATEGORICAL
    kinds = {f"f{i}": fk for i in range(FEATURES)}
    cfg = DriftConfig(alpha=ALPHA)
    default = significant_only = raw = 0
    for rep in range(REPS):
        ref = pd.DataFrame({name: _draw(rng, kind, n_ref) for name in kinds})
        live = pd.DataFrame({name: _draw(rng, kind, n_live) for name in kinds})
        summary = detect.summarize(ref, kinds, binned=detect.binnable(cfg))  # as the cycle does
        report = detect.detect(summary, live, cfg, seed=rep)
        default += report.verdict is Verdict.DRIFT
        hits = sum(f.p_adjusted is not None and f.p_adjusted <= ALPHA for f in report.features)
        significant_only += hits / FEATURES >= cfg.share
        raw += sum(f.p_value is not None and f.p_value <= ALPHA for f in report.features)
    return default, significant_only, raw


def _bound(n: int) -> float:
    return float(sps.binom.ppf(0.999, n, ALPHA + TOLERANCE))


@pytest.fixture(scope="module")
def grid() -> dict[tuple[str, int, int], tuple[int, int, int]]:
    return {cell: _cell(*cell, seed=100 + i) for i, cell in enumerate(GRID)}


def test_dataset_false_alarms_stay_within_alpha_plus_tolerance(
    grid: dict[tuple[str, int, int], tuple[int, int, int]],
) -> None:
    """Default config: pooled over the grid, and per data kind, alarms stay under the bound."""
    total = sum(v[0] for v in grid.values())
    assert total <= _bound(len(GRID) * REPS), f"{total} alarms in {len(GRID) * REPS} datasets"
    for kind in KINDS:
        alarms = sum(v[0] for c, v in grid.items() if c[0] == kind)
        assert alarms <= _bound(9 * REPS), f"{kind}: {alarms} alarms in {9 * REPS} datasets"


def test_significance_alone_is_calibrated(
    grid: dict[tuple[str, int, int], tuple[int, int, int]],
) -> None:
    """With materiality switched off (what BH across features controls) alarms still stay under
    the bound: the effect threshold does not hide a miscalibrated test."""
    total = sum(v[1] for v in grid.values())
    assert total <= _bound(len(GRID) * REPS)
    for cell, (_, significant, _) in grid.items():
        assert significant <= _bound(REPS), f"{cell}: {significant}/{REPS}"


def test_each_raw_test_rejects_about_alpha_of_null_features(
    grid: dict[tuple[str, int, int], tuple[int, int, int]],
) -> None:
    """Per feature, before any correction, KS / chi-square / Fisher reject at most ~alpha."""
    for kind in KINDS:
        rejected = sum(v[2] for c, v in grid.items() if c[0] == kind)
        n = 9 * REPS * FEATURES
        assert rejected <= _bound(n), f"{kind}: {rejected}/{n} features"
