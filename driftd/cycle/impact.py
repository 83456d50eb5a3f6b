"""How much each feature matters to the champion: its stored permutation importances.

Computed once per version, at its first check as champion, on the holdout it was promoted on
(``holdout.parquet`` beside its artifact), and stored in the registry's ``importances`` table;
later checks read them back. A champion without a holdout (an imported or hand-promoted model)
or whose scoring fails gets no weights: every feature then counts the same, and the failure is
logged, never a failed cycle.
"""

from __future__ import annotations

from typing import Any

from driftd.config import ModelConfig
from driftd.cycle.data import champion_holdout, load_champion
from driftd.errors import DriftdError
from driftd.evaluate.importance import permutation_importance, weights
from driftd.log import event
from driftd.registry.store import Registry


def champion_weights(
    model: ModelConfig, champion: dict[str, Any] | None, registry: Registry, features: list[str]
) -> dict[str, float] | None:
    """Shares of the champion's importance per feature; None when not weighted."""
    if not model.drift.importance or champion is None:
        return None
    version = str(champion["version_id"])
    stored = registry.importances(version)
    if not stored:
        computed = _compute(model, champion, features)
        if computed is None:
            return None
        stored, n_rows = computed
        registry.record_importances(version, stored, model.promotion.scorer, n_rows)
    return weights(stored) or None


def _compute(
    model: ModelConfig, champion: dict[str, Any], features: list[str]
) -> tuple[dict[str, float], int] | None:
    try:
        holdout = champion_holdout(champion, [*features, model.data.target])
        if holdout is None:
            return None
        holdout = holdout[holdout[model.data.target].notna()]
        if len(holdout) < model.drift.min_samples:
            return None
        fitted = load_champion(model, champion)
        values = permutation_importance(
            fitted,
            holdout[features],
            holdout[model.data.target],
            model.promotion.scorer,
            seed=model.training.seed,
        )
    except DriftdError as exc:
        event("importance.unavailable", model=model.name, version=champion["version_id"], error=exc)
        return None
    return values, len(holdout)
