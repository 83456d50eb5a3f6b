"""Scoring with scikit-learn scorers on outputs computed once per model.

:class:`CachedModel` stands in for a fitted model when a scorer is called: its ``X`` is an array
of holdout row indices, and ``predict`` / ``predict_proba`` / ``decision_function`` return the
rows of the model's output on the whole holdout, computed on first use. A scorer then runs its
usual code (the same response method, positive-label handling and score function as when
called on the model itself) for each bootstrap resample without predicting again.
"""

from __future__ import annotations

import difflib
import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from driftd.errors import EvaluationError

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
    """A fitted model's outputs on one holdout, served by row index to scikit-learn scorers."""

    def __init__(self, model: Any, x: pd.DataFrame, who: str) -> None:
        self.model = model
        self.x = x
        self.who = who
        self.cache: dict[str, np.ndarray] = {}
        if hasattr(model, "classes_"):
            self.classes_ = model.classes_
        for method in _METHODS:
            if callable(getattr(model, method, None)):
                setattr(self, method, self._server(method))

    def _server(self, method: str) -> Callable[[np.ndarray], np.ndarray]:
        def serve(rows: np.ndarray) -> np.ndarray:
            served: np.ndarray = self.outputs(method)[rows]
            return served

        serve.__name__ = method  # scikit-learn dispatches on the method's name
        return serve

    def outputs(self, method: str) -> np.ndarray:
        """The model's ``method`` on the whole holdout, computed once."""
        if method not in self.cache:
            try:
                self.cache[method] = np.asarray(getattr(self.model, method)(self.x))
            except Exception as exc:
                raise EvaluationError(
                    f"the {self.who} failed in {method} on the holdout: {_one_line(exc)}"
                ) from None
        return self.cache[method]

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import get_tags

        return get_tags(self.model)


def scorer_value(scorer: Any, cached: CachedModel, rows: np.ndarray, y: np.ndarray) -> float:
    """One scorer on ``rows`` of the holdout, with scikit-learn's warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(scorer(cached, rows, y[rows]))


def resample_value(scorer: Any, cached: CachedModel, rows: np.ndarray, y: np.ndarray) -> float:
    """:func:`scorer_value` on a bootstrap resample: NaN where the metric is undefined there."""
    try:
        return scorer_value(scorer, cached, rows, y)
    except EvaluationError:
        raise
    except (ValueError, ZeroDivisionError, IndexError):
        return float("nan")


def full_score(name: str, scorer: Any, cached: CachedModel, y: np.ndarray) -> float:
    """The metric on the whole holdout; EvaluationError in one line when it cannot be had."""
    rows = np.arange(len(y))
    why = ""
    try:
        value = scorer_value(scorer, cached, rows, y)
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


def get_scorer(name: str) -> Any:
    from sklearn.metrics import get_scorer as sk_get_scorer

    problem = check_scorer(name)
    if problem:
        raise EvaluationError(problem)
    return sk_get_scorer(name)


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
