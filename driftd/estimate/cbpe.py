"""Confidence-based performance estimation (CBPE) for classifiers.

On the champion's holdout, a calibration map learns P(y = positive | score) (binary) or
P(prediction correct | confidence) (multiclass, "top-label" calibration). On live rows, the
calibrated probabilities are the expected confusion matrix: estimated accuracy is the mean
probability that each prediction is right; for binary models ROC AUC and F1 follow from treating
each row as ``q`` of a positive and ``1 - q`` of a negative.

The score is ``predict_proba`` (the predicted class's probability, or the positive class's for
binary models), else ``decision_function`` (binary: the decision value; multiclass: the margin
of the predicted class over the runner-up). Calibration makes either usable.

It assumes that P(y | score) is the same on live rows as on the holdout: true under covariate
shift for a model whose score orders rows as the truth does, false under concept drift, where
the estimate keeps reporting the old performance (README, "Estimated performance").

>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame({"a": rng.normal(size=3000)})
>>> y = rng.random(3000) < 1 / (1 + np.exp(-2 * x["a"]))
>>> model = LogisticRegression().fit(x[:1000], y[:1000])
>>> est = fit(model, x[1000:2000], y[1000:2000])
>>> shifted = x[2000:][x["a"][2000:] > 0]  # covariate shift: only positive a
>>> got = est.estimate(shifted)[0]
>>> realised = (model.predict(shifted) == y[2000:][x["a"][2000:] > 0]).mean()
>>> got.metric, bool(abs(got.value - realised) < 0.03), got.low < got.value < got.high
('accuracy', True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from driftd.errors import EvaluationError
from driftd.estimate._types import Estimate, band, check_rows, predictions

CALIBRATIONS = ("isotonic", "sigmoid")
_MODEL_RESAMPLES = 30  # calibrators on bootstrap resamples of the holdout: the model's error
_SIMULATIONS = 200  # label draws for the sampling spread of ROC AUC and F1
# The spreads (bootstrap calibrators, label draws) are measured on at most this many live rows,
# then scaled to the window's size: they do not depend on which rows, and a 1M-row window
# would otherwise cost 30 sorts and a 200 x 1M draw matrix per check.
_SPREAD_ROWS = 20_000
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class ClassifierEstimator:
    model: Any
    classes: tuple[Any, ...]
    method: str  # predict_proba or decision_function
    calibration: str  # isotonic or sigmoid
    calibrator: Any  # fitted on the whole holdout
    resampled: tuple[Any, ...]  # fitted on bootstrap resamples of it
    reference: dict[str, float]  # the champion's realised metrics on the holdout
    n_holdout: int
    seed: int = 0

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def estimate(self, x: Any) -> tuple[Estimate, ...]:
        """Accuracy (then ROC AUC and F1 for a binary model) on ``x``, primary first."""
        if len(x) == 0:
            raise EvaluationError("no live rows to estimate on")
        t, positive = _scores(self.model, x, self.classes, self.method)
        q = _probability(self.calibrator, t)
        metrics = _metrics(t, q, positive)
        rows = np.random.default_rng(self.seed).permutation(len(t))[:_SPREAD_ROWS]
        ts, ps = t[rows], None if positive is None else positive[rows]
        spreads = np.array(
            [list(_metrics(ts, _probability(c, ts), ps).values()) for c in self.resampled]
        )
        model_sd = dict(zip(metrics, np.nanstd(spreads, axis=0, ddof=1), strict=True))
        # Sampling noise shrinks as 1/sqrt(rows): measured on the subsample, scaled to all.
        scale = np.sqrt(len(rows) / len(t))
        sampling = _sampling_sd(ts, q[rows], ps, self.seed)
        sampling = {k: v * scale for k, v in sampling.items()}
        out = []
        for name, value in metrics.items():
            if not np.isfinite(value):
                continue
            low, high = band(value, sampling[name], float(model_sd[name]), 0.0, 1.0)
            ref = self.reference.get(name, float("nan"))
            out.append(Estimate(name, value, low, high, len(x), ref, "cbpe"))
        return tuple(out)


def fit(
    model: Any, x: Any, y: Any, *, calibration: str = "isotonic", seed: int = 0
) -> ClassifierEstimator:
    """Calibrate ``model``'s scores on its holdout ``x``, ``y``; EvaluationError if it cannot.

    Isotonic by default: it follows any monotone distortion of the scores, where Platt's sigmoid
    (``"sigmoid"``) assumes one shape. Measured (``bench/estimate.py``): for a misspecified
    model under shift, sigmoid's error reached 0.05-0.07 accuracy against isotonic's 0.03-0.04;
    for a well-specified logistic model sigmoid was better by only ~0.002 on average.
    """
    if calibration not in CALIBRATIONS:
        raise EvaluationError(f"calibration must be one of {CALIBRATIONS} (got {calibration!r})")
    labels = check_rows(x, y, least=20)
    classes = tuple(getattr(model, "classes_", ()))
    if len(classes) < 2:
        raise EvaluationError("the champion has no classes_: not a fitted classifier")
    method = next(
        (m for m in ("predict_proba", "decision_function") if callable(getattr(model, m, None))),
        None,
    )
    if method is None:
        raise EvaluationError(
            "the champion has neither predict_proba nor decision_function: "
            "no confidence to estimate its performance from"
        )
    t, positive = _scores(model, x, classes, method)
    predicted = predictions(model, x, "predict")
    correct = predicted == labels
    target = labels == classes[1] if positive is not None else correct
    if target.all() or not target.any():
        what = "class" if positive is not None else "outcome (all right or all wrong)"
        raise EvaluationError(f"the holdout has one {what} only: nothing to calibrate on")
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(_MODEL_RESAMPLES):
        rows = rng.integers(0, len(t), len(t))
        if 0 < target[rows].sum() < len(rows):
            resampled.append(_calibrate(t[rows], target[rows], calibration))
    if len(resampled) < _MODEL_RESAMPLES // 2:
        raise EvaluationError(
            f"the holdout's {len(t)} rows are too one-sided to calibrate on "
            f"({int(target.sum())} of one outcome)"
        )
    reference = {"accuracy": float(correct.mean())}
    if positive is not None:
        reference["roc_auc"] = _auc(t, target)
        tp = float((positive & target).sum())
        reference["f1"] = 2 * tp / (positive.sum() + target.sum())
    return ClassifierEstimator(
        model,
        classes,
        method,
        calibration,
        _calibrate(t, target, calibration),
        tuple(resampled),
        reference,
        len(t),
        seed,
    )


def _scores(model: Any, x: Any, classes: tuple[Any, ...], method: str) -> tuple[Any, Any]:
    """(score to calibrate, predicted-positive mask for binary models else None)."""
    raw = predictions(model, x, method).astype(np.float64)
    predicted = predictions(model, x, "predict")
    if len(classes) == 2:
        score = raw[:, 1] if raw.ndim == 2 else raw
        t = _logit(score) if method == "predict_proba" else score
        return t, predicted == classes[1]
    index = {c: i for i, c in enumerate(classes)}
    column = np.array([index.get(p, 0) for p in predicted.tolist()])
    rows = np.arange(len(column))
    own = raw[rows, column]
    if method == "predict_proba":
        return _logit(own), None
    others = raw.copy()
    others[rows, column] = -np.inf
    return own - others.max(axis=1), None  # the margin over the runner-up


def _logit(p: Any) -> Any:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _calibrate(t: Any, target: Any, calibration: str) -> Any:
    if calibration == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(t, target)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1e4).fit(t.reshape(-1, 1), target)


def _probability(calibrator: Any, t: Any) -> Any:
    if hasattr(calibrator, "predict_proba"):
        return calibrator.predict_proba(t.reshape(-1, 1))[:, 1]
    return np.asarray(calibrator.predict(t), dtype=np.float64)


def _metrics(t: Any, q: Any, positive: Any) -> dict[str, float]:
    """Expected accuracy (and ROC AUC, F1 for binary) from calibrated probabilities ``q``."""
    if positive is None:
        return {"accuracy": float(q.mean())}
    correct = np.where(positive, q, 1 - q)
    f1_den = positive.sum() + q.sum()
    return {
        "accuracy": float(correct.mean()),
        "roc_auc": expected_auc(t, q),
        "f1": float(2 * q[positive].sum() / f1_den) if f1_den > 0 else float("nan"),
    }


def expected_auc(score: Any, q: Any) -> float:
    """E[concordant pairs] / E[positive-negative pairs] when row i is positive with prob. q_i.

    >>> round(expected_auc(np.array([0.1, 0.4, 0.9]), np.array([0.0, 1.0, 1.0])), 6)
    1.0
    """
    order = np.argsort(score, kind="mergesort")
    s, p = score[order], q[order]
    _, start = np.unique(s, return_index=True)
    pos, neg = np.add.reduceat(p, start), np.add.reduceat(1 - p, start)
    below = np.cumsum(neg) - neg
    self_pairs = float(np.sum(p * (1 - p)))  # a row cannot pair with itself
    pairs = float(np.sum(pos * below)) + 0.5 * (float(np.sum(pos * neg)) - self_pairs)
    total = float(p.sum() * (1 - p).sum()) - self_pairs
    return pairs / total if total > 0 else float("nan")


def _ranks(score: Any) -> Any:
    """Average ranks (1-based), ties sharing their mean rank."""
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2)[inverse]


def _auc(score: Any, target: Any) -> float:
    n1 = int(target.sum())
    n0 = len(target) - n1
    return float((_ranks(score)[target].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _sampling_sd(t: Any, q: Any, positive: Any, seed: int) -> dict[str, float]:
    """How far each realised metric strays from its expectation, labels drawn from ``q``."""
    n = len(q)
    correct = q if positive is None else np.where(positive, q, 1 - q)
    out = {"accuracy": float(np.sqrt(np.sum(correct * (1 - correct))) / n)}
    if positive is None:
        return out
    labels = np.random.default_rng(seed).random((_SIMULATIONS, n), dtype=np.float32) < q
    n1 = labels.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (labels @ _ranks(t) - n1 * (n1 + 1) / 2) / (n1 * (n - n1))
        f1 = 2 * (labels @ positive.astype(np.float64)) / (positive.sum() + n1)
    out["roc_auc"] = float(np.nanstd(auc, ddof=1))
    out["f1"] = float(np.nanstd(f1, ddof=1))
    return out
