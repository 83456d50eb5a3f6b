"""The fast paths of issue 14 give what the plain computations give (bench/drift_bench.py times
them): plain strings hashed chunk by chunk, and the binned reference's cached cumulative counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftd import stats
from driftd.detect import summary
from driftd.stats import binned

ROWS = 3 * summary.STRING_CHUNK + 1_234  # four chunks, the last one short


def _whole(column: pd.Series) -> tuple[pd.Index, np.ndarray, int, float]:
    """One pd.factorize of the whole column: what categorical_column gave before chunking."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    tally = np.bincount(codes + 1, minlength=len(uniques) + 1)
    tail = codes[-stats.dependence.MAX_ROWS :]
    return pd.Index(uniques), tally[1:], int(tally[0]), stats.indicator_time(tail[tail >= 0])


def _strings(rng: np.random.Generator, levels: int, size: int = ROWS) -> np.ndarray:
    names = np.array([f"level_{i:05d}" for i in range(levels)], dtype=object)
    return names[rng.integers(0, levels, size)]


def _columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(14)
    missing = _strings(rng, 300)
    missing[rng.random(ROWS) < 0.05] = None
    empty_chunk = _strings(rng, 300)
    empty_chunk[summary.STRING_CHUNK : 2 * summary.STRING_CHUNK] = np.nan  # no value at all
    mixed = _strings(rng, 50)
    mixed[::7], mixed[::11], mixed[5] = 1, 2.5, True  # 1 and True are one value to pandas
    late = _strings(rng, 3)
    late[-summary.STRING_CHUNK // 2 :] = _strings(rng, 2_000, summary.STRING_CHUNK // 2)
    runs = np.repeat(_strings(rng, 40, ROWS // 1_000 + 1), 1_000)[:ROWS]  # autocorrelated tail
    many = np.array([f"id{i}" for i in range(ROWS)], dtype=object)  # one factorize instead
    return {
        "missing": missing,
        "empty_chunk": empty_chunk,
        "mixed": mixed,
        "late_levels": late,
        "runs": runs,
        "many_levels": many,
        "short": _strings(rng, 30, 5_000),
    }


@pytest.mark.parametrize("name", list(_columns()))
def test_strings_hashed_by_chunk_equal_one_factorize(name: str) -> None:
    """Categories in order of first appearance (and their dtype), counts, missing count and the
    tail's autocorrelation time are exactly those of one pd.factorize of the whole column,
    whatever the chunks hold: missing values, a chunk with none, mixed types, levels first seen
    in the last chunk, long runs, or too many levels to merge."""
    column = pd.Series(_columns()[name], dtype=object)
    categories, counts, n_missing, tau = summary.categorical_column(column, ordered=True)
    want = _whole(column)
    assert categories.dtype == want[0].dtype
    assert categories.tolist() == want[0].tolist()
    np.testing.assert_array_equal(counts, want[1])
    assert counts.dtype == np.int64
    assert (n_missing, tau) == (want[2], want[3])


@pytest.mark.parametrize("name", ["missing", "empty_chunk", "late_levels", "runs", "short"])
def test_pandas_strings_counted_as_value_counts_counts_them(name: str) -> None:
    """pandas' string dtype (Arrow-backed: what read_csv gives on pandas 3) takes one factorize
    for counts and the tail's codes when the column is short ("short": 5,000 rows), and
    value_counts plus a factorize of the tail when it is long; either way the categories, in
    the same order and dtype, counts and missing values are those value_counts gives, and the
    tail's autocorrelation time that of a separate factorize of the tail."""
    column = pd.Series(_columns()[name], dtype=object).astype("str")
    assert isinstance(column.dtype, pd.StringDtype)
    categories, counts, n_missing, tau = summary.categorical_column(column, ordered=True)
    counted = column.value_counts(dropna=True, sort=False)
    assert categories.dtype == counted.index.dtype
    assert categories.tolist() == counted.index.tolist()
    np.testing.assert_array_equal(counts, counted.to_numpy())
    assert counts.dtype == np.int64
    assert n_missing == int(column.isna().sum()) and n_missing == len(column) - counts.sum()
    assert tau == summary.categorical_tau(column)


def test_chunking_is_used_for_few_levels_and_declined_for_many() -> None:
    """The chunked path runs for a long column of few levels (else the test above would not
    test it) and gives way to one factorize for a short column or one of many levels."""
    columns = _columns()
    assert summary._chunked_factorize(columns["missing"]) is not None
    assert summary._chunked_factorize(columns["late_levels"]) is not None
    assert summary._chunked_factorize(columns["short"]) is None
    assert summary._chunked_factorize(columns["many_levels"]) is None


def test_cached_reference_cumulative_serves_every_window_alike() -> None:
    """The reference's cumulative counts, computed once and shared by every check, are
    read-only, and two different windows checked in turn against one reference get the KS
    statistic, Wasserstein distance and decile counts a fresh reference gives each."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=150_000)
    shared = binned.BinnedReference.build(values)
    assert shared is not None
    cum, share = shared.cumulative()
    np.testing.assert_array_equal(cum, binned._cumulative(shared.counts))
    np.testing.assert_array_equal(share, cum * (1.0 / shared.n))  # as _gaps computed it
    assert not cum.flags.writeable and not share.flags.writeable
    for shift in (0.0, 0.3):
        live = rng.normal(shift, 1.0, size=40_000)
        fresh = binned.BinnedReference.build(values)
        assert fresh is not None
        a = binned.BinnedSample.build(shared, live)
        b = binned.BinnedSample.build(fresh, live)
        assert binned.ks_statistic(shared, a) == binned.ks_statistic(fresh, b)
        assert binned.wasserstein_raw(shared, a) == binned.wasserstein_raw(fresh, b)
        for x, y in zip(
            binned.decile_counts(shared, a), binned.decile_counts(fresh, b), strict=True
        ):
            np.testing.assert_array_equal(x, y)
