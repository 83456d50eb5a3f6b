"""What the extra checks of :mod:`driftd.extras` need from a cycle: frames, champion, history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import evaluate, extras, sources, trainer
from driftd.config import ModelConfig
from driftd.cycle.data import Reference, champion_holdout, labelled, load_champion
from driftd.errors import DriftdError
from driftd.registry.store import Registry

if TYPE_CHECKING:
    import pandas as pd


def extra_inputs(
    model: ModelConfig,
    champion: dict[str, Any] | None,
    reference: Reference,
    live: pd.DataFrame,
    features: list[str],
    now: datetime,
) -> extras.Inputs:
    """Frames for the extra checks; the champion and the other files load only when used."""
    data = model.data
    end = now - data.label_delay

    def labelled_rows() -> pd.DataFrame:
        frame = labelled(model, end - data.window, end)
        sources.require_columns(frame, features, "labelled data")
        return frame

    def prediction_reference() -> pd.DataFrame:
        if champion is not None:
            frame = champion_holdout(champion, features)
            if frame is not None and len(frame) >= model.drift.min_samples:
                return frame[features]
        return reference.frame[features]

    def holdout() -> pd.DataFrame | None:
        # With its labels: the performance estimator of driftd.estimate is fitted on it.
        return champion_holdout(champion, [*features, data.target]) if champion else None

    def load() -> Any:
        assert champion is not None
        return load_champion(model, champion)

    def reference_model() -> Any:
        # A refit trained on its holdout rows, where its outputs are over-confident: the
        # evaluated candidate (same spec and seed, not trained on them) scores the reference.
        refit_of = ((champion or {}).get("spec") or {}).get("refit_of") or {}
        path = Path(str(refit_of.get("artifact_path") or ""))
        if refit_of and path.is_file():
            return trainer.load_model(
                path,
                str(refit_of["artifact_sha256"]),
                trusted=model.training.trusted_types,
                allow_pickle=model.training.allow_pickle,
            )
        return load()  # the candidate's artifact was collected: the refit's own outputs

    metrics = (champion or {}).get("metrics") or {}
    baseline = metrics.get(model.promotion.scorer)
    return extras.Inputs(
        reference=reference.frame[features],
        live=live[features],
        champion=load if champion is not None else None,
        champion_key=f"{champion['version_id'] if champion else ''}:{reference.sha256}",
        prediction_reference=prediction_reference,
        labelled=labelled_rows,
        baseline=float(baseline) if isinstance(baseline, int | float) else None,
        reference_model=reference_model if champion is not None else None,
        holdout=holdout if champion is not None else None,
    )


def extra_history(
    registry: Registry, model: ModelConfig, scope: str, reference_sha256: str
) -> tuple[bool, ...]:
    """The last ``hysteresis_n`` breaches of one extra check against this reference."""
    n = model.drift.hysteresis_n
    return tuple(registry.recent_extra_breaches(model.name, n, scope, reference_sha256))


@dataclass(frozen=True, slots=True)
class RealisedSpread:
    """The realised-performance threshold in effect for one check, and what it rests on.

    ``threshold`` is ``policy.performance_drop`` or, where the champion's metric on past windows
    moves more than that under normal operation, the ``drift.background_quantile`` of those
    movements (None: realised performance is off).
    """

    threshold: float | None
    windows: int = 0  # past windows the champion was scored on
    spread: float | None = None  # the quantile of the movements, before the floor
    note: str = ""


def realised_spread(
    model: ModelConfig,
    champion: dict[str, Any] | None,
    features: list[str],
    now: datetime,
    memo: Memo | None = None,
) -> RealisedSpread:
    """How far the champion's realised metric normally falls between two windows.

    The champion (its registry row; None: nothing to judge) is scored on each of the
    ``drift.background_windows`` windows of ``data.window`` before the performance window that
    have ``promotion.min_holdout`` labelled rows. The realised drop compares one window's
    metric with another's (the holdout value the champion was promoted on), so its normal
    variation is that of the differences ``m_a - m_b`` over every ordered pair of past windows;
    their ``drift.background_quantile`` (taken downwards, as for drift effects) is the spread.
    The threshold is the larger of it and ``performance_drop``: the metric must fall further
    than it normally moves, and further than matters at all. With fewer than
    ``drift.background_min_windows`` scorable windows, or with ``drift.baseline = "fixed"``,
    the fixed drop stays, and the note says so.

    The windows sit on a fixed grid (multiples of ``data.window`` since 1970), so that with
    ``memo`` (the daemon's cache) each window's score is computed once per champion: a check
    scores only the windows it has not seen, and reads labelled rows only then. Without the
    grid and the memo, a check every minute re-read and re-scored all 30 windows, about half of
    a small model's check (0.25 of 0.54 s, profiled in the 200-model soak).
    """
    import numpy as np

    fixed = model.policy.performance_drop
    data, drift = model.data, model.drift
    if fixed is None or champion is None:
        return RealisedSpread(fixed)
    if drift.baseline == "fixed":
        return RealisedSpread(fixed, note="fixed performance_drop: drift.baseline = fixed")
    end = _grid(now - data.label_delay - data.window, data.window)  # before the perf. window
    ends = [end - i * data.window for i in range(drift.background_windows)]
    scorer = model.promotion.scorer
    loaded: list[Any] = []  # [rows, fitted champion], read once, only when a window is new

    def score(hi: datetime) -> float | None:
        if not loaded:
            loaded.extend((labelled(model, ends[-1] - data.window, end), None))
            loaded[1] = load_champion(model, champion)
        part = sources.window(loaded[0], data.timestamp, hi - data.window, hi)
        if len(part) < model.promotion.min_holdout:
            return None
        try:
            got = evaluate.score(loaded[1], part[features], part[data.target], [scorer])
        except DriftdError:
            return None  # one class only in that window, say: not a measurement
        return float(got[scorer]) if np.isfinite(got[scorer]) else None

    remember: Memo = memo or (lambda _key, build: build())
    try:
        # Past windows are complete (they end before the performance window starts), so a
        # window's score for one champion never changes: remembered per version and window.
        known = {
            hi: remember(
                f"realised:{model.name}:{champion['version_id']}:{scorer}:{hi}", partial(score, hi)
            )
            for hi in ends
        }
    except DriftdError as exc:  # extras reports the same failure on its own row
        return RealisedSpread(fixed, note=f"fixed performance_drop: {exc}")
    values = [v for v in (known[hi] for hi in ends) if v is not None]
    need = drift.background_min_windows
    if len(values) < need:
        note = f"fixed performance_drop: {len(values)} scorable past window(s) < {need}"
        return RealisedSpread(fixed, len(values), note=note)
    m = np.asarray(values)
    diffs = (m[:, None] - m[None, :])[~np.eye(len(m), dtype=bool)]
    spread = float(np.quantile(diffs, drift.background_quantile, method="lower"))
    threshold = max(fixed, spread)
    note = (
        f"performance threshold {threshold:.3g}: the {drift.background_quantile:g} quantile of "
        f"the champion's {model.promotion.scorer} moves over {len(values)} past windows is "
        f"{spread:.3g} (performance_drop {fixed:g})"
    )
    return RealisedSpread(threshold, len(values), spread, note)


Memo = Callable[[str, Callable[[], Any]], Any]


def _grid(at: datetime, step: timedelta) -> datetime:
    """``at`` rounded down to a multiple of ``step`` since 1970 (UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((at - epoch) // step) * step


def with_threshold(model: ModelConfig, spread: RealisedSpread) -> ModelConfig:
    """``model`` with the performance threshold in effect for this check."""
    if spread.threshold is None or spread.threshold == model.policy.performance_drop:
        return model
    return replace(model, policy=replace(model.policy, performance_drop=spread.threshold))
