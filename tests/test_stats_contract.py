"""Contract tests generated over every row of driftd.stats.TESTS: a new row is tested here
automatically, with no new test code."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from driftd import stats
from driftd.domain import FeatureKind, StatResult
from driftd.errors import StatsError

NUM, CAT = FeatureKind.NUMERIC, FeatureKind.CATEGORICAL
CASES = [(row, kind) for row in stats.TESTS.values() for kind in row.kinds]
IDS = [f"{row.name}-{kind}" for row, kind in CASES]
NUM_CASES = [c for c in CASES if c[1] is NUM]
NUM_IDS = [f"{row.name}-{kind}" for row, kind in NUM_CASES]
CAT_CASES = [c for c in CASES if c[1] is CAT]
CAT_IDS = [f"{row.name}-{kind}" for row, kind in CAT_CASES]


def _samples(row: stats.StatTest, kind: FeatureKind, shift: bool, seed: int = 0) -> tuple[Any, Any]:
    """A reference and a live sample valid for ``row``; ``shift`` makes them clearly differ."""
    rng = np.random.default_rng(seed)
    if kind is NUM:
        return rng.normal(size=400), rng.normal(3.0 if shift else 0.0, 1, size=300)
    if row.binary_only:
        return np.array([90, 10]), np.array([10, 90]) if shift else np.array([88, 12])
    ref = rng.multinomial(2000, [0.5, 0.3, 0.15, 0.05])
    live = rng.multinomial(1500, [0.05, 0.15, 0.3, 0.5] if shift else [0.5, 0.3, 0.15, 0.05])
    return ref, live


def _check_range(row: stats.StatTest, result: StatResult) -> None:
    assert np.isfinite(result.statistic)
    assert row.low <= result.statistic <= row.high
    if row.decide == stats.P_VALUE:
        assert result.p_value is not None and 0.0 <= result.p_value <= 1.0
    else:
        assert result.p_value is None


def test_table_rows_are_well_formed() -> None:
    """Every row names kinds, decision rule, threshold, unit, range and a documented function."""
    assert stats.TESTS, "the table is empty"
    for name, row in stats.TESTS.items():
        assert row.name == name and row.kinds and row.unit and row.summary
        assert row.decide in (stats.P_VALUE, stats.STATISTIC)
        assert row.low < row.high and row.threshold >= 0
        assert row.symmetric <= set(row.kinds)
        for fn in row.implementations.values():
            assert fn.__doc__ and ">>>" in fn.__doc__, f"{name}: no runnable example"


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_identical_samples_do_not_drift(row: stats.StatTest, kind: FeatureKind) -> None:
    """A sample compared with itself never crosses the row's default threshold."""
    ref, _ = _samples(row, kind, shift=False)
    result = row.run(kind, ref, ref)
    _check_range(row, result)
    assert not row.drifted(result)


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_large_shift_drifts(row: stats.StatTest, kind: FeatureKind) -> None:
    """A 3-SD shift (numeric) or reversed shares (categorical) crosses the default threshold."""
    ref, live = _samples(row, kind, shift=True)
    result = row.run(kind, ref, live)
    _check_range(row, result)
    assert row.drifted(result)


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_symmetric_where_declared(row: stats.StatTest, kind: FeatureKind) -> None:
    """Rows that declare symmetry for a kind give the same result with the samples swapped."""
    ref, live = _samples(row, kind, shift=False, seed=1)
    forward, backward = row.run(kind, ref, live), row.run(kind, live, ref)
    if kind in row.symmetric:
        assert backward.statistic == pytest.approx(forward.statistic, rel=1e-12, abs=1e-15)
        if forward.p_value is not None:
            assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_invariant_to_row_and_category_order(row: stats.StatTest, kind: FeatureKind) -> None:
    """Shuffling rows (numeric) or listing categories in another order (categorical) changes
    nothing."""
    ref, live = _samples(row, kind, shift=False, seed=2)
    rng = np.random.default_rng(3)
    if kind is NUM:
        shuffled = rng.permutation(ref), rng.permutation(live)
    else:
        order = rng.permutation(ref.size)
        shuffled = ref[order], live[order]
    a, b = row.run(kind, ref, live), row.run(kind, *shuffled)
    assert b.statistic == pytest.approx(a.statistic, rel=1e-12, abs=1e-15)
    if a.p_value is not None:
        assert b.p_value == pytest.approx(a.p_value, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_empty_input_is_a_stats_error(row: stats.StatTest, kind: FeatureKind) -> None:
    """An empty sample (or all-zero counts) is a clear StatsError, never a NaN."""
    ref, _ = _samples(row, kind, shift=False)
    empty = np.array([]) if kind is NUM else np.zeros_like(ref)
    for args in ((ref, empty), (empty, ref)):
        with pytest.raises(StatsError, match="empty"):
            row.run(kind, *args)


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_nan_and_inf_inputs_are_stats_errors(row: stats.StatTest, kind: FeatureKind) -> None:
    """NaN or infinite values (or negative counts) are refused with a StatsError naming them."""
    ref, live = _samples(row, kind, shift=False)
    for bad in (np.nan, np.inf, -np.inf) if kind is NUM else (np.nan, np.inf, -1):
        broken = live.astype(float)
        broken[0] = bad
        with pytest.raises(StatsError):
            row.run(kind, ref, broken)
        with pytest.raises(StatsError):
            row.run(kind, broken, ref)


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_constant_inputs_give_defined_results(row: stats.StatTest, kind: FeatureKind) -> None:
    """Constant samples (one value, or one category) give finite results: no drift when both
    hold the same constant."""
    if kind is NUM:
        same, other = np.full(50, 2.5), np.full(40, 7.0)
    else:
        same, other = np.array([50, 0]), np.array([0, 40])
    result = row.run(kind, same, same)
    _check_range(row, result)
    assert not row.drifted(result)
    _check_range(row, row.run(kind, same, other))


@pytest.mark.parametrize(("row", "kind"), NUM_CASES, ids=NUM_IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_numeric_results_finite_and_in_range(
    row: stats.StatTest, kind: FeatureKind, data: st.DataObject
) -> None:
    """Property: any finite samples (ties, outliers, tiny sizes) give a finite, in-range result."""
    floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    ref = data.draw(arrays(np.float64, st.integers(2, 60), elements=floats))
    live = data.draw(arrays(np.float64, st.integers(2, 60), elements=floats))
    _check_range(row, row.run(kind, ref, live))


@pytest.mark.parametrize(("row", "kind"), CAT_CASES, ids=CAT_IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_categorical_results_finite_and_in_range(
    row: stats.StatTest, kind: FeatureKind, data: st.DataObject
) -> None:
    """Property: any non-empty count vectors give a finite, in-range result."""
    k = 2 if row.binary_only else data.draw(st.integers(1, 12))
    counts = arrays(np.int64, k, elements=st.integers(0, 500))
    ref, live = data.draw(counts), data.draw(counts)
    ref[0] += 1
    live[-1] += 1
    _check_range(row, row.run(kind, ref, live))
