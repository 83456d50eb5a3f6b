"""One feature, before the correction across features: its test, effect and missing-value test.

Missing values are NaN/None/NaT and, in numeric columns, +/-inf (an infinity is almost always a
bug upstream, such as a division by zero; counting it as missing makes a burst of them visible as
missing-rate drift instead of poisoning the statistics). Tests see only the remaining values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftd import stats
from driftd.config import DriftConfig
from driftd.detect import thresholds
from driftd.detect.summary import (
    ColumnSummary,
    ReferenceSummary,
    categorical_column,
    numeric_tau,
    numeric_values,
)
from driftd.domain import FeatureKind, FeatureState, StatResult
from driftd.errors import DataError, StatsError

IntArray = npt.NDArray[np.int64]

SMALL_EXPECTED = 5.0  # below this expected count a binary chi-square becomes Fisher's exact test
BINNED_TESTS = frozenset({"ks"})
BINNED_EFFECTS = frozenset({"wasserstein", "psi", "jensen_shannon"})


def binnable(cfg: DriftConfig) -> bool:
    """Whether ``cfg``'s numeric test and effect can run on bucket summaries (the defaults can;
    Anderson-Darling, Cramer-von Mises and ``"auto"`` thresholds need the sorted reference).

    >>> binnable(DriftConfig()), binnable(DriftConfig(numeric_threshold="auto"))
    (True, False)
    """
    return (
        cfg.numeric_test in BINNED_TESTS
        and cfg.numeric_effect in BINNED_EFFECTS
        and cfg.numeric_threshold != "auto"
    )


@dataclass(frozen=True, slots=True, eq=False)
class Counted:
    """A live column already counted, per partition then summed (:mod:`driftd.dask`): the
    reference's buckets for a binned numeric column, category counts for a categorical one."""

    binned: stats.BinnedSample | None = None
    categories: pd.Index | None = None
    counts: IntArray | None = None
    n_missing: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class CountedWindow:
    """A live window counted per partition: its rows and each column's :class:`Counted`;
    :func:`driftd.detect.detect` takes it in place of the frame."""

    n_rows: int
    counted: Mapping[str, Counted]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.counted)

    def __getitem__(self, name: str) -> Counted:
        return self.counted[name]

    def __len__(self) -> int:
        return self.n_rows


@dataclass(frozen=True, slots=True)
class Evaluation:
    """``result`` is None when the feature could not be tested; ``fallback`` then says why."""

    feature: str
    kind: FeatureKind
    test: str
    result: StatResult | None
    effect_name: str
    effect: float | None
    threshold: float | None
    n_ref: int
    n_live: int
    missing_ref: float
    missing_live: float
    missing: StatResult | None  # two-proportion test of the missing rates; None if none missing
    new_category_mass: float = 0.0
    fallback: FeatureState = FeatureState.OK
    notes: tuple[str, ...] = ()


