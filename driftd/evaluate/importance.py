"""Which features the champion relies on: permutation importance on its promotion holdout.

Drift in a feature the model ignores cannot hurt the model; drift in the feature it leans on
most can. The dataset decision weighs features by these importances
(:mod:`driftd.detect.verdict`), so a drifting but unused column is reported without retraining
by itself.

A feature's importance is the drop of ``promotion.scorer`` (higher is better) when that column's
values are shuffled across the holdout rows, averaged over ``repeats`` shuffles (Breiman 2001;
scikit-learn's ``permutation_importance`` does the same, but its scorer checks reject models
that are not scikit-learn estimators, and driftd serves any model with ``predict``). Negative
values (shuffling helped, which is noise) count as 0.

>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LinearRegression
>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame({"used": rng.normal(size=500), "unused": rng.normal(size=500)})
>>> y = 3 * x["used"] + rng.normal(scale=0.1, size=500)
>>> imp = permutation_importance(LinearRegression().fit(x, y), x, y, "r2", seed=0)
>>> imp["used"] > 1.0, abs(imp["unused"]) < 0.01
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from driftd.errors import EvaluationError
from driftd.evaluate.scoring import CachedModel, check_holdout, full_score, get_scorer

if TYPE_CHECKING:
    import pandas as pd

REPEATS = 5
MAX_ROWS = 5_000  # permuting more rows changes the estimate little and costs linearly


def permutation_importance(
    model: Any,
    x: pd.DataFrame,
    y: Any,
    scorer: str,
    *,
    seed: int = 0,
    repeats: int = REPEATS,
    features: Sequence[str] | None = None,
) -> dict[str, float]:
    """Mean drop of ``scorer`` per shuffled feature (in the scorer's units)."""
    y = check_holdout(x, y)
    rng = np.random.default_rng(seed)
    if len(x) > MAX_ROWS:
        keep = np.sort(rng.choice(len(x), size=MAX_ROWS, replace=False))
        x, y = x.iloc[keep].reset_index(drop=True), y[keep]
    fn = get_scorer(scorer)
    base = full_score(scorer, fn, CachedModel(model, x, "champion"), y)
    out: dict[str, float] = {}
    for name in features if features is not None else list(x.columns):
        if name not in x.columns:
            raise EvaluationError(f"importance: the holdout lacks feature {name!r}")
        drops = []
        shuffled = x.copy()
        column = x[name]
        for _ in range(repeats):
            # Shuffled as a Series: a categorical column stays categorical (a model that reads
            # dtypes, such as HistGradientBoosting's from_dtype, must see the same columns).
            shuffled[name] = column.iloc[rng.permutation(len(column))].set_axis(x.index)
            drops.append(base - full_score(scorer, fn, CachedModel(model, shuffled, "champion"), y))
        out[name] = float(np.mean(drops))
    return out


def weights(importances: dict[str, float]) -> dict[str, float]:
    """Non-negative shares of the total importance; empty when nothing matters measurably.

    >>> weights({"a": 3.0, "b": 1.0, "c": -0.5})
    {'a': 0.75, 'b': 0.25, 'c': 0.0}
    >>> weights({"a": 0.0})
    {}
    """
    clipped = {k: max(0.0, v) for k, v in importances.items()}
    total = sum(clipped.values())
    if total <= 0.0:
        return {}
    return {k: v / total for k, v in clipped.items()}
