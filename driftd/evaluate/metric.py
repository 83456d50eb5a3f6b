"""A scikit-learn scorer name as a metric of predictions, for any model with ``predict``.

A scorer object called on an estimator (``get_scorer(name)(model, x, y)``) first asks
scikit-learn whether the model is a classifier (``is_classifier`` reads ``__sklearn_tags__``),
so a model from another library, or a plain class with ``predict``, fails before it is scored.
driftd keeps the scorer's definition (metric function, sign, keyword arguments, response
method) and does the rest itself: it calls the model's method once, turns the output into what
the metric function expects exactly as scikit-learn's ``_get_response_values`` does, and calls
the ``sklearn.metrics`` function on the predictions.

The rules, scikit-learn's:

- the response method is the scorer's (``roc_auc`` takes ``decision_function``, else
  ``predict_proba``; the first one the model has);
- a model with a non-empty ``classes_`` is a classifier; a model without one that must give
  probabilities or decision values is treated as a classifier of the holdout's sorted labels
  (what ``classes_`` would be for a scikit-learn classifier fitted on them);
- binary ``predict_proba`` keeps the positive class's column (the scorer's ``pos_label``, else
  the last class), and a binary ``decision_function`` is negated when the positive label is the
  first class.

>>> import numpy as np
>>> class Threshold:  # not a scikit-learn estimator: no tags, no get_params
...     def predict(self, x):
...         return (np.asarray(x)[:, 0] > 0.5).astype(int)
>>> x, y = np.array([[0.1], [0.7], [0.9], [0.2]]), np.array([0, 1, 0, 0])
>>> m = Metric.named("accuracy")
>>> m.value(y, m.response(lambda method: getattr(Threshold(), method)(x), ("predict",), None, y))
0.75
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftd.errors import EvaluationError

Outputs = Callable[[str], np.ndarray]


@dataclass(frozen=True, slots=True)
class Metric:
    """One scorer's definition: ``sign * function(y_true, y_pred, **kwargs)``."""

    name: str
    function: Callable[..., Any]
    sign: float
    kwargs: dict[str, Any]
    methods: tuple[str, ...]  # the response methods, in the scorer's order of preference
    pos_label: Any

    @classmethod
    def named(cls, name: str) -> Metric:
        """The metric behind scikit-learn's scorer ``name``; EvaluationError if it has none."""
        from sklearn.metrics import get_scorer

        scorer = get_scorer(name)
        try:
            # Private attributes of scikit-learn's _Scorer (stable since 1.4, when
            # response_method replaced needs_proba); tests/test_any_model.py checks every
            # scorer name against the scorer itself, so a change upstream fails there first.
            function = scorer._score_func
            sign = float(scorer._sign)
            kwargs = dict(scorer._kwargs or {})
            wanted = scorer._response_method
            pos_label = scorer._get_pos_label()
        except AttributeError:
            raise EvaluationError(
                f"scorer {name!r}: this scikit-learn version's scorer has no metric function "
                "driftd can call on predictions"
            ) from None
        methods = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        return cls(name, function, sign, kwargs, methods, pos_label)

    def method_for(self, available: Sequence[str]) -> str:
        """The first of the scorer's response methods that the model has."""
        for method in self.methods:
            if method in available:
                return method
        has = ", ".join(available) or "none of predict, predict_proba, decision_function"
        raise EvaluationError(
            f"{self.name} needs a model with {' or '.join(self.methods)} (it has {has})"
        )

    def response(
        self, outputs: Outputs, available: Sequence[str], classes: Any, y: np.ndarray
    ) -> np.ndarray:
        """What the metric function takes as ``y_pred``, from the model's outputs on all rows."""
        method = self.method_for(available)
        raw = outputs(method)
        if method == "predict":
            if classes is not None and len(classes) >= 2:
                self._positive(classes)  # scikit-learn refuses a pos_label that is no class
            return raw
        labels = np.unique(y) if classes is None or len(classes) == 0 else np.asarray(classes)
        if len(labels) != 2:
            return raw
        positive = self._positive(labels)
        if method == "predict_proba":
            if raw.ndim != 2 or raw.shape[1] != 2:
                raise EvaluationError(
                    f"{self.name}: predict_proba gave shape {raw.shape} for two classes"
                )
            column: np.ndarray = raw[:, int(np.flatnonzero(labels == positive)[0])]
            return column
        flipped: np.ndarray = -raw if positive == labels[0] and raw.ndim == 1 else raw
        return flipped

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return self.sign * float(self.function(y_true, y_pred, **self.kwargs))

    def _positive(self, labels: np.ndarray) -> Any:
        if self.pos_label is None:
            return labels[-1]
        if self.pos_label not in labels.tolist():
            raise EvaluationError(
                f"{self.name}: pos_label={self.pos_label!r} is not one of the model's classes "
                f"{labels.tolist()} (use a *_macro or *_weighted scorer, or 0/1 labels)"
            )
        return self.pos_label