def evaluate(
    summary: ReferenceSummary,
    column: ColumnSummary,
    live: pd.Series | Counted,
    cfg: DriftConfig,
    seed: int,
    floor: float | None = None,
    ordered: bool = True,
) -> Evaluation:
    """Test one live column against its reference summary. ``floor`` raises the effect
    threshold (the normal variation learnt by :mod:`driftd.detect.background`); ``ordered``
    says the live rows are in time order (their autocorrelation then deflates the p-value).
    A :class:`Counted` column has no rows left to measure autocorrelation on: tau is 1."""
    numeric = column.kind is FeatureKind.NUMERIC
    pre, series = (live, None) if isinstance(live, Counted) else (None, live)
    notes: list[str] = []
    ref: stats.NumericReference | stats.BinnedReference | IntArray | None = column.numeric
    cur: stats.Sample | stats.BinnedSample | IntArray | None = None
    new_mass = 0.0
    identifier: str | None = None
    if numeric:
        values = np.zeros(0) if series is None else numeric_values(series, column.name)
        tau_live = numeric_tau(values) if cfg.dependence and ordered and pre is None else 1.0
    if numeric and column.binned is not None:
        ref = column.binned
        counted = (
            stats.BinnedSample.build(column.binned, values)
            if pre is None
            else _binned_counted(column, pre)
        )
        n_nan, n_inf, n_finite = counted.n_nan, counted.n_inf, counted.n
        cur = counted if n_finite else None
    elif numeric:
        finite, n_nan, n_inf = stats.sorted_finite(values)
        n_finite = int(finite.size)
        if finite.size and column.numeric is not None:
            cur = stats.Sample.sorted(finite, column.numeric.mean)
    if numeric:
        if n_inf:
            notes.append(f"{n_inf} infinite live value(s) counted as missing")
        n_live_missing, n_live_usable = n_nan + n_inf, n_finite
    else:
        dependent = cfg.dependence and ordered and series is not None
        categories, live_counts, n_live_missing, tau_live = (
            categorical_column(series, dependent)  # one pass: counts and the tail's codes
            if series is not None
            else (*_category_counted(column, pre), 1.0)
        )
        n_live_usable = int(live_counts.sum())
        ref, cur, new_mass = _align(column, categories, live_counts)
        if new_mass > 0:
            notes.append(f"{new_mass:.1%} of live values in categories new to the reference")
        identifier = _identifier(column)
    live_rows = n_live_missing + n_live_usable
    base = Evaluation(
        feature=column.name,
        kind=column.kind,
        test=cfg.numeric_test if numeric else cfg.categorical_test,
        result=None,
        effect_name=cfg.numeric_effect if numeric else cfg.categorical_effect,
        effect=None,
        threshold=None,
        n_ref=column.n_usable,
        n_live=n_live_usable,
        missing_ref=column.n_missing / column.n_rows if column.n_rows else 0.0,
        missing_live=n_live_missing / live_rows if live_rows else 0.0,
        missing=_missing_test(column, n_live_missing, live_rows),
        new_category_mass=new_mass,
    )
    why = _unusable(column, live_rows, n_live_usable, cfg.min_samples)
    if why is not None:
        return replace(base, fallback=why[0], notes=(why[1], *notes))
    if identifier is not None:
        return replace(base, fallback=FeatureState.INVALID, notes=(identifier, *notes))
    test = base.test
    if not numeric and test == "chi2" and _small_binary(ref, cur):  # type: ignore[arg-type]
        test = "fisher"
        notes.append("binary with small counts: Fisher's exact test instead of chi2")
    try:
        result = stats.get(test).run(column.kind, ref, cur, seed=seed)
        effect_row = stats.get(base.effect_name)
        size = effect_row.run(column.kind, ref, cur, seed=seed).statistic
        limit = _threshold(summary, column, effect_row, n_live_usable, cfg=cfg, seed=seed)
        if floor is not None and floor > limit:
            notes.append(f"threshold {floor:.3g} from normal variation (fixed {limit:.3g})")
            limit = floor
        if cfg.dependence and result.p_value is not None:
            # Both samples come from one source: under "no drift" the live rows share the
            # reference's dependence, which a short window cannot estimate well by itself
            # (at 60 rows an AR(1) rho = 0.5 window read as independent 10 % of the time).
            taus = (column.tau, max(tau_live, column.tau))
            result = _deflate(test, result, ref, cur, taus, cfg.min_samples, notes)
    except StatsError as exc:
        failed = (f"{test}/{base.effect_name}: {exc}", *notes)
        return replace(base, test=test, fallback=FeatureState.INVALID, notes=failed)
    checked = (
        ("statistic", result.statistic),
        ("p-value", result.p_value),
        ("effect", size),
        ("threshold", limit),
    )
    bad = [name for name, v in checked if v is not None and not math.isfinite(v)]
    if bad:
        nan = (f"{' and '.join(bad)} came out NaN or infinite", *notes)
        return replace(base, test=test, fallback=FeatureState.INVALID, notes=nan)
    return replace(base, test=test, result=result, effect=size, threshold=limit, notes=tuple(notes))


def _binned_counted(column: ColumnSummary, pre: Counted | None) -> stats.BinnedSample:
    if pre is None or pre.binned is None:
        raise DataError(f"column {column.name!r}: the counted live window has no bucket counts")
    return pre.binned


def _category_counted(column: ColumnSummary, pre: Counted | None) -> tuple[pd.Index, IntArray, int]:
    if pre is None or pre.categories is None or pre.counts is None:
        raise DataError(f"column {column.name!r}: the counted live window has no category counts")
    return pre.categories, pre.counts, pre.n_missing


IDENTIFIER_MIN_ROWS = 50
IDENTIFIER_DISTINCT = 0.9  # this share of distinct reference values looks like an identifier


def _identifier(column: ColumnSummary) -> str | None:
    """Why a categorical column cannot be compared, when its reference looks like an identifier:
    a test of category shares has no power on singletons, so an ID column would read ``ok``
    for ever. Judged on the reference only: a small live window of a column with many levels
    is mostly distinct values too, and stays testable."""
    assert column.counts is not None
    total = int(column.counts.sum())
    if total >= IDENTIFIER_MIN_ROWS and column.counts.size >= IDENTIFIER_DISTINCT * total:
        return (
            f"looks like an identifier ({column.counts.size:,} distinct values in {total:,} "
            "reference rows): category shares cannot drift measurably; leave it out of "
            "data.features"
        )
    return None


