"""Materiality relative to normal variation: thresholds learnt from past windows.

A fixed threshold (0.05 reference SDs) says how much movement matters in general; it cannot
know that daily temperatures move 0.2 SDs between two months every year, or that ridership
differs by weekday mix. Real seasonal streams replayed with fixed thresholds alarmed on 94-100 %
of checks. So, where the history allows, driftd first measures how much each feature's effect
size moves between windows of the live window's length *under normal operation*:

* window vs reference: each past window compared with the reference, as the live window will be;
* window vs window: each past window compared with the one before it (numeric Wasserstein
  effects rescaled to reference SDs, so both kinds are in one unit);
* with ``seasonal_period``, instead: each past window against the same span one period earlier.

A feature's threshold is then the ``background_quantile`` of those movements, and never below
its fixed threshold: the window must move more than the data normally moves *and* more than
matters at all. With fewer than ``background_min_windows`` usable windows the fixed thresholds
stay, and the check says so.

>>> import numpy as np, pandas as pd
>>> from driftd.config import DriftConfig
>>> from driftd.detect.summary import summarize
>>> from driftd.domain import FeatureKind
>>> rng = np.random.default_rng(0)
>>> kinds = {"x": FeatureKind.NUMERIC}
>>> ref = pd.DataFrame({"x": rng.normal(size=3000)})
>>> past = [pd.DataFrame({"x": rng.normal(0.3 * np.sin(i), 1, size=300)}) for i in range(12)]
>>> bg = learn(summarize(ref, kinds), past, DriftConfig(), kinds)
>>> bg.windows, 0.2 < bg.thresholds["x"] < 0.4
(12, True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from driftd.config import DriftConfig
from driftd.detect.summary import ColumnSummary, ReferenceSummary, summarize
from driftd.domain import FeatureKind

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Background:
    """Per-feature thresholds from normal variation; empty when the history was too short."""

    thresholds: Mapping[str, float] = field(default_factory=dict)
    windows: int = 0  # usable past windows
    pairs: int = 0  # comparisons the thresholds rest on
    note: str = ""


def learn(
    summary: ReferenceSummary,
    windows: Sequence[pd.DataFrame],
    cfg: DriftConfig,
    kinds: Mapping[str, FeatureKind],
    seed: int = 0,
) -> Background:
    """Thresholds from ``windows`` (consecutive past windows, oldest first) against ``summary``
    and against each other."""
    usable = [w for w in windows if len(w) >= cfg.min_samples]
    if len(usable) < cfg.background_min_windows:
        return _short(len(usable), cfg)
    effects: dict[str, list[float]] = {name: [] for name in summary.columns}
    plain = _effects_only(cfg)
    for window in usable:
        _collect(effects, summary, window, plain, seed, scale=None)
    binned = _binnable(plain)
    for before, after in itertools.pairwise(usable):
        own = summarize(before[list(summary.columns)], kinds, binned=binned)
        _collect(effects, own, after, plain, seed, scale=summary)
    pairs = 2 * len(usable) - 1
    return _finish(effects, summary, cfg, len(usable), pairs, "past windows")


def learn_seasonal(
    pairs: Sequence[tuple[pd.DataFrame, pd.DataFrame]],
    cfg: DriftConfig,
    kinds: Mapping[str, FeatureKind],
    seed: int = 0,
) -> Background:
    """Thresholds from (same span one period earlier, past window) pairs."""
    usable = [(a, b) for a, b in pairs if min(len(a), len(b)) >= cfg.min_samples]
    if len(usable) < cfg.background_min_windows:
        return _short(len(usable), cfg)
    plain = _effects_only(cfg)
    binned = _binnable(plain)
    effects: dict[str, list[float]] = {name: [] for name in kinds}
    for earlier, window in usable:
        own = summarize(earlier[list(kinds)], kinds, binned=binned)
        _collect(effects, own, window, plain, seed, scale=None)
    last = summarize(usable[-1][0][list(kinds)], kinds, binned=binned)
    return _finish(effects, last, cfg, len(usable), len(usable), "seasonal pairs")


def _short(usable: int, cfg: DriftConfig) -> Background:
    return Background(
        note=(
            f"fixed thresholds: {usable} usable past window(s) < background_min_windows "
            f"{cfg.background_min_windows}"
        ),
        windows=usable,
    )


def _effects_only(cfg: DriftConfig) -> DriftConfig:
    # Effects do not depend on the decision rule or the dependence correction; fixed
    # thresholds keep this from recursing into itself.
    return replace(cfg, baseline="fixed", decision="share", dependence=False)


def _binnable(cfg: DriftConfig) -> bool:
    from driftd.detect.features import binnable

    return binnable(cfg)


def _collect(
    effects: dict[str, list[float]],
    summary: ReferenceSummary,
    window: pd.DataFrame,
    cfg: DriftConfig,
    seed: int,
    scale: ReferenceSummary | None,
) -> None:
    """Append each feature's effect of ``window`` against ``summary``; with ``scale``, numeric
    Wasserstein effects are converted from ``summary``'s SDs to ``scale``'s."""
    from driftd.detect.report import detect

    report = detect(summary, window[list(summary.columns)], cfg, seed)
    for f in report.features:
        if f.effect is None or not math.isfinite(f.effect) or f.feature not in effects:
            continue
        value = f.effect
        if scale is not None and f.kind is FeatureKind.NUMERIC and f.effect_name == "wasserstein":
            own, ref = _sd(summary.columns[f.feature]), _sd(scale.columns[f.feature])
            if not (own > 0 and ref > 0):
                continue
            value = value * own / ref
        effects[f.feature].append(value)


def _sd(column: ColumnSummary) -> float:
    if column.numeric is not None:
        return float(column.numeric.sd)
    if column.binned is not None:
        return float(column.binned.sd)
    return math.nan


def _finish(
    effects: Mapping[str, list[float]],
    summary: ReferenceSummary,
    cfg: DriftConfig,
    windows: int,
    pairs: int,
    what: str,
) -> Background:
    # detect keeps the larger of this and the fixed threshold: a move must be both unusual
    # and material.
    q = cfg.background_quantile
    thresholds = {
        name: float(np.quantile(values, q, method="higher"))
        for name, values in effects.items()
        if values and name in summary.columns
    }
    note = f"thresholds from normal variation: q{q:g} of {pairs} comparisons over {windows} {what}"
    return Background(thresholds, windows, pairs, note)
