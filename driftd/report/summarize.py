"""A compact, bounded picture of each feature on both sides of a check, for plots without data.

Numbers: a histogram of both sides on the same :data:`MAX_BINS` edges, spread between the
pooled 0.5 % and 99.5 % quantiles (the outer bins also count the tails, whose extremes are kept
as ``min`` and ``max``), plus the quantiles in :data:`QUANTILES`, the mean and the missing count.
Categories: the :data:`MAX_LEVELS` levels with the most pooled mass, counted per side, with the
rest as ``other``. The size is fixed by these constants, never by the number of rows: a window of
a million rows stores what a window of a thousand does (about 1.5 KB of JSON a feature).

>>> import pandas as pd
>>> from driftd.domain import FeatureKind
>>> s = summarize(pd.DataFrame({"x": [1.0, 2.0, None]}), pd.DataFrame({"x": [2.0, 3.0]}),
...               {"x": FeatureKind.NUMERIC})["x"]
>>> s["kind"], s["reference"]["n"], s["reference"]["missing"], sum(s["live"]["counts"])
('numeric', 3, 1, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from driftd.domain import FeatureKind

MAX_BINS = 64  # a histogram reads as a shape at 64 bins; 200 plots of them stay under 1 MB
MAX_LEVELS = 30  # more bars than fit a small chart; the rest is one "other" bar
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_TAIL = 0.005  # edges span the pooled 0.5 %..99.5 % quantiles, so one outlier cannot flatten it
# Histogram and quantiles of a bigger side come from this many of its values, drawn with a fixed
# seed: a plot cannot show the difference (the quantiles' standard error is under 0.5 % of the
# spread), and a million-row side then costs what 100,000 rows do instead of ~10x more. n,
# missing, mean, min and max stay exact.
MAX_VALUES = 100_000
SIDES = ("reference", "live")


def summarize(
    reference: pd.DataFrame, live: pd.DataFrame, kinds: Mapping[str, FeatureKind]
) -> dict[str, dict[str, Any]]:
    """Per feature of ``kinds``, its summary (JSON-ready: plain lists, floats and ints)."""
    out: dict[str, dict[str, Any]] = {}
    for name, kind in kinds.items():
        if kind is FeatureKind.NUMERIC:
            out[name] = numeric(reference[name], live[name])
        else:
            out[name] = categorical(reference[name], live[name])
    return out


def _round(value: float) -> float:
    """Six significant digits: what a plot can show, and half the JSON of a full float."""
    return float(f"{value:.6g}")


def numeric(reference: pd.Series, live: pd.Series) -> dict[str, Any]:
    """Histogram on shared edges, quantiles and moments of one numeric feature."""
    exact = {name: _finite(s) for name, s in zip(SIDES, (reference, live), strict=True)}
    sides = {name: _sample(values) for name, values in exact.items()}
    pooled = np.concatenate(list(sides.values()))
    summary: dict[str, Any] = {"kind": str(FeatureKind.NUMERIC), "edges": []}
    if pooled.size:
        lo, hi = (float(q) for q in np.quantile(pooled, [_TAIL, 1 - _TAIL]))
        if np.all(np.mod(pooled, 1) == 0) and np.ceil(hi) - np.floor(lo) < MAX_BINS:
            # Counts, codes, ages in years: one bar per integer, not 64 slivers with gaps.
            edges = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.0, 1.0)
        else:
            if not hi > lo:  # (nearly) constant: widen to the full range, or one unit about it
                lo, hi = float(pooled.min()), float(pooled.max())
                if not hi > lo:
                    lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, MAX_BINS + 1)
        summary["edges"] = [_round(e) for e in edges]
    for name, series in zip(SIDES, (reference, live), strict=True):
        values, full = sides[name], exact[name]
        side: dict[str, Any] = {"n": len(series), "missing": int(len(series) - full.size)}
        if values.size and summary["edges"]:
            edges = np.asarray(summary["edges"], dtype=float)
            clipped = np.clip(values, edges[0], edges[-1])
            side["counts"] = [int(c) for c in np.histogram(clipped, bins=edges)[0]]
            side["quantiles"] = [_round(q) for q in np.quantile(values, QUANTILES)]
            side["mean"] = _round(float(full.mean()))
            side["min"], side["max"] = _round(full.min()), _round(full.max())
            if values.size < full.size:
                side["sampled"] = int(values.size)
        else:
            side["counts"] = [0] * max(0, len(summary["edges"]) - 1)
        summary[name] = side
    summary["quantile_levels"] = list(QUANTILES)
    return summary


def _sample(values: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_VALUES` of ``values``, the same ones for the same input."""
    if values.size <= MAX_VALUES:
        return values
    picked: np.ndarray = values[np.random.default_rng(0).integers(0, values.size, MAX_VALUES)]
    return picked


def _finite(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite: np.ndarray = values[np.isfinite(values)]
    return finite


def categorical(reference: pd.Series, live: pd.Series) -> dict[str, Any]:
    """Counts of the top pooled levels per side, the rest as ``other``."""
    counts = {name: _counts(s) for name, s in zip(SIDES, (reference, live), strict=True)}
    pooled = counts["reference"].add(counts["live"], fill_value=0)
    # Most mass first; ties by label, so the same data always gives the same summary.
    ranked = sorted(pooled.items(), key=lambda kv: (-float(kv[1]), str(kv[0])))
    levels = [str(level) for level, _ in ranked[:MAX_LEVELS]]
    summary: dict[str, Any] = {"kind": str(FeatureKind.CATEGORICAL), "levels": levels}
    for name, series in zip(SIDES, (reference, live), strict=True):
        c = counts[name]
        kept = [int(c.get(level, 0)) for level in levels]
        present = int(c.sum())
        summary[name] = {
            "n": len(series),
            "missing": int(len(series) - present),
            "counts": kept,
            "other": present - sum(kept),
        }
    return summary


def _counts(series: pd.Series) -> pd.Series:
    """Rows per level, by the level's shown label (counted first: labels are made per level,
    not per row, so a million rows cost one ``value_counts``)."""
    counts = series.value_counts(dropna=True)
    counts.index = counts.index.map(_label)
    return counts.groupby(level=0).sum()


def _label(value: Any) -> str:
    # Labels are shown, never parsed back: a level's text, capped like any shown value.
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."
