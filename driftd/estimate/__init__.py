"""Performance estimation without labels: how well is the champion doing on the live window?

Two estimators, both fitted once per champion on its own holdout (the rows it was evaluated on
at promotion, which it never trained on):

- classifiers, :mod:`.cbpe` (confidence-based performance estimation): calibrate the champion's
  scores on the holdout, then the expected confusion matrix on live rows gives accuracy, and for
  binary models ROC AUC and F1;
- regressors, :mod:`.dle` (direct loss estimation): a model of the champion's absolute (and
  squared) error on the holdout, cross-fitted, gives MAE and RMSE.

Public API: :func:`fit_estimator`, :func:`estimate`, :class:`Estimate`,
:data:`PerformanceEstimator`. Each estimate has a 95 % band for the value the metric will take
once the window's labels arrive, and the champion's realised value on its holdout to compare
with. Both are valid under covariate shift only (P(y | x) unchanged); under concept drift they
keep reporting yesterday's performance. scikit-learn is imported lazily, inside the fits.
"""

from __future__ import annotations

from typing import Any

from driftd.estimate._types import LEVEL, Estimate
from driftd.estimate.cbpe import ClassifierEstimator
from driftd.estimate.dle import RegressorEstimator

PerformanceEstimator = ClassifierEstimator | RegressorEstimator

__all__ = [
    "LEVEL",
    "ClassifierEstimator",
    "Estimate",
    "PerformanceEstimator",
    "RegressorEstimator",
    "estimate",
    "fit_estimator",
    "is_classifier",
]


def is_classifier(model: Any) -> bool:
    """A fitted model with ``classes_`` is a classifier; anything else is treated as a regressor.

    >>> from sklearn.linear_model import LinearRegression, LogisticRegression
    >>> is_classifier(LogisticRegression().fit([[0], [1]], [0, 1]))
    True
    >>> is_classifier(LinearRegression().fit([[0], [1]], [0, 1]))
    False
    """
    return len(getattr(model, "classes_", ())) > 0


def fit_estimator(
    champion: Any, holdout_x: Any, holdout_y: Any, *, calibration: str = "isotonic", seed: int = 0
) -> PerformanceEstimator:
    """CBPE for a classifier, DLE for a regressor; EvaluationError in one line if neither fits."""
    from driftd.estimate import cbpe, dle

    if is_classifier(champion):
        return cbpe.fit(champion, holdout_x, holdout_y, calibration=calibration, seed=seed)
    return dle.fit(champion, holdout_x, holdout_y, seed=seed)


def estimate(estimator: PerformanceEstimator, live_x: Any) -> tuple[Estimate, ...]:
    """The estimated metrics on ``live_x``, the primary one (accuracy, or MAE) first."""
    return estimator.estimate(live_x)
