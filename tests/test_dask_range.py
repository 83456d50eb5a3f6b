"""The dask engine on live windows that leave the reference's range (issue 14.4): the merged
state holds counts per cell between reference values, not the live values, so its size does
not grow with the window; KS is the in-memory path's exactly, the effect within the stated
bound, and states and verdicts are the in-memory path's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")

from driftd import detect, stats
from driftd.config import DriftConfig
from driftd.dask import cells, compare, counts, reference
from driftd.domain import FeatureState
from driftd.stats import binned


def _frame(n: int, seed: int, shift: float = 0.0, spread: float = 1.0) -> pd.DataFrame:
    """A normal, a lognormal and an integer-valued column (moved by ``shift`` reference SDs
    and scaled by ``spread``), and a categorical one."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, spread, n),
            "y": np.exp(rng.normal(0.0, 1.0, n)) + shift * 2.2,
            "k": np.round(rng.normal(10 + 3 * shift, 3 * spread, n)),
            "plan": rng.choice(["a", "b", "c"], n),
        }
    )


def _write(frame: pd.DataFrame, directory: Path, parts: int) -> list[Path]:
    directory.mkdir(parents=True)
    paths = []
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        path = directory / f"part-{i:03d}.parquet"
        frame.iloc[chunk].to_parquet(path, index=False)
        paths.append(path)
    return paths


def _merged(paths: list[Path], plan: counts.Plan) -> counts.Partial:
    """The partitions read back from Parquet one at a time, counted and merged as the engine
    does."""
    total: counts.Partial | None = None
    for path in paths:
        part = counts.count(pd.read_parquet(path), plan)
        total = part if total is None else counts.merge(total, part)
    assert total is not None
    return total


# Wholesale beyond the maximum and below the minimum; into the upper tail (between the
# reference's tail values, where the two ECDFs cross); narrowed onto the centre.
CASES = [(25.0, 1.0), (-25.0, 1.0), (3.9, 0.05), (0.0, 0.3)]


@pytest.mark.parametrize(("shift", "spread"), CASES)
def test_out_of_range_window_matches_in_memory(tmp_path: Path, shift: float, spread: float) -> None:
    """A 120,000-row reference (bucketed alike by both engines) and a 90,000-row live window in
    6 Parquet partitions, moved wholesale out of the reference's range, into its tail, or
    narrowed: the same states and verdict as the in-memory path; per column the KS statistic
    equals the one from the live values themselves (not just within TOLERANCE), and the
    Wasserstein distance is within :func:`cells.wasserstein_bound` of it."""
    ref_frame = _frame(120_000, seed=1)
    live = _frame(90_000, seed=2, shift=shift, spread=spread)
    paths = _write(live, tmp_path / "live", 6)
    kinds = detect.infer_kinds(ref_frame, ["plan"])
    cfg = DriftConfig()
    memory = detect.compare_frames(ref_frame, live, kinds, cfg)
    on_dask = compare.compare(ref_frame, str(tmp_path / "live"), kinds, cfg, "threads")
    assert memory.verdict == on_dask.verdict
    assert on_dask.drifted
    mine = {f.feature: f for f in on_dask.features}
    for f in memory.features:
        assert (f.state, f.n_live) == (mine[f.feature].state, mine[f.feature].n_live)
    assert mine["x"].state is FeatureState.DRIFT

    summary = reference.summarize(ref_frame, kinds)
    plan = counts.plan(summary)
    total = _merged(paths, plan)
    for name in ("x", "y", "k"):
        ref, layout = plan.binned[name], plan.layouts[name]
        merged = counts.sample(total.numeric[name], ref, layout)
        whole = stats.BinnedSample.build(ref, live[name].to_numpy(np.float64))
        assert binned.ks_statistic(ref, merged) == pytest.approx(
            binned.ks_statistic(ref, whole), abs=1e-12
        )
        bound = cells.wasserstein_bound(ref, layout, total.numeric[name].cells, merged)
        exact = binned.wasserstein_raw(ref, whole)
        assert abs(binned.wasserstein_raw(ref, merged) - exact) <= bound + 1e-9 * abs(exact)
        assert bound / ref.sd <= 0.01  # the README's figure for these cases
        assert binned.decile_counts(ref, merged)[1].tolist() == (
            binned.decile_counts(ref, whole)[1].tolist()
        )


def test_small_reference_window_beyond_its_range(tmp_path: Path) -> None:
    """A 3,000-row reference (sorted by the in-memory path, bucketed by the dask engine) and a
    window 25 SDs beyond it: KS (1.0) within TOLERANCE, PSI effect, states and verdict equal."""
    ref_frame = _frame(3_000, seed=3)
    live = _frame(40_000, seed=4, shift=25.0)
    _write(live, tmp_path / "live", 4)
    kinds = detect.infer_kinds(ref_frame, ["plan"])
    cfg = DriftConfig(numeric_effect="psi")
    memory = detect.compare_frames(ref_frame, live, kinds, cfg)
    on_dask = compare.compare(ref_frame, str(tmp_path / "live"), kinds, cfg, "threads")
    assert memory.verdict == on_dask.verdict
    mine = {f.feature: f for f in on_dask.features}
    for f in memory.features:
        d = mine[f.feature]
        assert (f.state, f.n_live, f.missing_live) == (d.state, d.n_live, d.missing_live)
        if f.test == "ks":
            assert f.statistic is not None and d.statistic is not None
            assert abs(f.statistic - d.statistic) <= binned.TOLERANCE
            assert f.effect == pytest.approx(d.effect, rel=1e-9)


def test_merged_state_does_not_grow_with_out_of_range_rows(tmp_path: Path) -> None:
    """The merged state of 8,000 and of 800,000 live rows 25 SDs beyond the reference (each
    written as Parquet partitions and read back) has the same number of bytes, as has an
    undrifted window: it is set by the reference, not by the window."""
    ref_frame = _frame(20_000, seed=5)
    kinds = detect.infer_kinds(ref_frame, ["plan"])
    plan = counts.plan(reference.summarize(ref_frame, kinds))
    sizes = []
    for n, parts, shift in ((8_000, 2, 25.0), (800_000, 8, 25.0), (50_000, 2, 0.0)):
        paths = _write(_frame(n, seed=n, shift=shift), tmp_path / f"live-{n}", parts)
        total = _merged(paths, plan)
        assert total.n_rows == n
        assert all(x.n == n for x in total.numeric.values())
        sizes.append(counts.nbytes(total))
    assert sizes[0] == sizes[1] == sizes[2]
    assert sizes[1] < 800_000 * 8  # what keeping one column's values would take
