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

import hashlib
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from driftd.config import DriftConfig
from driftd.detect.features import binnable, evaluate
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


Memo = Callable[[str, Callable[[], dict[str, float]]], dict[str, float]]


def learn(
    summary: ReferenceSummary,
    windows: Sequence[pd.DataFrame],
    cfg: DriftConfig,
    kinds: Mapping[str, FeatureKind],
    seed: int = 0,
    *,
    keys: Sequence[str] | None = None,
    memo: Memo | None = None,
    versus_reference: Sequence[bool] | None = None,
) -> Background:
    """Thresholds from ``windows`` (consecutive past windows, oldest first) against ``summary``
    and against each other.

    ``versus_reference`` (one flag per window) limits the window-vs-reference comparisons to
    windows of the reference's own era: right after a retrain on new data, windows from before
    it differ from the new reference by the very change that was retrained for, and would hide
    the next one. Window-vs-window pairs use every window (a change shows in one pair only).

    With ``keys`` (one stable name per window, such as its time bounds) and ``memo`` (a cache
    lookup), each comparison is computed once and reused by later checks: a daily check then
    compares one new window, not thirty.
    """
    names = list(keys) if keys is not None else [str(i) for i in range(len(windows))]
    flags = list(versus_reference) if versus_reference is not None else [True] * len(windows)
    usable = [
        (k, w, v)
        for k, w, v in zip(names, windows, flags, strict=True)
        if len(w) >= cfg.min_samples
    ]
    if len(usable) < cfg.background_min_windows:
        return _short(len(usable), cfg)
    plain = _effects_only(cfg)
    binned = binnable(plain)
    tag = f"{summary.fingerprint}:{_tag(cfg, kinds)}"
    remember = memo if memo is not None and keys is not None else _no_memo
    found: list[dict[str, float]] = []
    for key, window, versus in usable:
        if not versus:
            continue

        def against_reference(w: pd.DataFrame = window) -> dict[str, float]:
            return _effects(summary, w, plain, seed, scale=None)

        found.append(remember(f"ref:{tag}:{key}:{len(window)}", against_reference))
    for (key_a, before, _), (key_b, after, _) in itertools.pairwise(usable):

        def pair(a: pd.DataFrame = before, b: pd.DataFrame = after) -> dict[str, float]:
            own = summarize(a[list(summary.columns)], kinds, binned=binned, ordered=False)
            return _effects(own, b, plain, seed, scale=summary)

        found.append(remember(f"pair:{tag}:{key_a}:{len(before)}:{key_b}:{len(after)}", pair))
    effects = _merge(found, summary.columns)
    return _finish(effects, cfg, len(usable), len(found), "past windows")


def _no_memo(key: str, build: Callable[[], dict[str, float]]) -> dict[str, float]:
    return build()


def _merge(found: Sequence[Mapping[str, float]], names: Iterable[str]) -> dict[str, list[float]]:
    effects: dict[str, list[float]] = {name: [] for name in names}
    for one in found:
        for name, value in one.items():
            if name in effects:
                effects[name].append(value)
    return effects


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
    binned = binnable(plain)
    found = [
        _effects(
            summarize(earlier[list(kinds)], kinds, binned=binned, ordered=False),
            window,
            plain,
            seed,
            None,
        )
        for earlier, window in usable
    ]
    effects = _merge(found, kinds)
    return _finish(effects, cfg, len(usable), len(usable), "seasonal pairs")


def _short(usable: int, cfg: DriftConfig) -> Background:
    return Background(
        note=(
            f"fixed thresholds: {usable} usable past window(s) < background_min_windows "
            f"{cfg.background_min_windows}"
        ),
        windows=usable,
    )


def _effects_only(cfg: DriftConfig) -> DriftConfig:
    # Only effects are read: no dependence correction, and zero thresholds so that "auto"
    # never resamples (49 s per check with 10 features, measured) for a threshold unused here.
    return replace(
        cfg,
        baseline="fixed",
        decision="share",
        dependence=False,
        numeric_threshold=0.0,
        categorical_threshold=0.0,
    )


def _tag(cfg: DriftConfig, kinds: Mapping[str, FeatureKind]) -> str:
    """What a remembered comparison depends on besides its data: a reload or another model
    with other effects or kinds must not reuse it."""
    text = repr(
        (
            cfg.numeric_test,
            cfg.numeric_effect,
            cfg.categorical_test,
            cfg.categorical_effect,
            cfg.min_samples,
            sorted((name, str(kind)) for name, kind in kinds.items()),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _effects(
    summary: ReferenceSummary,
    window: pd.DataFrame,
    cfg: DriftConfig,
    seed: int,
    scale: ReferenceSummary | None,
) -> dict[str, float]:
    """Each feature's effect of ``window`` against ``summary``; with ``scale``, numeric
    Wasserstein effects are converted from ``summary``'s SDs to ``scale``'s."""
    out = {}
    for name, column in summary.columns.items():
        e = evaluate(summary, column, window[name], cfg, seed, ordered=False)
        if e.result is None or e.effect is None or not math.isfinite(e.effect):
            continue
        value = e.effect
        if scale is not None and e.kind is FeatureKind.NUMERIC and e.effect_name == "wasserstein":
            own, ref = _sd(column), _sd(scale.columns[name])
            if not (own > 0 and ref > 0):
                continue
            value = value * own / ref
        out[name] = value
    return out


def _sd(column: ColumnSummary) -> float:
    if column.numeric is not None:
        return float(column.numeric.sd)
    if column.binned is not None:
        return float(column.binned.sd)
    return math.nan


def _finish(
    effects: Mapping[str, list[float]],
    cfg: DriftConfig,
    windows: int,
    pairs: int,
    what: str,
) -> Background:
    # detect keeps the larger of this and the fixed threshold: a move must be both unusual
    # and material. "lower": with 15 comparisons the 0.95 quantile is the second largest, not
    # the largest, so one change in the history cannot set the bar by itself.
    q = cfg.background_quantile
    thresholds = {
        name: float(np.quantile(values, q, method="lower"))
        for name, values in effects.items()
        if values  # keys are the monitored features already (_merge)
    }
    note = f"thresholds from normal variation: q{q:g} of {pairs} comparisons over {windows} {what}"
    return Background(thresholds, windows, pairs, note)
