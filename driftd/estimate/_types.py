"""What an estimate is, and the pieces both estimators share: the band and the model's outputs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from driftd.errors import EvaluationError

LEVEL = 0.95  # the band's nominal coverage
_Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimated metric on a window of unlabelled rows.

    ``low``..``high`` is a ``LEVEL`` band for the value the metric will have once the window's
    labels arrive, when only the inputs moved (P(y | x) unchanged). ``reference_value`` is the
    champion's realised value on its own holdout, the baseline a drop is measured from.
    ``higher_is_better`` is False for error metrics (MAE, RMSE).

    >>> e = Estimate("accuracy", 0.87, 0.85, 0.89, 2000, 0.9, "cbpe")
    >>> round(e.change, 3), e.text()
    (0.03, 'accuracy 0.870 (95% band 0.850..0.890) vs 0.900 on the holdout')
    >>> Estimate("mae", 1.2, 1.1, 1.3, 50, 1.0, "dle", higher_is_better=False).change
    0.19999999999999996
    """

    metric: str
    value: float
    low: float
    high: float
    n_rows: int
    reference_value: float
    method: str  # cbpe or dle
    higher_is_better: bool = True

    @property
    def change(self) -> float:
        """How much worse than on the holdout: an absolute drop for scores (accuracy, ROC AUC,
        F1), a relative rise for errors (MAE, RMSE), so one threshold reads the same way for
        models whose targets have different units."""
        if self.higher_is_better:
            return self.reference_value - self.value
        if self.reference_value <= 0:
            return math.inf if self.value > 0 else 0.0
        return (self.value - self.reference_value) / self.reference_value

    def text(self) -> str:
        pct = round(LEVEL * 100)
        return (
            f"{self.metric} {self.value:.3f} ({pct}% band {self.low:.3f}..{self.high:.3f}) "
            f"vs {self.reference_value:.3f} on the holdout"
        )


def band(
    value: float, sampling_sd: float, model_sd: float, lo: float = -math.inf, hi: float = math.inf
) -> tuple[float, float]:
    """A normal band from two independent sources of error, clipped to the metric's range.

    ``sampling_sd``: how far the realised value strays from its expectation on this many rows;
    ``model_sd``: how far the expectation itself is off because the estimator was fitted on a
    finite holdout.

    >>> band(0.8, 0.03, 0.04, 0.0, 0.85)  # 0.8 +- 1.96 * 0.05, clipped
    (0.702001800773, 0.85)
    """
    half = _Z * math.hypot(sampling_sd, model_sd)
    return round(max(lo, value - half), 12), round(min(hi, value + half), 12)


def predictions(model: Any, x: Any, method: str) -> np.ndarray:
    """``model.method(x)`` as an array; EvaluationError in one line when it fails."""
    try:
        return np.asarray(getattr(model, method)(x))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise EvaluationError(
            f"the champion failed in {method}: {type(exc).__name__}: {first}"
        ) from None


def check_rows(x: Any, y: Any, least: int) -> np.ndarray:
    """The holdout labels as an array, checked against ``x``; EvaluationError if unusable."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(x):
        raise EvaluationError(f"holdout has {len(x)} feature rows but labels of {labels.shape}")
    if len(labels) < least:
        raise EvaluationError(f"holdout has {len(labels)} rows, fewer than {least}")
    return labels