def _deflate(
    test: str,
    result: StatResult,
    ref: Any,
    cur: Any,
    taus: tuple[float, float],
    floor: int,
    notes: list[str],
) -> StatResult:
    """The p-value at the effective sample sizes of autocorrelated rows (KS and chi-square;
    other tests keep their independent-rows p-value and say so).

    Dependence shorter than the live window (``tau`` at most half its rows: an AR(1) with rho
    0.9 has ``tau`` 19) is noise inside the window, and the window holds only ``m / tau``
    independent rows' worth of information: the p-value is taken at that size, however small.
    Longer dependence is a season or a trend seen from inside one window: a reference that
    spans a season has a huge ``tau`` from the season itself, and dividing by it alone would
    leave the test blind even to a jump of several SDs, so there the effective size
    ``n*m/(n+m) / deff`` never drops below ``floor`` (``min_samples``); the normal-variation
    thresholds are what judge seasons. (With the floor everywhere, 60-row AR(1) windows at
    rho 0.9 raised 50 % false alarms.)
    """
    tau_ref, tau_live = taus
    if tau_ref <= 1.0 and tau_live <= 1.0:
        return result
    assert result.p_value is not None
    if test == "ks":
        n_ref, n_live = int(ref.n), int(cur.n)  # NumericReference/Sample or their binned pair
    elif test == "chi2":
        n_ref, n_live = int(np.asarray(ref).sum()), int(np.asarray(cur).sum())
    else:
        notes.append(
            f"rows are autocorrelated (tau {tau_ref:.2g} reference, {tau_live:.2g} live) but "
            f"{test}'s p-value assumes independent rows"
        )
        return result
    en = n_ref * n_live / (n_ref + n_live)
    deff = stats.design_effect(n_ref, n_live, tau_ref, tau_live)
    if max(tau_ref, tau_live) > n_live / 2:  # longer than the window: a season, not noise
        deff = min(deff, max(1.0, en / floor))
    if deff <= 1.0:
        return result
    if test == "ks":
        p = stats.deflated_ks_p(result.statistic, n_ref, n_live, deff)
    else:
        categories = int(np.count_nonzero(np.asarray(ref) + np.asarray(cur)))
        p = stats.deflated_chi2_p(result.statistic, categories, deff)
    notes.append(
        f"autocorrelated rows (tau {tau_ref:.2g} reference, {tau_live:.2g} live): p-value at "
        f"{1 / deff:.0%} of the nominal sample size"
    )
    # Never below the independent-rows p-value: dependence only removes information.
    return StatResult(result.statistic, max(result.p_value, p))


def _unusable(
    column: ColumnSummary, live_rows: int, n_live: int, min_samples: int
) -> tuple[FeatureState, str] | None:
    """Why the feature cannot be tested, or None when it can."""
    if live_rows == 0:
        return FeatureState.INSUFFICIENT, "the live window has no rows"
    if column.n_usable == 0:
        return FeatureState.INVALID, "the reference has no usable value"
    if n_live == 0:
        return FeatureState.INVALID, f"all {live_rows} live values are missing"
    fewest = min(column.n_usable, n_live)
    if fewest < min_samples:
        side = "live" if n_live <= column.n_usable else "reference"
        return (
            FeatureState.INSUFFICIENT,
            f"{fewest} usable {side} values < min_samples {min_samples}",
        )
    return None


def _missing_test(column: ColumnSummary, n_live_missing: int, live_rows: int) -> StatResult | None:
    if column.n_rows == 0 or live_rows == 0 or column.n_missing + n_live_missing == 0:
        return None
    return stats.two_proportion(column.n_missing, column.n_rows, n_live_missing, live_rows)


def _align(
    column: ColumnSummary, categories: pd.Index, live_counts: IntArray
) -> tuple[IntArray, IntArray, float]:
    """Reference and live counts over the union of categories; new ones appended at the end."""
    assert column.categories is not None and column.counts is not None
    idx = column.categories.get_indexer(categories)
    known = idx >= 0
    n_known = column.counts.size
    new = live_counts[~known]
    ref = np.concatenate((column.counts, np.zeros(new.size, dtype=np.int64)))
    cur = np.zeros(n_known + new.size, dtype=np.int64)
    cur[idx[known]] = live_counts[known]
    cur[n_known:] = new
    total = int(live_counts.sum())
    return ref, cur, float(new.sum() / total) if total else 0.0


def _small_binary(ref: IntArray, cur: IntArray) -> bool:
    seen = (ref + cur) > 0
    if int(np.count_nonzero(seen)) != 2:
        return False
    cols = (ref + cur)[seen]
    rows = np.array([ref.sum(), cur.sum()], dtype=np.float64)
    return bool((np.outer(rows, cols) / rows.sum()).min() < SMALL_EXPECTED)


def _threshold(
    summary: ReferenceSummary,
    column: ColumnSummary,
    effect: stats.StatTest,
    n_live: int,
    *,
    cfg: DriftConfig,
    seed: int,
) -> float:
    numeric = column.kind is FeatureKind.NUMERIC
    setting = cfg.numeric_threshold if numeric else cfg.categorical_threshold
    if setting == "auto":
        return thresholds.auto_threshold(
            summary, column, effect, n_live, quantile=cfg.auto_quantile, seed=seed
        )
    return float(setting)
