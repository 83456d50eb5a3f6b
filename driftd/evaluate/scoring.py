"""Scoring by scikit-learn scorer names on outputs computed once per model.

:class:`CachedModel` holds a model and one holdout; each of ``predict`` / ``predict_proba`` /
``decision_function`` runs once on the whole holdout, and a metric
(:class:`~driftd.evaluate.metric.Metric`, the scorer's metric function applied to predictions)
is then computed on any resample of the rows without predicting again. Nothing here asks
scikit-learn about the model itself, so any object with ``predict`` can be scored.
"""

from __future__ import annotations

import difflib
import pickle
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from driftd.errors import EvaluationError
from driftd.evaluate.metric import Metric

if TYPE_CHECKING:
    import pandas as pd

LATENCY = "latency_ms_per_1k"
SIZE = "model_size_bytes"
BUILTIN = (LATENCY, SIZE)
_METHODS = ("predict", "predict_proba", "decision_function")


def check_scorer(name: str) -> str | None:
    """Why ``name`` is not a scikit-learn scorer name, or None when it is.

    >>> check_scorer("roc_auc") is None
    True
    >>> check_scorer("roc-auc")
    "unknown scikit-learn scorer 'roc-auc' (did you mean roc_auc?)"
    """
    from sklearn.metrics import get_scorer_names

    names = list(get_scorer_names())
    if name in names:
        return None
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown scikit-learn scorer {name!r}{hint}"


class CachedModel:
    """A fitted model's outputs on one holdout, each method computed once."""

    def __init__(self, model: Any, x: pd.DataFrame, who: str) -> None:
        self.model = model
        self.x = x
        self.who = who
        self.cache: dict[str, np.ndarray] = {}
        self.responses: dict[str, np.ndarray] = {}
        classes = getattr(model, "classes_", None)
        self.classes: np.ndarray | None = None if classes is None else np.asarray(classes)
        self.methods = tuple(m for m in _METHODS if callable(getattr(model, m, None)))

    def has(self, method: str) -> bool:
        return method in self.methods

    def outputs(self, method: str) -> np.ndarray:
        """The model's ``method`` on the whole holdout, computed once."""
        if method not in self.cache:
            try:
                self.cache[method] = np.asarray(getattr(self.model, method)(self.x))
            except Exception as exc:
                raise EvaluationError(
                    f"the {self.who} failed in {method} on the holdout: {_one_line(exc)}"
                ) from None
            if self.cache[method].shape[:1] != (len(self.x),):
                raise EvaluationError(
                    f"the {self.who}'s {method} returned shape {self.cache[method].shape} "
                    f"for {len(self.x)} holdout rows"
                )
        return self.cache[method]

    def response(self, metric: Metric, y: np.ndarray) -> np.ndarray:
        """``metric``'s ``y_pred`` on the whole holdout (``y`` is the holdout's labels)."""
        if metric.name not in self.responses:
            self.responses[metric.name] = metric.response(
                self.outputs, self.methods, self.classes, y
            )
        return self.responses[metric.name]


def scorer_value(metric: Metric, cached: CachedModel, rows: np.ndarray, y: np.ndarray) -> float:
    """One metric on ``rows`` of the holdout, with scikit-learn's warnings silenced."""
    y_pred = cached.response(metric, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return metric.value(y[rows], y_pred[rows])


def resample_value(metric: Metric, cached: CachedModel, rows: np.ndarray, y: np.ndarray) -> float:
    """:func:`scorer_value` on a bootstrap resample: NaN where the metric is undefined there."""
    try:
        return scorer_value(metric, cached, rows, y)
    except EvaluationError:
        raise
    except (ValueError, ZeroDivisionError, IndexError):
        return float("nan")


def full_score(name: str, metric: Metric, cached: CachedModel, y: np.ndarray) -> float:
    """The metric on the whole holdout; EvaluationError in one line when it cannot be had."""
    rows = np.arange(len(y))
    why = ""
    try:
        value = scorer_value(metric, cached, rows, y)
    except EvaluationError:
        raise
    except Exception as exc:
        value, why = float("nan"), _one_line(exc)
    if np.isfinite(value):
        return value
    classes = np.unique(y)
    if len(classes) < 2:
        raise EvaluationError(
            f"{name}: undefined when the holdout has one class only "
            f"({classes.tolist()[0]!r} in all {len(y)} rows)"
        )
    raise EvaluationError(f"{name}: cannot score the {cached.who}: {why or f'value is {value}'}")


def get_scorer(name: str) -> Metric:
    """The metric behind a scikit-learn scorer name; EvaluationError for an unknown name."""
    problem = check_scorer(name)
    if problem:
        raise EvaluationError(problem)
    return Metric.named(name)


def latency_ms_per_1k(model: Any, x: pd.DataFrame, repeats: int = 3) -> float:
    """Best-of-``repeats`` wall time of ``predict`` on the holdout, in ms per 1000 rows."""
    return min(_time_predict(model, x) for _ in range(repeats)) * 1e6 / max(len(x), 1)


def _time_predict(model: Any, x: pd.DataFrame) -> float:
    started = time.perf_counter()
    model.predict(x)
    return time.perf_counter() - started


def pickled_size(model: Any) -> int:
    """Bytes of the model pickled in memory: the size when no artifact size is known.

    Dumping only serialises; unlike loading, it executes nothing foreign.
    """
    return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def check_holdout(x: pd.DataFrame, labels: Any) -> np.ndarray:
    y: np.ndarray = np.asarray(labels)
    if y.ndim != 1:
        raise EvaluationError(f"holdout labels must be one column (got shape {y.shape})")
    if len(x) != len(y):
        raise EvaluationError(f"holdout has {len(x)} feature rows but {len(y)} labels")
    if len(y) == 0:
        raise EvaluationError("the holdout has no rows")
    import pandas as pd

    missing = int(pd.isna(y).sum())
    if missing:
        raise EvaluationError(f"holdout labels: {missing} missing value(s)")
    return y


def score(model: Any, x: pd.DataFrame, y: Any, scorers: Sequence[str]) -> dict[str, float]:
    """Plain metric values for one model (the first model of a name has nothing to beat).

    Names are scikit-learn scorer names, plus ``latency_ms_per_1k`` and ``model_size_bytes``
    (pickled size in memory here).
    """
    y = check_holdout(x, y)
    cached = CachedModel(model, x, "model")
    out: dict[str, float] = {}
    for name in scorers:
        if name == LATENCY:
            out[name] = latency_ms_per_1k(model, x)
        elif name == SIZE:
            out[name] = float(pickled_size(model))
        else:
            out[name] = full_score(name, get_scorer(name), cached, y)
    return out


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
