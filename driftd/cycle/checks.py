"""What the extra checks of :mod:`driftd.extras` need from a cycle: frames, champion, history."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import extras, sources, trainer
from driftd.config import ModelConfig
from driftd.cycle.data import Reference, champion_holdout, labelled, load_champion
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
