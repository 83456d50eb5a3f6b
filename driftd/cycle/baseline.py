"""What a live window is judged against: the reference, and how much the data normally moves.

The cycle's side of :mod:`driftd.detect.background`: it reads the past windows of the live
window's length from the live source (before the live window) or, when the source does not reach
back far enough, from the reference's own timestamps; with ``seasonal_period`` it reads the same
span one period earlier, which then also replaces the reference for the comparison itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from driftd import detect, sources
from driftd.config import DriftConfig, ModelConfig
from driftd.domain import FeatureKind
from driftd.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from driftd.cycle.cache import SummaryCache


@dataclass(frozen=True, slots=True)
class Baseline:
    summary: detect.ReferenceSummary  # what the live window is compared with
    background: detect.Background | None  # None: fixed thresholds by configuration


def baseline(
    model: ModelConfig,
    reference: pd.DataFrame,
    summary: detect.ReferenceSummary,
    kinds: dict[str, FeatureKind],
    now: datetime,
    cache: SummaryCache,
    seed: int = 0,
) -> Baseline:
    """The comparison's reference and background for the live window ending at ``now``."""
    drift, data = model.drift, model.data
    if drift.baseline != "background":
        return Baseline(summary, None)
    features = list(kinds)
    key = f"{summary.fingerprint}:{','.join(features)}:{data.window}:{now.isoformat()}"
    period = drift.seasonal_period
    if period is not None:
        seasonal = cache.other(
            f"seasonal:{key}", lambda: _seasonal(model, kinds, now, period, seed)
        )
        if seasonal is not None:
            return seasonal
    return Baseline(summary, _background(model, reference, summary, kinds, now, cache, seed))


def _background(
    model: ModelConfig,
    reference: pd.DataFrame,
    summary: detect.ReferenceSummary,
    kinds: dict[str, FeatureKind],
    now: datetime,
    cache: SummaryCache,
    seed: int,
) -> detect.Background:
    drift, data = model.drift, model.data
    end = now - data.window
    frame = _history(model, list(kinds), end)
    windows, keys = _windows(frame, data.timestamp, end, data.window, drift)
    keys = [f"{data.live.path}:{k}" for k in keys]
    start = _earliest(reference, data.timestamp)
    versus = [start is None or len(w) == 0 or _latest(w[data.timestamp]) > start for w in windows]
    learnt = detect.learn(
        summary,
        windows,
        drift,
        kinds,
        seed,
        keys=keys,
        memo=cache.other,
        versus_reference=versus,
    )
    if learnt.thresholds or data.timestamp not in reference.columns:
        return learnt
    # A young source (the first checks after start-up): the reference's own time span.
    times = sources.window(reference, data.timestamp, None, now)[data.timestamp]
    if len(times) == 0:
        return learnt
    last = _latest(times)
    own, _ = _windows(reference, data.timestamp, last, data.window, drift)
    from_reference = detect.learn(summary, own, drift, kinds, seed)
    return from_reference if from_reference.thresholds else learnt


def _seasonal(
    model: ModelConfig,
    kinds: dict[str, FeatureKind],
    now: datetime,
    period: timedelta,
    seed: int,
) -> Baseline | None:
    """The span one period earlier as the reference, and (earlier span, window) pairs as the
    background; None when the source does not reach back a period."""
    drift, data = model.drift, model.data
    k, w = drift.background_windows, data.window
    frame = _history(model, list(kinds), now - w, start=now - period - w * (k + 1))
    earlier = sources.window(frame, data.timestamp, now - period - w, now - period)
    if len(earlier) < drift.min_samples:
        return None
    binned = detect.binnable(drift)
    summary = detect.summarize(earlier[list(kinds)], kinds, binned=binned)
    pairs = []
    for j in range(k, 0, -1):
        end = now - w * j
        window = sources.window(frame, data.timestamp, end - w, end)
        before = sources.window(frame, data.timestamp, end - period - w, end - period)
        pairs.append((before, window))
    background = detect.learn_seasonal(pairs, drift, kinds, seed)
    label = f"the same span one period ({_show(period)}) earlier"
    note = f"compared with {label}; {background.note}"
    return Baseline(summary, replace(background, note=note))


def _history(
    model: ModelConfig, columns: list[str], end: datetime, start: datetime | None = None
) -> pd.DataFrame:
    data, drift = model.data, model.drift
    if start is None:
        start = end - data.window * drift.background_windows
    try:
        frame = sources.read(data.live, columns, timestamp=data.timestamp, label="history")
    except DataError:
        # Judged without a background then (the note says so); the live window's own read
        # reports a broken source as the cycle's error.
        return _empty(columns, data.timestamp)
    return sources.window(frame, data.timestamp, start, end)


def _windows(
    frame: pd.DataFrame,
    timestamp: str,
    end: datetime,
    length: timedelta,
    drift: DriftConfig,
) -> tuple[list[pd.DataFrame], list[str]]:
    """Consecutive windows of ``length`` ending at ``end``, oldest first, and their bounds."""
    out, keys = [], []
    for j in range(drift.background_windows, 0, -1):
        stop = end - length * (j - 1)
        out.append(sources.window(frame, timestamp, stop - length, stop))
        keys.append(f"{(stop - length).isoformat()}/{stop.isoformat()}")
    return out, keys


def _earliest(frame: pd.DataFrame, timestamp: str) -> datetime | None:
    """When the reference's rows begin, if it has timestamps."""
    import pandas as pd

    if timestamp not in frame.columns or len(frame) == 0:
        return None
    try:
        stamp = pd.to_datetime(frame[timestamp], utc=True).min()
    except (TypeError, ValueError):
        return None
    return None if pd.isna(stamp) else datetime.fromisoformat(stamp.isoformat())


def _latest(times: pd.Series) -> datetime:
    import pandas as pd

    stamp = pd.to_datetime(times, utc=True).max()
    return datetime.fromisoformat(stamp.isoformat())


def _empty(columns: list[str], timestamp: str) -> pd.DataFrame:
    import pandas as pd

    empty = {c: pd.Series([], dtype="float64") for c in columns}
    return pd.DataFrame({timestamp: pd.Series([], dtype="datetime64[ns, UTC]"), **empty})


def _show(period: timedelta) -> str:
    days = period / timedelta(days=1)
    return f"{days:g}d" if days >= 1 else str(period)
