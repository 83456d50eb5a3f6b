"""What a live window is judged against: the reference, and how much the data normally moves.

The cycle's side of :mod:`driftd.detect.background`: it reads the past windows of the live
window's length from the live source (before the live window) or, when the source does not reach
back far enough, from the reference's own timestamps; with ``seasonal_period`` it reads the same
span one period earlier, which then also replaces the reference for the comparison itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from driftd import detect, sources
from driftd.config import DriftConfig, ModelConfig
from driftd.cycle.data import Reference
from driftd.domain import FeatureKind
from driftd.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from driftd.cycle.cache import SummaryCache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)  # pandas' nanosecond timestamps start in 1677
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Baseline:
    summary: detect.ReferenceSummary  # what the live window is compared with
    background: detect.Background | None  # None: fixed thresholds by configuration


def baseline(
    model: ModelConfig,
    reference: Reference,
    source_rows: pd.DataFrame,
    summary: detect.ReferenceSummary,
    kinds: dict[str, FeatureKind],
    now: datetime,
    cache: SummaryCache,
    seed: int = 0,
) -> Baseline:
    """The comparison's reference and background for the live window ending at ``now``;
    ``source_rows`` are the live source's rows (parsed and in time order), read once by the
    cycle."""
    drift, data = model.drift, model.data
    if drift.baseline != "background":
        return Baseline(summary, None)
    period = drift.seasonal_period
    if period is not None:
        # Not cached: the key would hold ``now``, and each entry a whole summary.
        seasonal = _seasonal(model, source_rows, kinds, now, period, seed)
        if seasonal is not None:
            return seasonal
    span = cache.other(
        f"span:{reference.sha256}:{data.timestamp}",
        lambda: _span(reference.frame, data.timestamp),
    )
    background = _background(
        model, reference.frame, source_rows, span, summary, kinds, now, cache, seed
    )
    return Baseline(summary, background)


def horizon(model: ModelConfig, now: datetime) -> None:
    """DataError when the windows this cycle may read reach before what timestamps can hold
    (1678): the live window and its background, the training window with the holdout."""
    drift, data = model.drift, model.data

    def background() -> timedelta:
        return data.window * (drift.background_windows + 2) + (drift.seasonal_period or _ZERO)

    def training() -> timedelta:
        return model.training.window + model.promotion.holdout + data.label_delay

    spans: dict[str, Callable[[], timedelta]] = {
        "data.window x (drift.background_windows + 2)": background,
        "training.window + promotion.holdout + data.label_delay": training,
    }
    for what, span in spans.items():
        try:
            earliest = now - span()
        except OverflowError:  # the span itself, or now minus it, leaves datetime's range
            earliest = datetime.min.replace(tzinfo=UTC)
        if earliest < _EARLIEST:
            raise DataError(
                f"{what} reaches before {_EARLIEST:%Y-%m-%d} from {now:%Y-%m-%d}: shorten it"
            )


def time_ordered(frame: pd.DataFrame, timestamp: str) -> pd.DataFrame | None:
    """``frame`` in time order with its timestamps parsed, or None when it has no usable ones."""
    if timestamp not in frame.columns:
        return None
    try:
        return sources.by_time(frame, timestamp, "reference")
    except DataError:
        return None


def _span(frame: pd.DataFrame, timestamp: str) -> tuple[datetime, datetime] | None:
    """First and last time of the reference's rows, if it has usable timestamps."""
    timed = time_ordered(frame, timestamp)
    if timed is None or len(timed) == 0:
        return None
    times = timed[timestamp]
    return times.iloc[0].to_pydatetime(), times.iloc[-1].to_pydatetime()


def _align(moment: datetime, length: timedelta) -> datetime:
    """``moment`` rounded down to a multiple of ``length`` since 1970: past windows on one grid
    from check to check, so each is compared once and remembered (a daemon's ``now`` carries
    microseconds)."""
    steps = (moment - _EPOCH) // length
    return _EPOCH + steps * length


def _background(
    model: ModelConfig,
    reference: pd.DataFrame,
    source_rows: pd.DataFrame,
    span: tuple[datetime, datetime] | None,
    summary: detect.ReferenceSummary,
    kinds: dict[str, FeatureKind],
    now: datetime,
    cache: SummaryCache,
    seed: int,
) -> detect.Background:
    drift, data = model.drift, model.data
    end = _align(now - data.window, data.window)
    frame = _history(model, source_rows, list(kinds), end)
    windows, keys = _windows(frame, data.timestamp, end, data.window, drift)
    keys = [f"{data.live.path}:{k}" for k in keys]
    versus = [_in_era(w, data.timestamp, span, data.window) for w in windows]
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
    if learnt.thresholds or span is None:
        return learnt
    # A young source (the first checks after start-up): the reference's own time span.
    timed = time_ordered(reference, data.timestamp)
    if timed is None:
        return learnt
    own, own_keys = _windows(timed, data.timestamp, span[1], data.window, drift)
    own_keys = [f"reference:{k}" for k in own_keys]
    from_reference = detect.learn(summary, own, drift, kinds, seed, keys=own_keys, memo=cache.other)
    return from_reference if from_reference.thresholds else learnt


def _in_era(
    window: pd.DataFrame,
    timestamp: str,
    span: tuple[datetime, datetime] | None,
    length: timedelta,
) -> bool:
    """Whether a past window lies in the reference's own era (then it is compared with the
    reference too). A drift that outlives the reference's era is never learnt as normal:
    after it only window-vs-window pairs count, and a change shows in one pair."""
    if span is None or len(window) == 0:
        return True
    times = window[timestamp]
    first, last = times.iloc[0].to_pydatetime(), times.iloc[-1].to_pydatetime()
    return bool(last > span[0] and first <= span[1] + length)


def _seasonal(
    model: ModelConfig,
    source_rows: pd.DataFrame,
    kinds: dict[str, FeatureKind],
    now: datetime,
    period: timedelta,
    seed: int,
) -> Baseline | None:
    """The span one period earlier as the reference, and (earlier span, window) pairs as the
    background; None when the source does not reach back a period."""
    drift, data = model.drift, model.data
    k, w = drift.background_windows, data.window
    frame = _history(model, source_rows, list(kinds), now - w, start=now - period - w * (k + 1))
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
    model: ModelConfig,
    source_rows: pd.DataFrame,
    columns: list[str],
    end: datetime,
    start: datetime | None = None,
) -> pd.DataFrame:
    data, drift = model.data, model.drift
    if start is None:
        start = end - data.window * drift.background_windows
    return sources.window(source_rows[[data.timestamp, *columns]], data.timestamp, start, end)


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


def _show(period: timedelta) -> str:
    days = period / timedelta(days=1)
    return f"{days:g}d" if days >= 1 else str(period)
